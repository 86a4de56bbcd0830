#include "slacker/actors/detail/routes.hpp"

#include <random>

#include "slacker/actors/detail/accrual.hpp"

namespace slacker {

namespace {

/// Boards are told apart by a number never reused (an address may be).
std::atomic<uint64_t> next_board{1};

/// The table this thread read last, from which board and at which version.
struct last_read {
  uint64_t board = 0;
  uint64_t version = 0;
  std::shared_ptr<const route_table> table;
};

thread_local last_read last;

std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

/// `least_in_flight` over the live counts of the links (ties at random).
std::optional<size_t> least_loaded(const route_entry& e) {
  if (e.servers.empty())
    return std::nullopt;
  auto n = e.view.choosable();
  size_t best = SIZE_MAX;
  size_t ties = 0;
  size_t chosen = 0;
  for (size_t k = 0; k < n; ++k) {
    auto i = e.view.nth(k);
    auto load = e.servers[i]->in_flight->load(std::memory_order_relaxed);
    if (load < best) {
      best = load;
      ties = 1;
      chosen = i;
    } else if (load == best &&
               std::uniform_int_distribution<size_t>{0, ties++}(thread_rng()) == 0) {
      chosen = i; // reservoir sampling: each tie equally likely
    }
  }
  return chosen;
}

} // namespace

route_board::route_board()
  : feedback(std::make_shared<std::atomic<bool>>(false)), id_(next_board++),
    table_(std::make_shared<route_table>()) {
  // nop
}

const std::shared_ptr<const route_table>& route_board::read() const {
  auto v = version_.load(std::memory_order_acquire);
  if (last.board == id_ && last.version == v)
    return last.table;
  // Read after the version: a table newer than `v` is kept under `v` and
  // read again next time, never an older one under a newer version.
  last = {id_, v, std::atomic_load(&table_)};
  return last.table;
}

void route_board::publish(std::shared_ptr<const route_table> table) {
  std::atomic_store(&table_, std::move(table));
  version_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const route_board::seen> route_board::view() const {
  return std::atomic_load(&view_);
}

void route_board::publish_view(std::shared_ptr<const seen> view) {
  std::atomic_store(&view_, std::move(view));
}

namespace {

/// The one server the built-in grouping `kind` (not `all`) picks over `e`
/// as it stands: its index in `e.servers`.
std::optional<size_t> pick_one(const route_entry& e, grouping_kind kind,
                               route_board& board) {
  switch (kind) {
    case grouping_kind::random:
      return grouping::random_index(e.view, thread_rng());
    case grouping_kind::first:
      return grouping::first_index(e.view);
    case grouping_kind::leader:
      return grouping::leader_index(e.view);
    case grouping_kind::least_in_flight:
      return least_loaded(e);
    case grouping_kind::weighted:
      return grouping::weighted_index(e.view, thread_rng());
    case grouping_kind::round_robin: {
      auto turn = board.turn.fetch_add(1, std::memory_order_relaxed);
      return grouping::round_robin_index(e.view, turn);
    }
    case grouping_kind::all:
      break;
  }
  return std::nullopt;
}

/// Calls go elsewhere while another server is not so: a call waits on `s`
/// and has heard nothing from it for a ping interval, or it answered a call
/// `overloaded` lately (accrual.hpp).
bool avoided(const route_server& s) {
  return s.health && accrual::avoid(*s.health);
}

} // namespace

route_pick pick_index(const route_entry& e, grouping_kind kind, route_board& board) {
  route_pick out;
  if (kind == grouping_kind::all) {
    if (e.servers.size() == 1)
      out.one = 0; // as any one-server call
    else
      out.every = !e.servers.empty();
    return out;
  }
  out.one = pick_one(e, kind, board);
  if (!out.one || !avoided(*e.servers[*out.one]))
    return out;
  // Picked a server that may be gone (cut off, frozen) and is not known so
  // yet, or that sheds load: the grouping chooses again among the others, as
  // a resend does; the same server when every other is so too, or when the
  // grouping has no other to give (the leader).
  route_entry heard;
  heard.view.ns = e.view.ns;
  heard.view.leader = e.view.leader;
  std::vector<size_t> index; // in `e` of each of `heard`
  for (size_t i = 0; i < e.servers.size(); ++i)
    if (!avoided(*e.servers[i])) {
      heard.view.servers.push_back(e.view.servers[i]);
      heard.servers.push_back(e.servers[i]);
      index.push_back(i);
    }
  if (auto again = pick_one(heard, kind, board)) // none when none is heard
    out.one = index[*again];
  return out;
}

} // namespace slacker
