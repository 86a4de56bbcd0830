#pragma once

// One-shot reads of a cluster in ZooKeeper, for tools (the `slacker` CLI):
// no mirror, no watches; and why ZooKeeper does not answer when it does not.

#include <chrono>
#include <map>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "slacker/registry/options.hpp"

namespace slacker {

/// The metadata (JSON text) of every function registered in a cluster, by
/// namespace and name; only those of namespace `only` when it is not empty
/// (`not_found` when the cluster has none). Opens a session of its own and
/// gives up after `timeout` with `zk_unreachable`'s error (a ZooKeeper that
/// leaves a read unanswered too: the session's timeout follows `timeout`).
caf::expected<std::map<std::string, std::map<std::string, std::string>>>
registered_functions(const zk_options& opts, const std::string& only,
                     std::chrono::milliseconds timeout);

/// Why ZooKeeper at `connect_string` (`host:port[,host:port...][/chroot]`)
/// does not answer: an `unavailable` error naming each host's reason, from a
/// TCP probe (`connection refused`, `timed out after 500 ms`, `it takes
/// connections but opened no ZooKeeper session`, ...), and how long it was
/// waited for (`waited`, when not zero): "ZooKeeper at A not reachable in
/// 3000 ms (A: connection refused)".
caf::error zk_unreachable(const std::string& connect_string,
                          std::chrono::milliseconds waited = {});

} // namespace slacker
