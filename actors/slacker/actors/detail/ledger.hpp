#pragma once

#include <chrono>
#include <cstdint>
#include <memory_resource>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

namespace slacker {

/// The calls in flight on one connection: an id per call, the deadlines in
/// order, and the one timer that waits for the earliest. A plain value with
/// no clock of its own (the owner passes `now`), so that it can be tested with
/// any time; the connection broker of each server keeps one, for the direct
/// client and the cluster client alike. Every call leaves it exactly once:
/// answered (`take`), expired, or drained when the connection ends.
template <class Entry> class call_ledger {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  call_ledger() = default;
  // Its maps allocate from its own pool: it stays where it was made.
  call_ledger(const call_ledger&) = delete;
  call_ledger& operator=(const call_ledger&) = delete;

  /// Adds a call due by `deadline`; returns its id (never 0) and where it
  /// is kept.
  std::pair<uint64_t, Entry&> emplace(Entry entry, time_point deadline) {
    auto id = next_id_++;
    auto& kept = calls_.emplace(id, item{std::move(entry), deadline}).first->second;
    deadlines_.emplace(deadline, id);
    return {id, kept.entry};
  }

  /// Adds a call due by `deadline`; returns its id (never 0).
  uint64_t add(Entry entry, time_point deadline) {
    return emplace(std::move(entry), deadline).first;
  }

  /// Removes the call `id` for its answer; nothing when it left already.
  std::optional<Entry> take(uint64_t id) {
    auto i = calls_.find(id);
    if (i == calls_.end())
      return std::nullopt;
    auto out = std::move(i->second.entry);
    deadlines_.erase({i->second.deadline, id});
    calls_.erase(i);
    return out;
  }

  /// The call `id`, still in flight; null when it left.
  Entry* find(uint64_t id) {
    auto i = calls_.find(id);
    return i == calls_.end() ? nullptr : &i->second.entry;
  }

  /// Removes every call due at or before `now`, earliest first, calling
  /// `f(id, entry)` for each.
  template <class F> void expire(time_point now, F f) {
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      auto id = deadlines_.begin()->second;
      deadlines_.erase(deadlines_.begin());
      auto i = calls_.find(id);
      auto entry = std::move(i->second.entry);
      calls_.erase(i);
      f(id, entry);
    }
  }

  /// Removes every call, calling `f(id, entry)` for each (the connection ended).
  template <class F> void drain(F f) {
    auto calls = std::move(calls_);
    calls_.clear();
    deadlines_.clear();
    for (auto& kvp : calls)
      f(kvp.first, kvp.second.entry);
  }

  /// The earliest deadline, if any call is in flight.
  std::optional<time_point> earliest() const {
    if (deadlines_.empty())
      return std::nullopt;
    return deadlines_.begin()->first;
  }

  /// Whether a timer must be started for `at`: only when none is armed for
  /// an earlier (or the same) time. Marks it armed.
  bool arm(time_point at) {
    if (armed_ && *armed_ <= at)
      return false;
    armed_ = at;
    return true;
  }

  /// The armed timer fired (or came early): the owner expires, then arms
  /// again for `earliest()`.
  void fired() {
    armed_.reset();
  }

  size_t size() const noexcept {
    return calls_.size();
  }

  bool empty() const noexcept {
    return calls_.empty();
  }

private:
  struct item {
    Entry entry;
    time_point deadline;
  };

  // Every call adds a node to each map and frees it again: from a pool of
  // this ledger's (one broker's, one thread's), not from malloc, on the
  // network thread's hot path.
  std::pmr::unsynchronized_pool_resource pool_;
  std::pmr::unordered_map<uint64_t, item> calls_{&pool_};
  std::pmr::set<std::pair<time_point, uint64_t>> deadlines_{&pool_};
  std::optional<time_point> armed_;
  uint64_t next_id_ = 1;
};

} // namespace slacker
