#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

namespace slacker {

/// Sends `xs...` to `who` as a request from plain code and waits up to
/// `timeout` for its one-element answer of type `T`, or its error. Makes a
/// scoped actor: for occasional requests (use a `scoped_pool` on hot paths).
template <class T, class Handle, class Duration, class... Ts>
caf::expected<T> blocking_request(caf::actor_system& sys, const Handle& who,
                                  Duration timeout, Ts&&... xs) {
  caf::scoped_actor self{sys};
  caf::expected<T> result{caf::error{}};
  self->request(who, timeout, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// Scoped actors for blocking calls from plain code, reused: creating one
/// costs more than a round trip. Requests from a pooled actor have no CAF
/// timeout (a finite one leaves a stale timeout message in the actor's
/// mailbox after every call): use it only with actors that answer every
/// request, which the connection brokers, dispatchers and gathers do (their
/// call ledger and deadlines). Thread-safe.
class scoped_pool {
public:
  explicit scoped_pool(caf::actor_system& sys) : sys_(sys) {
    // nop
  }

  scoped_pool(const scoped_pool&) = delete;
  scoped_pool& operator=(const scoped_pool&) = delete;

  /// Sends `xs...` to `who` and waits for its answer of type `T` or its error.
  template <class T, class Handle, class... Ts>
  caf::expected<T> request(const Handle& who, Ts&&... xs) {
    auto self = borrow();
    caf::expected<T> result{caf::error{}};
    (*self)
        ->request(who, caf::infinite, std::forward<Ts>(xs)...)
        .receive([&](T& x) { result = std::move(x); },
                 [&](caf::error& err) { result = std::move(err); });
    give_back(std::move(self));
    return result;
  }

private:
  std::unique_ptr<caf::scoped_actor> borrow() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (!idle_.empty()) {
        auto out = std::move(idle_.back());
        idle_.pop_back();
        return out;
      }
    }
    return std::make_unique<caf::scoped_actor>(sys_);
  }

  void give_back(std::unique_ptr<caf::scoped_actor> self) {
    std::lock_guard<std::mutex> guard{mtx_};
    idle_.push_back(std::move(self));
  }

  caf::actor_system& sys_;
  std::mutex mtx_;
  std::vector<std::unique_ptr<caf::scoped_actor>> idle_;
};

} // namespace slacker
