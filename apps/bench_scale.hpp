#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

/// The scale bench (bench_scale.cpp): one table row per cluster size in
/// `sizes`, with servers started from `self_path --role=server` and a
/// ZooKeeper from `zk_path` (example-zk).
void run_scale(caf::actor_system& sys, const std::string& self_path,
               const std::string& zk_path, const std::vector<size_t>& sizes,
               std::chrono::milliseconds duration);

/// The membership simulation (`bench --membership=S,C`): S light
/// registrations (registrars with made-up ports, no servers) and C watching
/// registries in this process, each with its ZooKeeper session, against a
/// ZooKeeper of its own: ZooKeeper's costs per server and per client, and
/// those costs carried to 1,000 servers and 10,000 clients.
void run_membership(caf::actor_system& sys, const std::string& zk_path, size_t servers,
                    size_t clients);

/// One client process of the scale bench's aperture table (`bench
/// --role=scale-client`): waits for `servers` servers of `cluster`, calls
/// `bench/echo` (random) from 2 threads for `duration`, then prints `client
/// CALLS P50_US P99_US PORT,PORT,...` (the server ports it is connected to).
void scale_client(caf::actor_system& sys, const std::string& zk,
                  const std::string& cluster, size_t servers,
                  std::chrono::milliseconds duration);

/// The idle bench (`bench --idle=N,C`): N bench servers and C client
/// processes (`--role=idle-client`), each a cluster client that made one call
/// to all servers and then waits; their wakeups a second and CPU share over
/// `duration` (3 to 10 s, from 6 s after the last call), and the wakeups of
/// each thread of one of each; `caf_args` (CAF and slacker options) reach every
/// process.
void run_idle(caf::actor_system& sys, const std::string& self_path,
              const std::string& zk_path, size_t servers, size_t clients,
              std::chrono::milliseconds duration,
              const std::vector<std::string>& caf_args);

/// One client process of the idle bench: waits for `servers` servers of
/// `cluster`, calls them all once, prints `idle CONNECTIONS` and waits until
/// its stdin closes.
void idle_client(caf::actor_system& sys, const std::string& zk,
                 const std::string& cluster, size_t servers);
