#pragma once

// Collects membership events from a registry, for tests to wait on and count.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <caf/all.hpp>

#include "slacker/messages/membership.hpp"

namespace slacker_test {

class event_log {
public:
  void push(caf::message msg) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      events_.push_back(std::move(msg));
      taken_.push_back(false);
    }
    cv_.notify_all();
  }

  /// Waits for the first event of type `T` satisfying `pred` that no earlier
  /// call returned, among the events from position `from` on; returns it and
  /// marks it taken. Events arrive in any order across servers.
  template <class T>
  std::optional<T> next(std::function<bool(const T&)> pred,
                        std::chrono::milliseconds timeout, size_t from = 0) {
    std::unique_lock<std::mutex> guard{mtx_};
    std::optional<T> found;
    cv_.wait_for(guard, timeout, [&] {
      for (auto i = from; i < events_.size(); ++i) {
        auto& msg = events_[i];
        if (!taken_[i] && msg.match_elements<T>() && pred(msg.get_as<T>(0))) {
          found = msg.get_as<T>(0);
          taken_[i] = true;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  template <class T> std::optional<T> next(std::chrono::milliseconds timeout) {
    return next<T>([](const T&) { return true; }, timeout);
  }

  /// How many events of type `T` satisfying `pred` arrived so far.
  template <class T> size_t count(std::function<bool(const T&)> pred) {
    std::lock_guard<std::mutex> guard{mtx_};
    size_t n = 0;
    for (auto& msg : events_)
      if (msg.match_elements<T>() && pred(msg.get_as<T>(0)))
        ++n;
    return n;
  }

  /// Waits until server `addr` is a member: a `member_up` for it, or the
  /// view a subscriber gets first listing it (a subscriber that comes after
  /// the client learned the server gets the view, not the event).
  bool wait_member(const std::string& addr, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout, [&] {
      for (auto& msg : events_) {
        if (msg.match_elements<slacker::member_up>() &&
            msg.get_as<slacker::member_up>(0).addr == addr)
          return true;
        if (msg.match_elements<slacker::membership_view>() &&
            msg.get_as<slacker::membership_view>(0).servers.count(addr) > 0)
          return true;
      }
      return false;
    });
  }

  /// The position after the newest event: pass it as `from` to wait only for
  /// what happens later.
  size_t mark() {
    std::lock_guard<std::mutex> guard{mtx_};
    return events_.size();
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<caf::message> events_;
  std::vector<bool> taken_;
};

/// An actor that puts every membership message it gets into `log`.
inline caf::behavior collector(caf::event_based_actor*, std::shared_ptr<event_log> log) {
  return slacker::on_membership([log](auto& x) { log->push(caf::make_message(x)); });
}

} // namespace slacker_test
