#pragma once

// The routes of a cluster client as its callers read them: an immutable table
// of the candidates of each namespace and the links to their servers, made by
// the dispatcher after each change of membership or routing state and
// published on a board. A caller reads the current table without a message
// and, for a built-in grouping, chooses its server in its own thread
// (docs/architecture.md, "The path of a cluster call").

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "slacker/actors/detail/in_flight.hpp"
#include "slacker/actors/interfaces.hpp"
#include "slacker/messages/membership.hpp"
#include "slacker/policy/grouping.hpp"

namespace slacker::metrics {
struct peer_counts;
} // namespace slacker::metrics

namespace slacker::accrual {
struct health;
} // namespace slacker::accrual

namespace slacker {

class blocking_lane;

/// One server of the cluster, as a caller reaches it: its connection broker
/// (calls from actors) and its blocking lane (blocking calls from plain
/// code), with the counts they share.
struct route_server {
  std::string addr;
  connection_actor_type conn;
  /// Calls of this client in flight there, by either path.
  std::shared_ptr<in_flight_count> in_flight;
  /// Its health by either path (accrual.hpp: timeouts in a row, latency).
  std::shared_ptr<accrual::health> health;
  std::shared_ptr<blocking_lane> lane;          // null: no lane (tests' links)
  std::shared_ptr<metrics::peer_counts> counts; // null: not counted
};

/// The routes of one namespace.
struct route_entry {
  grouping_view view; // the candidates, as the dispatcher's groupings see them
  std::vector<std::shared_ptr<route_server>> servers; // by index of `view.servers`
  std::set<std::string> idempotent;                   // functions declared so
  /// True when a caller may choose here: the dispatcher knows the
  /// namespace's declarations and has no suspect server of it to probe.
  bool direct = false;
};

/// A snapshot of the routes (never changed once published).
struct route_table {
  bool open = false; // the view is current (ZooKeeper connected)
  std::unordered_map<std::string, route_entry> namespaces;
};

/// Where a dispatcher publishes its routes and callers read them. Reading
/// costs one atomic load while the table is unchanged (each thread keeps the
/// last table it read).
class route_board {
public:
  route_board();

  /// The current table (never null): the calling thread's copy, which
  /// stays valid until this thread's next `read` (no count of references
  /// shared between threads on the way of every call).
  const std::shared_ptr<const route_table>& read() const;

  void publish(std::shared_ptr<const route_table> table);

  /// Calls that did not pass the dispatcher since it last took them (for its
  /// retry budget).
  std::atomic<uint64_t> calls{0};
  /// The turn of round-robin for callers that choose themselves.
  std::atomic<uint64_t> turn{0};
  /// True once a grouping of the dispatcher wants each call's outcome.
  std::shared_ptr<std::atomic<bool>> feedback;
  /// Timeouts in a row that make a server suspect (`slacker.failure-accrual`).
  uint32_t accrual = 3;

  /// The membership as the dispatcher saw it at its last change, and when
  /// its view was last known current: what the status portal shows,
  /// read without asking the dispatcher (published while metrics are on).
  struct seen {
    membership_view view;
    std::chrono::steady_clock::time_point current_at;
  };

  /// The last view published (null: none yet).
  std::shared_ptr<const seen> view() const;

  void publish_view(std::shared_ptr<const seen> view);

private:
  uint64_t id_;
  std::atomic<uint64_t> version_{0};
  std::shared_ptr<const route_table> table_;
  std::shared_ptr<const seen> view_;
};

/// What a built-in grouping picks among a namespace's candidates: every one
/// (`all` over two or more), or one, by its index in `route_entry::servers`.
struct route_pick {
  bool every = false;
  std::optional<size_t> one;
};

/// The servers a built-in grouping `kind` picks among `e`'s candidates, in
/// the calling thread (the same functions the dispatcher's groupings use); a
/// server a call waits on without hearing from is left out when another is
/// there (`accrual::quiet`).
route_pick pick_index(const route_entry& e, grouping_kind kind, route_board& board);

} // namespace slacker
