#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "slacker/actors/ask.hpp"
#include "slacker/actors/interfaces.hpp"
#include "slacker/messages/call.hpp"
#include "slacker/messages/codec.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/runtime/blocking_request.hpp"

namespace slacker {

class blocking_lane; // internal: the calling thread's own pooled connections

/// Per-call options of a direct call.
struct call_options {
  std::chrono::milliseconds timeout{10000};
  codec_id codec = codec_id::caf_binary;
  extensions ext; // carried to the server and echoed in the reply
};

namespace detail {

/// String literals travel as std::string.
template <class T>
using wire_t = std::conditional_t<std::is_same_v<std::decay_t<T>, const char*> ||
                                      std::is_same_v<std::decay_t<T>, char*>,
                                  std::string, std::decay_t<T>>;

int64_t deadline_after(std::chrono::milliseconds timeout);

} // namespace detail

/// Builds the request for `ns/fn` whose arguments are already encoded in
/// `opts.codec` (e.g. a JSON array from the command line).
caf::expected<call_request> make_encoded_call(call_options opts,
                                              const std::string& qualified, bytes args);

/// Builds the request for `ns/fn` with arguments `xs...` encoded in `opts.codec`.
template <class... Ts>
caf::expected<call_request> make_call(const call_options& opts,
                                      const std::string& qualified, const Ts&... xs) {
  auto args = encode<detail::wire_t<Ts>...>(opts.codec, detail::wire_t<Ts>(xs)...);
  if (!args)
    return make_error(sc::codec_error,
                      "arguments of " + qualified + ": " + describe(args.error()));
  return make_encoded_call(opts, qualified, std::move(*args));
}

/// A client of one server, for plain code: each call blocks until it has a
/// result or an error. Actors use `actor()` asynchronously instead.
/// Connects on the first call and again after a loss.
///
/// ```
/// slacker::client c{sys, "127.0.0.1:2104"};
/// auto r = c.call<int64_t>("slacker.example.api/timestamp");
/// ```
class client {
public:
  /// `address` is `host:port`.
  client(caf::actor_system& sys, const std::string& address);

  client(caf::actor_system& sys, std::string host, uint16_t port);

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  ~client();

  /// The connection broker: `call_request -> call_reply`; `(lookup_atom, ns)
  /// -> actor`, a local stand-in for the actor serving `ns` on that server
  /// (it goes down with the connection); `(inspect_atom) -> vector<string>`
  /// and `(inspect_atom, ns) -> vector<function_info>`, the server's
  /// namespaces and a namespace's functions.
  const connection_actor_type& actor() const noexcept {
    return actor_;
  }

  /// Calls `ns/fn` with `xs...` and decodes the result as `R`.
  template <class R, class... Ts>
  caf::expected<R> call(const std::string& qualified, const Ts&... xs) {
    return call<R>(call_options{}, qualified, xs...);
  }

  /// Calls `ns/fn` with per-call options.
  template <class R, class... Ts>
  caf::expected<R> call(const call_options& opts, const std::string& qualified,
                        const Ts&... xs) {
    auto req = make_call(opts, qualified, xs...);
    if (!req)
      return std::move(req.error());
    auto rep = invoke(std::move(*req), opts.timeout);
    if (!rep)
      return std::move(rep.error());
    return result_of<R>(*rep);
  }

  /// Sends a prepared request and waits for the raw reply (with extensions).
  /// With `slacker.blocking-calls=lane` (the default) the calling thread does
  /// the I/O itself on a pooled connection of its own (no actor hop);
  /// with `broker` the call goes through the connection broker, like
  /// `actor()`'s. Errors and their codes are the same either way.
  caf::expected<call_reply> invoke(call_request req, std::chrono::milliseconds timeout);

  /// A local stand-in for the actor serving namespace `ns` on the server:
  /// messages sent to it reach that actor, answers come back from it, and it
  /// goes down when the connection does.
  caf::expected<caf::actor> lookup(const std::string& ns);

  /// The namespaces the server serves.
  caf::expected<std::vector<std::string>> namespaces();

  /// The functions of namespace `ns` on the server, with their metadata.
  caf::expected<std::vector<function_info>> functions(const std::string& ns);

  /// Sends the plain CAF message `xs...` to the user actor serving `ns` and
  /// waits for its one-element answer.
  template <class R, class... Ts>
  caf::expected<R> ask(const std::string& ns, const Ts&... xs) {
    return ask_for<R>(std::chrono::milliseconds{10000}, ns, xs...);
  }

  template <class R, class... Ts>
  caf::expected<R> ask_for(std::chrono::milliseconds timeout, const std::string& ns,
                           const Ts&... xs) {
    if (invalid_)
      return invalid_;
    auto policies = std::make_shared<call_policies>();
    policies->timeout = timeout;
    auto rep = ask_raw(ask_request{ns, make_ask<R>(xs...), std::move(policies)});
    if (!rep)
      return std::move(rep.error());
    return decode_ask<R>(*rep, ns);
  }

  /// Runs a typed-message request (see `ask`) and waits for its answers.
  caf::expected<ask_reply> ask_raw(ask_request req);

  const std::string& address() const noexcept {
    return address_;
  }

private:
  caf::actor_system& sys_;
  std::string address_;
  caf::error invalid_; // set when the address does not parse
  connection_actor_type actor_;
  std::unique_ptr<blocking_lane> lane_; // slacker.blocking-calls=lane
  std::unique_ptr<scoped_pool> pool_;
};

} // namespace slacker
