#pragma once

#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>

#include "slacker/runtime/wire_options.hpp"

namespace slacker {

/// Registers every type slacker sends between actors, and slacker's error
/// category. Every app and test goes through this (or through `config`).
void add_message_types(caf::actor_system_config& cfg);

/// The actor system configuration of slacker apps: loads CAF's network
/// module, registers slacker's types, adds slacker's options, and sets the
/// scheduler and middleman defaults measured to be fastest for RPC.
///
/// Options (command line `--slacker.log-level=debug` or `caf-application.ini`):
/// - `slacker.log-level`: trace, debug, info, warn, error, critical or off.
/// - `slacker.worker-threads`: threads of the pool running blocking functions.
/// - `slacker.worker-queue`: how many blocking calls may wait for a thread.
/// - `slacker.log-calls`: servers log one line per call (ns/fn, caller, duration).
/// - `slacker.hot-path`: `network` (default: namespace actors run on the
///   network thread, as brokers: one scheduler hop less per call) or
///   `scheduled` (on CAF's scheduler). Functions marked blocking run on the
///   worker pool either way; others must not block.
/// - `slacker.dispatcher-hot-path`: `network` (default: as a broker on CAF's
///   network thread, beside the connection brokers) or `scheduled`: where the
///   cluster client's dispatcher runs (docs/benchmarks.md has the figures).
/// - `slacker.gather-hot-path`: `network` (default) or `scheduled`: where the
///   gathers of fan-out calls run.
/// - `slacker.blocking-calls`: `lane` (default: a blocking `client::call`,
///   and a blocking cluster call whose built-in grouping the caller runs,
///   does its I/O in the calling thread, on pooled connections of its own)
///   or `broker` (through the connection brokers and the dispatcher).
/// - `slacker.max-message-size`: the largest frame a process takes from the
///   network, in bytes (default 16 MiB); checked before anything is kept.
/// - `slacker.handshake-timeout` (5s), `slacker.idle-timeout` (30s),
///   `slacker.ping-interval` (500ms), `slacker.peer-timeout` (2s),
///   `slacker.min-ping-interval` (400ms),
///   `slacker.connect-timeout` (5s): the timers of the wire protocol
///   (docs/protocol.md).
/// - `slacker.failure-accrual` (3): calls in a row that time out on a server
///   before a cluster client routes around it; `slacker.outlier-latency`
///   (5; 0: off) and `slacker.outlier-min-latency` (10ms): a server whose
///   calls take that many times longer than its peers' (and longer than the
///   minimum) leaves routing too; `slacker.max-ejected` (0.5): the share of
///   servers out at once for either reason; `slacker.overload-backoff`
///   (100ms; 0: never): how long a client passes over a server that answered
///   `overloaded` while another is not so; `slacker.aperture` (12; 0: all):
///   the fewest servers of a namespace a client's one-server groupings
///   choose among, widened by its own load; `slacker.retry-budget` (0.2):
///   the share of a client's recent calls that may be retried or hedged
///   (docs/reliability.md); `slacker.grouping` (random): the grouping of this
///   process's cluster clients when their code sets none (a built-in or a
///   name registered with `grouping::add`).
/// - `slacker.json.max-depth` (256): the deepest JSON nesting decoders accept
///   (process-wide, applied when a server or client starts).
/// - `slacker.tls.certificate`, `slacker.tls.key`, `slacker.tls.ca`: PEM
///   files; with all three, every connection is mutual TLS (docs/security.md).
/// - `slacker.insecure`: a server without TLS also takes peers that are not
///   on loopback (by default it refuses them).
/// - `slacker.manager.token`: the secret manager writes must carry; without
///   one, only callers on loopback may use them.
/// - `slacker.zk.auth`: `user:password` for ZooKeeper digest auth; a server
///   with it owns its cluster's nodes (docs/security.md).
/// - `slacker.metrics`: `HOST:PORT` where servers and cluster clients serve
///   Prometheus metrics (`/metrics`), a health check (`/health`) and the
///   status portal (`/`, `/api/...`); off by default (docs/operations.md).
/// - `slacker.portal.token` (or `$SLACKER_PORTAL_TOKEN`): the portal's pages
///   and `/api` ask for it (`?token=` or `Authorization: Bearer`).
/// The options live in the configuration's settings (read them with
/// `caf::get_or(cfg, "slacker.worker-threads", ...)`, set them with
/// `cfg.set("slacker.worker-threads", 8)`), not in fields of their own.
class config : public caf::actor_system_config {
public:
  config();

  /// The options declared (slacker's and CAF's), for the portal's /config.
  const caf::config_option_set& declared() const noexcept {
    return custom_options_;
  }
};

/// Where a kind of actor runs: on CAF's network thread, as a broker (`network`,
/// the default: one scheduler hop less per call), or on its scheduler
/// (`scheduled`). The one reader of `slacker.hot-path` (namespace actors),
/// `slacker.dispatcher-hot-path` and `slacker.gather-hot-path`.
enum class hot_path { namespaces, dispatcher, gathers };

/// True when `which` runs on the network thread in this configuration.
bool on_network_thread(const caf::actor_system_config& cfg, hot_path which);

/// Rewrites, in place, the short spellings the apps take into slacker's
/// configuration keys: `--tls-cert=F`, `--tls-key=F`, `--tls-ca=F`,
/// `--insecure`, `--manager-token=S`, `--zk-auth=U:P`; and lets the boolean
/// switches `slacker.insecure`, `slacker.log-calls` and `switches` (an app's
/// own) take a value: `--name=true` becomes CAF's flag `--name`,
/// `--name=false` is taken out and turns the switch off (`switch_on`).
void expand_option_aliases(std::vector<std::string>& args,
                           const std::vector<std::string>& switches = {});

/// True when the command line that went through `expand_option_aliases`
/// gave setting `key` (`slacker.worker-threads`), in any spelling.
bool given_on_command_line(const std::string& key);

/// A boolean switch of the configuration: false when the command line said
/// `--name=false` (through `expand_option_aliases`), else its value or
/// `fallback`.
bool switch_on(const caf::actor_system_config& cfg, const std::string& name,
               bool fallback = false);

/// Serves Prometheus /metrics and /health where `slacker.metrics` says
/// (nothing when unset), or says why it cannot: the address taken, not
/// HOST:PORT, not of this host. Programs call it at start to fail early; a
/// server's `publish` and a `registration` fail with the same error.
caf::error start_metrics(const caf::actor_system_config& cfg);

/// Applies `slacker.log-level` from the system's configuration to spdlog.
void configure_logging(const caf::actor_system_config& cfg);

} // namespace slacker
