#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "slacker/actors/ask.hpp"
#include "slacker/actors/client.hpp"
#include "slacker/actors/cluster_call.hpp"
#include "slacker/actors/interfaces.hpp"
#include "slacker/actors/routed_calls.hpp"
#include "slacker/messages/membership.hpp"
#include "slacker/registry/interfaces.hpp"
#include "slacker/registry/options.hpp"
#include "slacker/runtime/blocking_request.hpp"

namespace slacker {

class registry;
class route_board;

namespace detail {

template <class T> struct identity { using value_type = T; };

template <class M> struct mapped_of { using value_type = typename M::mapped_type; };

} // namespace detail

/// A typed results function from a reducer of (address, value) pairs:
/// `slacker::reduce<int64_t>([](auto& pairs) { sum... })`.
template <class T, class F> results_fn reduce(F f) {
  return [f = std::move(f)](
             codec_id c, const std::vector<server_result>& xs) -> caf::expected<bytes> {
    results::pairs<T> pairs;
    for (auto& x : xs) {
      auto v = result_of<T>(x.reply);
      if (!v)
        return std::move(v.error());
      pairs.emplace_back(x.addr, std::move(*v));
    }
    return encode_value(c, f(pairs));
  };
}

/// A client of a whole cluster, from its name and a ZooKeeper address:
/// ```
/// slacker::cluster_client sc{sys, "example-cluster", "127.0.0.1:2181"};
/// auto ts = sc.call<int64_t>("slacker.example.api/timestamp");
/// slacker::cluster_options all;
/// all.grouping = slacker::grouping_kind::all;
/// all.results = slacker::results_kind::map;
/// auto each = sc.call<std::map<std::string, int64_t>>(
///     all, "slacker.example.api/timestamp");
/// ```
class cluster_client {
public:
  cluster_client(caf::actor_system& sys, std::string cluster, std::string zk,
                 cluster_options defaults = {});

  /// With every ZooKeeper option (session timeout, root, auth).
  cluster_client(caf::actor_system& sys, zk_options zk, cluster_options defaults = {});

  ~cluster_client();
  cluster_client(const cluster_client&) = delete;
  cluster_client& operator=(const cluster_client&) = delete;

  /// Calls `ns/fn` under the client's default options.
  template <class R, class... Ts>
  caf::expected<R> call(const std::string& qualified, const Ts&... xs) {
    return call_with<R>(cluster_options{}, cluster_options{}, qualified, xs...);
  }

  /// Calls `ns/fn` with per-call options.
  template <class R, class... Ts>
  caf::expected<R> call(const cluster_options& opts, const std::string& qualified,
                        const Ts&... xs) {
    return call_with<R>(opts, cluster_options{}, qualified, xs...);
  }

  /// Calls with per-call and per-function options (what `remote_fn` uses).
  template <class R, class... Ts>
  caf::expected<R> call_with(const cluster_options& per_call,
                             const cluster_options& per_fn, const std::string& qualified,
                             const Ts&... xs) {
    auto call = prepare(per_call, per_fn, qualified, xs...);
    if (!call)
      return std::move(call.error());
    auto rep = invoke(std::move(*call));
    if (!rep)
      return std::move(rep.error());
    return decode_cluster<R>(*rep, qualified);
  }

  /// Calls without waiting; `callback` runs on a CAF thread with the result.
  template <class R, class... Ts>
  void call_async(const cluster_options& opts, const std::string& qualified,
                  std::function<void(caf::expected<R>)> callback, const Ts&... xs) {
    auto call = prepare(opts, cluster_options{}, qualified, xs...);
    if (!call) {
      callback(std::move(call.error()));
      return;
    }
    invoke_async(std::move(*call),
                 typed_outcome<R, std::function<void(caf::expected<R>)>>{
                     std::move(callback), qualified});
  }

  /// From an actor, without blocking: runs a prepared call (see `prepare`)
  /// and calls `f` with the typed result, on `self`. A call to one server
  /// goes to that server's connection broker; a fan-out under a built-in
  /// grouping is sent to every chosen server's broker and aggregated in
  /// `self`; the rest goes through the dispatcher.
  /// ```
  /// auto call = sc.prepare(opts, {}, "ns/fn", 1);
  /// sc.request<int64_t>(self, std::move(*call), [](caf::expected<int64_t> x) { ... });
  /// ```
  template <class R, class Self, class F>
  void request(Self* self, cluster_call call, F f) const {
    auto what = call_name{call.req}.str(); // for a reply that cannot be decoded
    // No CAF timeout: the call's deadline is enforced where it waits.
    request_on_routes(self, board_.get(), dispatcher_any_, std::move(call),
                      typed_outcome<R, F>{std::move(f), std::move(what)});
  }

  /// Where an actor sends `call` to have it answered (`cluster_call ->
  /// cluster_reply`): the connection broker of its server when a built-in
  /// grouping picks one from the routes the dispatcher publishes (one hop
  /// less), else the dispatcher. `request` uses it; so may actors that
  /// request themselves.
  caf::actor destination(cluster_call& call) const;

  /// True once callers choose the servers of namespace `ns` themselves, on
  /// the routes the dispatcher publishes (after the first call of `ns`, while
  /// ZooKeeper is connected and no server of `ns` awaits a probe).
  bool chooses_servers(const std::string& ns) const;

  /// Fire-and-forget: the call runs, its result is dropped.
  template <class... Ts> caf::error send(const std::string& qualified, const Ts&... xs) {
    auto call = prepare(cluster_options{}, cluster_options{}, qualified, xs...);
    if (!call)
      return std::move(call.error());
    caf::anon_send(dispatcher_, std::move(*call));
    return {};
  }

  /// Sends the plain CAF message `xs...` to the user actors serving namespace
  /// `ns` on the servers the grouping picks, and collects their one-element
  /// answers of type `E` as the results policy says: `R` is `E` (single),
  /// `std::vector<E>` (vector), `std::map<std::string, E>` (map); the
  /// exceptions policy applies as to function calls. A server that dies
  /// mid-call counts at once as `outcome_unknown` (it may have run).
  template <class R, class... Ts>
  caf::expected<R> ask(const cluster_options& opts, const std::string& ns,
                       const Ts&... xs);

  /// From an actor, without blocking: sends `xs...` to the actors serving
  /// `ns` under `opts`' policies, as `ask` does, and calls `f` once, on
  /// `self`, with the typed result (`caf::expected<R>`, `R` shaped as for
  /// `ask`).
  /// ```
  /// sc.ask<int32_t>(self, {}, "my.greeter", [](caf::expected<int32_t> x) { ... }, 21);
  /// ```
  template <class R, class Self, class F, class... Ts>
  void ask(Self* self, const cluster_options& opts, const std::string& ns, F f,
           const Ts&... xs) const;

  /// Runs a typed-message request and waits for its answers.
  caf::expected<ask_reply> ask_raw(ask_request req);

  /// Builds a call: resolves the options (per call > per function > this
  /// client's defaults) and encodes the arguments.
  template <class... Ts>
  caf::expected<cluster_call> prepare(const cluster_options& per_call,
                                      const cluster_options& per_fn,
                                      const std::string& qualified, const Ts&... xs) {
    auto policies = policies_for(per_call, per_fn);
    auto args = encode<detail::wire_t<Ts>...>(policies->codec, detail::wire_t<Ts>(xs)...);
    if (!args)
      return make_error(sc::codec_error,
                        "arguments of " + qualified + ": " + describe(args.error()));
    return assemble(std::move(policies), qualified, std::move(*args));
  }

  /// Builds a call whose arguments are already encoded in its codec (e.g. a
  /// JSON array, with `codec = codec_id::json`).
  caf::expected<cluster_call> prepare_encoded(const cluster_options& per_call,
                                              const cluster_options& per_fn,
                                              const std::string& qualified,
                                              bytes args) const;

  /// Runs a prepared call and waits for its reply (decode it with
  /// `decode_cluster<R>`).
  caf::expected<cluster_reply> invoke(cluster_call call);

  /// Runs a prepared call; `done` runs on a CAF thread with its reply.
  void invoke_async(cluster_call call,
                    std::function<void(caf::expected<cluster_reply>)> done);

  /// The server-data a server registered (JSON text), as this client knows it.
  caf::expected<std::string> server_data(const std::string& addr);

  /// Runs `fn(addr, data)` on every server-data change (on a CAF thread).
  void
  on_server_data_change(std::function<void(const std::string&, const std::string&)> fn);

  /// What this client knows of the cluster.
  caf::expected<membership_view> members();

  /// What the status portal shows of the cluster (JSON): members, their
  /// routing state here, leaders with their fencing tokens.
  std::string status_of_cluster();

  /// Waits until what this client routes to satisfies `pred` (e.g. two
  /// servers provide a namespace); the view then, or `timeout` after `timeout`.
  caf::expected<membership_view>
  wait_until(const std::function<bool(const membership_view&)>& pred,
             std::chrono::milliseconds timeout);

  /// The dispatcher: actors send it `cluster_call`s (see `prepare`) and get
  /// `cluster_reply`s; decode them with `decode_cluster<R>` (or use `request`).
  const dispatcher_actor_type& dispatcher() const noexcept {
    return dispatcher_;
  }

  /// `who` gets what this client knows of the cluster (a `membership_view`),
  /// then every change in order: the registry's events (member_up,
  /// member_leaving, member_down, server_data_changed, namespace_up,
  /// namespace_down, leader_changed, registry_state) and this client's own
  /// (member_leaving when a server says it is going away, before ZooKeeper
  /// does; member_unreachable and member_reachable from its failure
  /// detector). Ends with `who` (a weak reference) or with this client.
  void subscribe(const caf::actor& who);

  /// Connects to every server of namespace `ns` now, and to each that joins
  /// it later, as a first call would: the first calls find their connections
  /// open, and the failure detector watches those servers from now on.
  void warm_up(const std::string& ns);

  /// The registry this client follows (its events only, no failure
  /// detector's: see `subscribe`).
  const registry_actor_type& registry_actor() const;

  const cluster_options& defaults() const noexcept {
    return defaults_;
  }

private:
  /// The call of `qualified` under resolved `policies` (deadline from their timeout).
  static caf::expected<cluster_call>
  assemble(std::shared_ptr<const call_policies> policies, const std::string& qualified,
           bytes args);

  /// The resolved options of a call: those of the client's defaults alone,
  /// resolved once, when the call and its function set none.
  std::shared_ptr<const call_policies> policies_for(const cluster_options& per_call,
                                                    const cluster_options& per_fn) const;

  caf::actor_system& sys_;
  std::string cluster_;
  cluster_options defaults_;
  std::shared_ptr<const call_policies> plain_; // `defaults_` resolved
  std::unique_ptr<registry> registry_;
  dispatcher_actor_type dispatcher_;
  caf::actor dispatcher_any_; // the same handle untyped: no cast on each call
  caf::actor async_;          // runs `invoke_async` callbacks
  std::unique_ptr<scoped_pool> pool_;
  std::shared_ptr<route_board> board_;         // the routes blocking callers read
  std::vector<std::shared_ptr<void>> metrics_; // its gauges and health (/metrics)
};

namespace detail {

/// The type of one answer of an ask whose result is `R`.
template <class R>
using ask_element_t = typename std::conditional_t<
    is_std_vector<R>::value, R,
    std::conditional_t<is_string_map<R>::value, mapped_of<R>, identity<R>>>::value_type;

} // namespace detail

template <class R, class Self, class F, class... Ts>
void cluster_client::ask(Self* self, const cluster_options& opts, const std::string& ns,
                         F f, const Ts&... xs) const {
  auto policies =
      std::make_shared<call_policies>(resolve(opts, cluster_options{}, defaults_));
  ask_request req{ns, make_ask<detail::ask_element_t<R>>(xs...), std::move(policies)};
  // No CAF timeout: the gather answers by the call's deadline.
  self->request(caf::actor_cast<caf::actor>(dispatcher_), caf::infinite, std::move(req))
      .then([f, ns](ask_reply& rep) mutable { f(decode_ask<R>(rep, ns)); },
            [f](caf::error& err) mutable { f(caf::expected<R>{std::move(err)}); });
}

template <class R, class... Ts>
caf::expected<R> cluster_client::ask(const cluster_options& opts, const std::string& ns,
                                     const Ts&... xs) {
  using element = detail::ask_element_t<R>;
  auto policies =
      std::make_shared<call_policies>(resolve(opts, cluster_options{}, defaults_));
  auto rep = ask_raw(ask_request{ns, make_ask<element>(xs...), std::move(policies)});
  if (!rep)
    return std::move(rep.error());
  return decode_ask<R>(*rep, ns);
}

/// The equivalent of slacker's `defn-remote`: a typed remote function with
/// its own options (per call > these > the client's defaults).
/// ```
/// slacker::remote_fn<int64_t()> timestamp{sc, "slacker.example.api/timestamp"};
/// auto ts = timestamp();
/// ```
template <class Sig> class remote_fn;

template <class R, class... Args> class remote_fn<R(Args...)> {
public:
  remote_fn(cluster_client& sc, std::string qualified, cluster_options opts = {})
    : sc_(sc), qualified_(std::move(qualified)), opts_(std::move(opts)) {
    // nop
  }

  caf::expected<R> operator()(const Args&... xs) const {
    return sc_.call_with<R>(cluster_options{}, opts_, qualified_, xs...);
  }

  /// With per-call options.
  caf::expected<R> with(const cluster_options& per_call, const Args&... xs) const {
    return sc_.call_with<R>(per_call, opts_, qualified_, xs...);
  }

private:
  cluster_client& sc_;
  std::string qualified_;
  cluster_options opts_;
};

} // namespace slacker
