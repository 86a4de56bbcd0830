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
