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

/// One client process of the scale bench's aperture table (`bench
/// --role=scale-client`): waits for `servers` servers of `cluster`, calls
/// `bench/echo` (random) from 2 threads for `duration`, then prints `client
/// CALLS P50_US P99_US PORT,PORT,...` (the server ports it is connected to).
void scale_client(caf::actor_system& sys, const std::string& zk,
                  const std::string& cluster, size_t servers,
                  std::chrono::milliseconds duration);
