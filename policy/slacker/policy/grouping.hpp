#pragma once

// Grouping: which servers run a call. Each built-in is a plain function of a
// view of the candidates (one file each), callable from tests without a network.

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "slacker/messages/names.hpp"

namespace slacker {

enum class grouping_kind : uint8_t {
  random,          // one server, uniformly (the default)
  all,             // every server
  first,           // the first server in address order
  leader,          // the namespace's elected leader
  least_in_flight, // the server with the fewest pending calls of this client
  weighted,        // one server, by server-data "weight" (default 1)
  round_robin,     // one server, in turn
};

const char* to_string(grouping_kind x);

/// Parses `random`, `all`, `first`, `leader`, `least-in-flight` (or
/// `least_in_flight`), `weighted`, `round-robin`; false for anything else.
bool from_string(const std::string& name, grouping_kind& out);
template <> std::vector<std::string> all_names<grouping_kind>();

/// A server a call may go to.
struct candidate {
  std::string addr;
  std::string data;     // server-data, JSON text
  size_t in_flight = 0; // calls of this client pending on it
  double weight = 1;    // `weight_of(data)`, parsed when the data changes
};

/// What a grouping decides on: the connected servers that provide the
/// namespace, in address order. A cluster client keeps one per namespace,
/// updated by membership events, not rebuilt per call.
struct grouping_view {
  std::string ns;
  std::vector<candidate> servers;
  std::string leader; // empty: none elected

  /// The server-data of `addr`; empty when it is not a candidate.
  const std::string& server_data(const std::string& addr) const;
};

using addresses = std::vector<std::string>;

namespace grouping {

addresses random(const grouping_view& view, std::mt19937_64& rng);
addresses all(const grouping_view& view);
addresses first(const grouping_view& view);
addresses leader(const grouping_view& view);
addresses least_in_flight(const grouping_view& view, std::mt19937_64& rng);
addresses weighted(const grouping_view& view, std::mt19937_64& rng);
addresses round_robin(const grouping_view& view, uint64_t& turn);

/// The weight a server's data gives it: `"weight"` as a non-negative number, else 1.
double weight_of(const std::string& server_data);

} // namespace grouping

/// What a user grouping function returns: one address, several, or a built-in.
using grouping_choice = std::variant<std::string, addresses, grouping_kind>;

/// A user grouping: `(ns, fn, codec, args, view)`; `view.server_data(addr)`
/// gives a server's data. Runs inside the dispatcher actor: keep it short.
struct grouping_call {
  const std::string& ns;
  const std::string& fn;
  uint8_t codec;
  const std::vector<char>& args;
  const grouping_view& view;
};
using grouping_fn = std::function<grouping_choice(const grouping_call&)>;

/// A grouping policy: a built-in or a user function.
using grouping_policy = std::variant<grouping_kind, grouping_fn>;

/// Turns a policy into addresses, keeping only candidates (others are dropped).
addresses choose(const grouping_policy& policy, const grouping_call& call,
                 std::mt19937_64& rng, uint64_t& turn);

} // namespace slacker
