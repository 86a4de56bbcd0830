#pragma once

// Calls from actors on the routes a cluster client's dispatcher publishes
// (docs/architecture.md, "The flow of a cluster call"): the caller chooses
// the server(s) of a call under a built-in grouping and sends it to their
// connection brokers itself, without the dispatcher. Used by
// `cluster_client::request` and `call_async`.

#include <atomic>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/behavior.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/response_promise.hpp>

#include "slacker/actors/cluster_call.hpp"
#include "slacker/actors/interfaces.hpp"

namespace slacker {

class aggregator;
class route_board;
struct route_server;

/// A fan-out started by an actor on the routes: one message from the actor
/// to the first chosen server's connection broker, which sends each other
/// server's request to its broker on the network thread; the answers are
/// aggregated where they arrive, on the network thread, and the outcome
/// goes back to the actor once (no gather, no dispatcher: one message out,
/// one in, for any number of servers). Should the first broker be gone, or
/// the policies run user code (a results or exceptions function, kept off
/// the network thread), the actor sends the requests and aggregates the
/// answers itself.
class fan_out_call {
public:
  fan_out_call(cluster_call call, std::vector<std::shared_ptr<route_server>> servers);
  ~fan_out_call();

  size_t size() const noexcept {
    return servers_.size();
  }

  /// The connection broker of server `i`.
  caf::actor conn(size_t i) const;

  /// The request for server `i`.
  call_request request(size_t i) const;

  /// Server `i` answered (a reply, or an error); the call's outcome, once,
  /// when this decides it.
  std::optional<caf::expected<cluster_reply>> answer(size_t i,
                                                     caf::expected<call_reply> rep);

  /// Taken by the first server's broker, which answers the actor through `rp`.
  void take(caf::response_promise rp);

  /// Whether its policies run user code (a results or exceptions function):
  /// then it is aggregated in the actor, as before, not on the network thread.
  bool runs_user_code() const noexcept;

  /// Whether a broker took it (else the actor sends the requests itself).
  bool taken() const noexcept {
    return taken_.load(std::memory_order_acquire);
  }

  /// `answer` on the network thread: the outcome, once decided, goes to the
  /// actor through the promise `take` got.
  void answer_taken(size_t i, caf::expected<call_reply> rep);

private:
  cluster_call call_;
  std::vector<std::shared_ptr<route_server>> servers_;
  std::unique_ptr<aggregator> agg_;
  caf::response_promise rp_;
  std::atomic<bool> taken_{false};
  bool done_ = false;
};

/// The requests of `fan` sent by the actor `self` and aggregated there;
/// `done` runs once with the outcome.
template <class Self, class Done>
void fan_out_from(Self* self, const std::shared_ptr<fan_out_call>& fan,
                  const std::shared_ptr<Done>& done) {
  for (size_t i = 0; i < fan->size(); ++i)
    self->request(fan->conn(i), caf::infinite, fan->request(i))
        .then(
            [fan, i, done](call_reply& rep) {
              if (auto res = fan->answer(i, std::move(rep)))
                (*done)(std::move(*res));
            },
            [fan, i, done](caf::error& err) {
              if (auto res = fan->answer(i, std::move(err)))
                (*done)(std::move(*res));
            });
}

/// `fan` sent by the actor `self` to the first server's broker, which sends
/// the others their parts and answers with the outcome; should that broker be
/// gone (or not take it), or the policies run user code, `fan_out_from`.
/// `done` runs once with the outcome.
template <class Self, class Done>
void fan_out(Self* self, const std::shared_ptr<fan_out_call>& fan,
             const std::shared_ptr<Done>& done) {
  if (fan->runs_user_code()) {
    fan_out_from(self, fan, done);
    return;
  }
  self->request(fan->conn(0), caf::infinite, fan_out_atom::value, fan)
      .then(
          [done](cluster_reply& rep) {
            (*done)(caf::expected<cluster_reply>{std::move(rep)});
          },
          [self, fan, done](caf::error& err) {
            if (fan->taken()) // the outcome: an error
              (*done)(caf::expected<cluster_reply>{std::move(err)});
            else
              fan_out_from(self, fan, done);
          });
}

/// Where an actor's call goes on the routes: `fan` when a built-in grouping
/// picks several servers (and `fan_out` allows it), `conn` when it picks
/// one, else `to`: the dispatcher, which routes the call. The servers are
/// counted in flight there, as the dispatcher would count them.
struct actor_route {
  /// The dispatcher when the call goes there (else null).
  caf::actor to;
  std::shared_ptr<fan_out_call> fan;
  /// The broker of the one server picked (else null), in the routes this
  /// thread read: valid until its next read of the board.
  const connection_actor_type* conn = nullptr;
  /// With `conn`: how a success is shaped when it is its answer as it is
  /// (`aggregator::success_shape`, not `map`), so that the caller may take
  /// it raw (`cluster_call::raw_success`); else none.
  std::optional<reply_shape> raw;
};

/// A success of a call its caller shapes itself (`cluster_call::raw_success`):
/// the server's answer, and the shape the call's policies give it.
struct one_answer {
  reply_shape shape;
  call_reply& reply;
};

/// Chooses for `call` on `board`'s routes (one read of the routes, one
/// grouping decision); `fan_out` false: a fan-out goes to `dispatcher`.
actor_route route_for_actor(route_board& board, cluster_call& call,
                            const caf::actor& dispatcher, bool fan_out = true);

/// Runs `call` from the actor `self` on the routes of `board` (null: through
/// `dispatcher`): to one server's connection broker, a fan-out aggregated in
/// `self`, or the dispatcher; `done(caf::expected<cluster_reply>)` runs
/// once on `self` with the outcome (held once for the answer's handlers).
/// A `done` that also takes a `one_answer` gets a one-server call's success
/// that way when its policies leave nothing to decide: the server's answer
/// as it came, with no `cluster_reply` made on the network thread.
template <class Self, class Done>
void request_on_routes(Self* self, route_board* board, const caf::actor& dispatcher,
                       cluster_call call, Done done) {
  auto route = board ? route_for_actor(*board, call, dispatcher)
                     : actor_route{dispatcher, {}, {}, {}};
  auto held = std::make_shared<Done>(std::move(done));
  if (route.fan) {
    fan_out(self, route.fan, held);
    return;
  }
  // A one-server success with nothing to decide, taken as it came when
  // `done` can: the broker makes no cluster_reply for it.
  constexpr bool takes_raw = std::is_invocable_v<Done&, one_answer>;
  auto raw = takes_raw && route.conn != nullptr && route.raw.has_value();
  call.raw_success = raw;
  auto ask = [&](const auto& to) {
    auto on_reply = [held](cluster_reply& rep) {
      (*held)(caf::expected<cluster_reply>{std::move(rep)});
    };
    auto on_error = [held](caf::error& err) {
      (*held)(caf::expected<cluster_reply>{std::move(err)});
    };
    auto sent = self->request(to, caf::infinite, std::move(call));
    if constexpr (takes_raw) {
      if (raw) { // a third answer: the success as it came
        self->add_multiplexed_response_handler(
            sent.id(), caf::behavior{[held, shape = *route.raw](call_reply& rep) {
                                       (*held)(one_answer{shape, rep});
                                     },
                                     std::move(on_reply), std::move(on_error)});
        return;
      }
    }
    sent.then(std::move(on_reply), std::move(on_error));
  };
  if (route.conn)
    ask(*route.conn); // no handle made: the routes hold it
  else
    ask(route.to);
}

/// A call's outcome as the typed result `R`, for `f`: decoded from a
/// `cluster_reply` or from a one-server success taken raw (`one_answer`);
/// `what` (ns/fn) names the call in errors.
template <class R, class F> struct typed_outcome {
  F f;
  std::string what;

  void operator()(caf::expected<cluster_reply> rep) {
    if (rep)
      f(decode_cluster<R>(*rep, what));
    else
      f(caf::expected<R>{std::move(rep.error())});
  }

  void operator()(one_answer x) {
    f(decode_one<R>(x.shape, x.reply, what));
  }
};

} // namespace slacker

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<slacker::fan_out_call>)
