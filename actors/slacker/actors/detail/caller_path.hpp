#pragma once

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "slacker/actors/cluster_call.hpp"
#include "slacker/actors/detail/routes.hpp"
#include "slacker/actors/routed_calls.hpp"

namespace slacker {

/// What a blocking caller did with a cluster call on the published routes.
struct caller_outcome {
  enum class kind : uint8_t {
    done,       // `result` is the call's outcome
    dispatcher, // not taken: the dispatcher routes it (a user or named
                // grouping, hedging, a namespace not learned yet)
    resend,     // it failed where it went and may go elsewhere: the
                // dispatcher's `resend_atom` with `cause` and `charged`
  };
  kind what = kind::dispatcher;
  caf::expected<cluster_reply> result{caf::error{}};
  caf::error cause;
  bool charged = false;
};

/// Runs `call` in the calling thread when a built-in grouping picks one
/// server from `board`'s routes: through that server's blocking lane, with
/// the same counts (calls in flight, failure accrual, metrics, feedback) and
/// the same policies (aggregator.hpp, retry.hpp) as the connection broker
/// would apply. `dispatcher` hears what the broker would tell it (a server
/// suspect or answering again, a call's outcome for a grouping).
caller_outcome call_on_routes(route_board& board, cluster_call& call,
                              const caf::actor& dispatcher);

} // namespace slacker
