#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/io/connection_handle.hpp>
#include <caf/io/fwd.hpp>

#include "slacker/actors/detail/inline_cost.hpp"
#include "slacker/actors/namespace.hpp"
#include "slacker/messages/call.hpp"
#include "slacker/runtime/wire_options.hpp"
#include "slacker/runtime/worker_pool.hpp"

namespace slacker {

/// What a server serves, shared by the server (the one writer) and its
/// connection brokers (readers): a table replaced as a whole, so that a
/// reader holds a consistent snapshot without a lock per call.
class catalog {
public:
  struct entry {
    std::shared_ptr<const ns> functions; // null for a user actor
    caf::actor handler;                  // the namespace actor, or the user actor
    std::vector<function_info> infos;
  };
  using table = std::map<std::string, entry>;

  catalog() : table_(std::make_shared<const table>()) {}

  std::shared_ptr<const table> get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return table_;
  }

  /// Changes the table: `f` edits a copy, which then replaces it.
  template <class F> void update(F f) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto copy = std::make_shared<table>(*table_);
    f(*copy);
    table_ = std::move(copy);
    version_.fetch_add(1, std::memory_order_release);
  }

  uint64_t version() const noexcept {
    return version_.load(std::memory_order_acquire);
  }

  /// Draining: the server is stopping. Every connection answers new calls
  /// and messages with `draining` (not run) and finishes what it took.
  void start_draining() noexcept {
    draining_.store(true, std::memory_order_release);
  }

  /// Serving again (a server published anew after `stop`).
  void end_draining() noexcept {
    draining_.store(false, std::memory_order_release);
  }

  bool draining() const noexcept {
    return draining_.load(std::memory_order_relaxed);
  }

  /// What the connections count for the drain: when a call or message last
  /// arrived (steady-clock nanoseconds), and how many they still owe an
  /// answer for (blocking calls and typed messages under way).
  std::atomic<int64_t> last_arrival{0};
  std::atomic<int64_t> owed{0};

  /// What the server-wide budgets count (docs/security.md): bytes the
  /// connections hold for incomplete frames, TLS handshakes under way.
  std::atomic<int64_t> buffered{0};
  std::atomic<int64_t> handshakes{0};

  /// Where calls of non-blocking functions run (`slacker.inline-calls`):
  /// measured per function (`inline_cost`), always inline, or never.
  enum class inline_mode : uint8_t { automatic, always, never };
  inline_mode inlining = inline_mode::automatic;
  /// The pool non-blocking calls go to when they do not run inline.
  std::shared_ptr<worker_pool> pool;
  /// Per function: touched by the connections only, on the network thread.
  std::unordered_map<const function_entry*, inline_cost> costs;

private:
  std::atomic<bool> draining_{false};
  mutable std::mutex mtx_;
  std::shared_ptr<const table> table_;
  std::atomic<uint64_t> version_{1};
};

/// The broker a server listens with: takes the listening socket, forks one
/// `server_connection` per accepted connection (linked to it: stopping the
/// acceptor closes every connection). `(going_away_atom)` stops accepting,
/// starts the catalog's drain and tells every connection's client that this
/// server is going away.
caf::behavior server_acceptor(caf::io::broker* self, caf::io::doorman_ptr door,
                              std::shared_ptr<catalog> cat, wire_options opts,
                              bool log_calls);

/// One accepted connection (docs/protocol.md): reads frames with `at_most`
/// into its own buffer, runs non-blocking functions inline on the network
/// thread, hands blocking ones to their namespace actor (worker pool) and
/// typed messages to the actor serving the namespace, and writes the replies.
caf::behavior server_connection(caf::io::broker* self, caf::io::connection_handle hdl,
                                std::shared_ptr<catalog> cat, wire_options opts,
                                bool log_calls);

} // namespace slacker
