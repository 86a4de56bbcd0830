#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>
#include <string>
#include <type_traits>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

#include "slacker/messages/call.hpp"
#include "slacker/messages/codec.hpp"
#include "slacker/messages/error.hpp"

namespace slacker {

class blocking_lane; // blocking_lane.hpp

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

/// Builds the request for `ns/fn` with arguments `xs...` encoded in `opts.codec`.
template <class... Ts>
caf::expected<call_request> make_call(const call_options& opts,
                                      const std::string& qualified, const Ts&... xs) {
  call_request req;
  if (!split_function_name(qualified, req.ns, req.fn))
    return make_error(sc::invalid_request,
                      "'" + qualified + "' is not of the form namespace/function");
  auto args = encode<detail::wire_t<Ts>...>(opts.codec, detail::wire_t<Ts>(xs)...);
  if (!args)
    return make_error(sc::codec_error,
                      "arguments of " + qualified + ": " + describe(args.error()));
  req.codec = opts.codec;
  req.args = std::move(*args);
  req.deadline_ns = detail::deadline_after(opts.timeout);
  req.ext = opts.ext;
  return req;
}

/// Decodes the result of a reply as a `R` (`void` ignores it).
template <class R> caf::expected<R> result_of(const call_reply& rep) {
  if (rep.err)
    return rep.err;
  if constexpr (std::is_void_v<R>)
    return caf::unit;
  else
    return decode_value<R>(rep.codec, rep.result);
}

/// A client of one server, for plain code: each call blocks until it has a
/// result or an error. Actors use `actor()` asynchronously instead (see
/// client_connection.hpp). Connects on the first call and again after a loss.
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

  /// The connection broker: send it `call_request`s, `(lookup_atom, ns)` or
  /// `(inspect_atom[, ns])` (see client_connection.hpp).
  const caf::actor& actor() const noexcept {
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
  /// the I/O itself on a pooled connection of its own (blocking_lane.hpp);
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
    auto handler = lookup(ns);
    if (!handler)
      return std::move(handler.error());
    caf::scoped_actor self{sys_};
    self->monitor(*handler);
    // A plain send: the handler's answer comes back as an ordinary message,
    // so the server's death (down_msg) can end the wait at once.
    self->send(*handler, xs...);
    caf::expected<R> result{
        make_error(sc::timeout,
                   ns + ": no reply within " + std::to_string(timeout.count()) + " ms")};
    bool done = false;
    while (!done)
      self->receive(
          [&](R& x) {
            result = std::move(x);
            done = true;
          },
          [&](caf::error& err) {
            result = std::move(err);
            done = true;
          },
          [&](caf::down_msg& msg) {
            if (msg.source == handler->address()) {
              result = make_error(sc::connection_broken,
                                  ns + ": connection to " + address_ + " lost");
              done = true;
            }
          },
          caf::after(timeout) >> [&] { done = true; });
    self->demonitor(*handler);
    return result;
  }

  const std::string& address() const noexcept {
    return address_;
  }

private:
  /// A scoped actor for one blocking call, reused: creating one per call
  /// costs more than the call's round trip.
  class borrowed_self {
  public:
    explicit borrowed_self(client& owner);
    ~borrowed_self();
    caf::scoped_actor& operator*() { return *self_; }
    caf::scoped_actor& operator->() { return *self_; }

  private:
    client& owner_;
    std::unique_ptr<caf::scoped_actor> self_;
  };

  caf::actor_system& sys_;
  std::string address_;
  caf::error invalid_; // set when the address does not parse
  caf::actor actor_;
  std::unique_ptr<blocking_lane> lane_; // slacker.blocking-calls=lane
  std::mutex idle_mtx_;
  std::vector<std::unique_ptr<caf::scoped_actor>> idle_;
};

} // namespace slacker
