#pragma once

// Plain CAF messages to the user actors serving a namespace on one or more
// servers, their answers collected under the call's policies (the same
// aggregator as function calls).

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "slacker/messages/cluster_reply.hpp"
#include "slacker/policy/options.hpp"

namespace slacker {

/// Sends the message to one server's actor from `self` and calls `done` with
/// its one answer (as a message) or an error.
using ask_fn = std::function<void(caf::event_based_actor* self, const caf::actor& handler,
                                  std::function<void(caf::expected<caf::message>)> done)>;

/// Makes the `ask_fn` of message `xs...` whose answer is one `E`.
template <class E, class... Ts> ask_fn make_ask(Ts... xs) {
  return [=](caf::event_based_actor* self, const caf::actor& handler,
             std::function<void(caf::expected<caf::message>)> done) {
    self->request(handler, caf::infinite, xs...)
        .then([done](E& x) { done(caf::make_message(std::move(x))); },
              [done](caf::error& err) { done(std::move(err)); });
  };
}

/// A message for the actors serving `ns`: local only (policies hold functions).
struct ask_request {
  std::string ns;
  ask_fn send;
  std::shared_ptr<const call_policies> policies;
};

/// The answers kept, with their servers, shaped like a `cluster_reply`.
struct ask_reply {
  reply_shape shape = reply_shape::single;
  std::vector<std::string> addrs;
  std::vector<caf::message> answers;
};

/// The gather of one `ask_request` to servers given as (address, connection
/// broker): looks up each server's actor for the namespace, sends it the
/// message, and answers `(gather_atom) -> ask_reply` once the aggregator has
/// decided or the call's timeout passed (missing answers count as `timeout`).
/// An answer of another type, or a lost connection (`connection_broken`),
/// counts as that server's failure.
caf::behavior ask_gather(caf::event_based_actor* self, ask_request req,
                         std::vector<std::pair<std::string, caf::actor>> links);

/// Turns typed-message answers into `R`, as the reply's shape says (see
/// `decode_cluster`); each answer must be one `T`.
template <class R>
caf::expected<R> decode_ask(const ask_reply& rep, const std::string& ns) {
  return detail::shaped<R>(
      rep.shape, rep.addrs, rep.answers.size(), ns, [&](auto type, size_t i) {
        using T = typename decltype(type)::type;
        if constexpr (std::is_void_v<T>) {
          return caf::expected<void>{};
        } else {
          auto& m = rep.answers[i];
          if (m.match_elements<T>())
            return caf::expected<T>{m.get_as<T>(0)};
          return caf::expected<T>{
              make_error(sc::codec_error, ns + ": the answer from " + rep.addrs[i] +
                                              " is not of the expected type")};
        }
      });
}

} // namespace slacker

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(slacker::ask_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(slacker::ask_reply)
