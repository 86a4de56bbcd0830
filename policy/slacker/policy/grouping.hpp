#pragma once

// Grouping: which servers run a call. A grouping is an object behind one small
// interface (`grouping::policy`, like bRPC's LoadBalancer): it hears the
// candidates of each namespace as membership changes, selects the servers of a
// call, and may learn how calls went. Policies are registered by name
// (`grouping::add`), so that options, the command line and configuration reach
// custom ones. Each built-in is one file: a plain function of a view of the
// candidates (callable from tests without a network) and its policy object.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "slacker/messages/call.hpp"
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
  /// The aperture (`slacker.aperture`, docs/guide.md): the one-server
  /// groupings (random, round-robin, least-in-flight, weighted) choose among
  /// `width` servers from index `start` on, wrapping around (0: among all);
  /// `all`, `first`, `leader` and user groupings see every server.
  size_t start = 0;
  size_t width = 0;

  /// The server-data of `addr`; empty when it is not a candidate.
  const std::string& server_data(const std::string& addr) const;

  /// How many servers the one-server groupings choose among.
  size_t choosable() const {
    return width == 0 || width >= servers.size() ? servers.size() : width;
  }

  /// The `i`th of them (`i < choosable()`): an index of `servers`.
  size_t nth(size_t i) const {
    return start == 0 ? i : (start + i) % servers.size();
  }
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

/// The one-server groupings above as the index in `view.servers` of the
/// server they pick (none: no candidate), for callers that need no address
/// (a cluster client's callers choose per call without copying one).
std::optional<size_t> random_index(const grouping_view& view, std::mt19937_64& rng);
std::optional<size_t> first_index(const grouping_view& view);
std::optional<size_t> leader_index(const grouping_view& view);
std::optional<size_t> weighted_index(const grouping_view& view, std::mt19937_64& rng);
std::optional<size_t> round_robin_index(const grouping_view& view, uint64_t& turn);

/// The address of `view.servers[i]`, or none.
addresses address_of(const grouping_view& view, std::optional<size_t> i);

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

/// A grouping registered by name with `grouping::add` (built-ins are
/// registered under their names too).
struct grouping_name {
  std::string name;
};

/// A grouping policy: a built-in, a registered one by name, or a user function.
using grouping_policy = std::variant<grouping_kind, grouping_fn, grouping_name>;

namespace grouping {

/// A grouping as an object. A cluster client makes one instance of each
/// policy it uses and calls it from its dispatcher only: an instance needs no
/// locking, and may keep state (a turn, weights, latencies).
class policy {
public:
  virtual ~policy();

  /// The candidates of `view.ns` changed (membership, server-data, leader,
  /// a server taken out of routing or back in). Also called, for every
  /// namespace known, right after the instance is made.
  virtual void update(const grouping_view& view);

  /// The servers for one call, among `call.view.servers` (others are
  /// dropped); none: no server, the call is unavailable.
  virtual addresses select(const grouping_call& call) = 0;

  /// How a call to a server went; called only when `wants_feedback()`.
  virtual void feedback(const call_feedback& fb);

  /// True when `select` reads `candidate::in_flight` (counted for it then).
  virtual bool reads_in_flight() const;

  /// True when the instance wants `feedback` (each call's outcome travels
  /// to the dispatcher then: it costs a message per call).
  virtual bool wants_feedback() const;
};

using factory = std::function<std::unique_ptr<policy>()>;

/// Registers a grouping under `name` (`grouping_name{name}` in options,
/// `--grouping=NAME` on a command line). False when the name is taken.
/// Thread-safe; register before cluster clients use the name.
bool add(const std::string& name, factory make);

/// A new instance of the grouping registered under `name`; null when none is.
std::unique_ptr<policy> make(const std::string& name);

/// The registered names, built-ins first.
std::vector<std::string> names();

} // namespace grouping

/// The policy a name stands for: a built-in's kind, else the grouping
/// registered under it (resolved when a call uses it).
grouping_policy grouping_named(const std::string& name);

/// The registered name a policy selects with (the built-in's name for a
/// kind); empty for a user function.
std::string name_of(const grouping_policy& policy);

} // namespace slacker
