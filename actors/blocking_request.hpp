#pragma once

#include <chrono>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

namespace slacker {

/// Sends `xs...` to `who` as a request from plain code and waits up to
/// `timeout` for its one-element answer of type `T`, or its error.
template <class T, class Duration, class... Ts>
caf::expected<T> blocking_request(caf::actor_system& sys, const caf::actor& who,
                                  Duration timeout, Ts&&... xs) {
  caf::scoped_actor self{sys};
  caf::expected<T> result{caf::error{}};
  self->request(who, timeout, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace slacker
