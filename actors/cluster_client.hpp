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

#include "slacker/actors/client.hpp"
#include "slacker/actors/cluster_call.hpp"
#include "slacker/actors/dispatcher.hpp"
#include "slacker/messages/membership.hpp"
#include "slacker/registry/options.hpp"

namespace slacker {

class registry;

namespace detail {

// is_std_vector and is_string_map come from messages/codec.hpp.

template <class T>
struct identity {
  using value_type = T;
};

template <class M>
struct mapped_of {
  using value_type = typename M::mapped_type;
};

} // namespace detail

/// Turns a cluster reply into the typed result `R`, following the results
/// policy: `single` decodes `R`; `vector` needs `R = std::vector<T>`; `map`
/// needs `R = std::map<std::string, T>` (keyed "host:port"); `nil` gives `R{}`.
template <class R>
caf::expected<R> decode_cluster(const call_policies& policies, const cluster_reply& rep,
                                const std::string& what) {
  auto one = [&](const call_reply& r) -> caf::expected<R> { return result_of<R>(r); };
  if (rep.whole) {
    if (rep.replies.empty())
      return make_error(sc::codec_error, what + ": empty result");
    return one(rep.replies.front());
  }
  auto kind = std::get_if<results_kind>(&policies.results);
  auto k = kind ? *kind : results_kind::single;
  if constexpr (std::is_void_v<R>) {
    return caf::unit;
  } else {
    if (k == results_kind::nil)
      return R{};
    if (k == results_kind::single) {
      if (rep.replies.empty())
        return make_error(sc::unavailable, what + ": no server returned a result");
      return one(rep.replies.front());
    }
    if constexpr (detail::is_std_vector<R>::value) {
      if (k == results_kind::vector) {
        R out;
        for (auto& r : rep.replies) {
          auto x = result_of<typename R::value_type>(r);
          if (!x)
            return std::move(x.error());
          out.push_back(std::move(*x));
        }
        return out;
      }
    }
    if constexpr (detail::is_string_map<R>::value) {
      if (k == results_kind::map) {
        R out;
        for (size_t i = 0; i < rep.replies.size(); ++i) {
          auto x = result_of<typename R::mapped_type>(rep.replies[i]);
          if (!x)
            return std::move(x.error());
          out.emplace(rep.addrs[i], std::move(*x));
        }
        return out;
      }
    }
    return make_error(sc::invalid_request,
                      what + ": results " + to_string(k)
                        + " needs a std::vector (vector) or std::map<std::string, T> (map) "
                          "result type");
  }
}

/// A typed results function from a reducer of (address, value) pairs:
/// `slacker::reduce<int64_t>([](auto& pairs) { sum... })`.
template <class T, class F>
results_fn reduce(F f) {
  return [f = std::move(f)](codec_id c, const std::vector<server_result>& xs)
           -> caf::expected<bytes> {
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
/// auto each = sc.call<std::map<std::string, int64_t>>(all, "slacker.example.api/timestamp");
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
  caf::expected<R> call_with(const cluster_options& per_call, const cluster_options& per_fn,
                             const std::string& qualified, const Ts&... xs) {
    auto call = prepare(per_call, per_fn, qualified, xs...);
    if (!call)
      return std::move(call.error());
    auto policies = call->policies;
    auto what = qualified;
    auto rep = invoke(std::move(*call));
    if (!rep)
      return std::move(rep.error());
    return decode_cluster<R>(*policies, *rep, what);
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
    auto policies = call->policies;
    auto timeout = policies->timeout + std::chrono::seconds{1};
    sys_.spawn([=, d = dispatcher_, c = std::move(*call), cb = std::move(callback)](
                 caf::event_based_actor* self) mutable {
      self->request(d, timeout, std::move(c))
        .then([=](cluster_reply& rep) { cb(decode_cluster<R>(*policies, rep, qualified)); },
              [=](caf::error& err) { cb(std::move(err)); });
    });
  }

  /// Fire-and-forget: the call runs, its result is dropped.
  template <class... Ts>
  caf::error send(const std::string& qualified, const Ts&... xs) {
    auto call = prepare(cluster_options{}, cluster_options{}, qualified, xs...);
    if (!call)
      return std::move(call.error());
    caf::anon_send(dispatcher_, std::move(*call));
    return {};
  }

  /// Sends the plain CAF message `xs...` to the user actors serving namespace
  /// `ns` on the servers the grouping picks, and collects their one-element
  /// answers of type `E` as the results policy says: `R` is `E` (single),
  /// `std::vector<E>` (vector), `std::map<std::string, E>` (map). Exceptions:
  /// `all` or `any` (a user function applies to function calls only). A server
  /// that dies mid-call counts at once as `connection_broken`.
  template <class R, class... Ts>
  caf::expected<R> ask(const cluster_options& opts, const std::string& ns, const Ts&... xs);

  /// Builds a call: resolves the options and encodes the arguments.
  template <class... Ts>
  caf::expected<cluster_call> prepare(const cluster_options& per_call,
                                      const cluster_options& per_fn,
                                      const std::string& qualified, const Ts&... xs) {
    auto policies = std::make_shared<call_policies>(resolve(per_call, per_fn, defaults_));
    call_options opts;
    opts.timeout = policies->timeout;
    opts.codec = policies->codec;
    opts.ext = policies->ext;
    auto req = make_call(opts, qualified, xs...);
    if (!req)
      return std::move(req.error());
    return cluster_call{std::move(*req), std::move(policies)};
  }

  /// Runs a prepared call and waits for its reply.
  caf::expected<cluster_reply> invoke(cluster_call call);

  /// The server-data a server registered (JSON text), as this client knows it.
  caf::expected<std::string> server_data(const std::string& addr);

  /// Runs `fn(addr, data)` on every server-data change (on a CAF thread).
  void on_server_data_change(std::function<void(const std::string&, const std::string&)> fn);

  /// What this client knows of the cluster.
  caf::expected<membership_view> members();

  /// The dispatcher: actors send it `cluster_call`s (see `prepare`) and get
  /// `cluster_reply`s; decode them with `decode_cluster<R>`.
  const caf::actor& dispatcher() const noexcept {
    return dispatcher_;
  }

  /// The registry this client follows (subscribe to it for events).
  const caf::actor& registry_actor() const;

  const cluster_options& defaults() const noexcept {
    return defaults_;
  }

private:
  caf::actor_system& sys_;
  std::string cluster_;
  cluster_options defaults_;
  std::unique_ptr<registry> registry_;
  caf::actor dispatcher_;
};

template <class R, class... Ts>
caf::expected<R> cluster_client::ask(const cluster_options& opts, const std::string& ns,
                                     const Ts&... xs) {
  auto p = resolve(opts, cluster_options{}, defaults_);
  auto kind = std::get_if<results_kind>(&p.results);
  auto k = kind ? *kind : results_kind::single;
  using element = typename std::conditional_t<
    detail::is_std_vector<R>::value, R,
    std::conditional_t<detail::is_string_map<R>::value, detail::mapped_of<R>,
                       detail::identity<R>>>::value_type;
  caf::scoped_actor self{sys_};
  picked_actors picked;
  caf::error err;
  self->request(dispatcher_, p.timeout, actor_pick{ns, p.grouping})
    .receive([&](picked_actors& x) { picked = std::move(x); },
             [&](caf::error& e) { err = std::move(e); });
  if (err)
    return err;
  std::vector<std::pair<std::string, element>> oks;
  auto failures = picked.failures;
  std::map<caf::actor_addr, std::string> waiting;
  for (size_t i = 0; i < picked.handlers.size(); ++i) {
    waiting.emplace(picked.handlers[i].address(), picked.addrs[i]);
    self->monitor(picked.handlers[i]);
    // A plain send: the answer comes back as an ordinary message, so a
    // down_msg can end the wait for that server at once.
    self->send(picked.handlers[i], xs...);
  }
  auto deadline = std::chrono::steady_clock::now() + p.timeout;
  auto any = std::get_if<exceptions_kind>(&p.exceptions);
  auto fail_fast = any && *any == exceptions_kind::any;
  while (!waiting.empty() && !(fail_fast && !failures.empty())
         && !(k == results_kind::single && !oks.empty())) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= decltype(left)::zero())
      break;
    auto from = [&]() -> std::optional<std::string> {
      auto i = waiting.find(caf::actor_cast<caf::actor_addr>(self->current_sender()));
      if (i == waiting.end())
        return std::nullopt;
      auto addr = i->second;
      waiting.erase(i);
      return addr;
    };
    self->receive(
      [&](element& x) {
        if (auto addr = from())
          oks.emplace_back(*addr, std::move(x));
      },
      [&](caf::error& e) {
        if (auto addr = from())
          failures.push_back({*addr, with_origin(e, *addr)});
      },
      [&](caf::down_msg& msg) {
        auto i = waiting.find(msg.source);
        if (i != waiting.end()) {
          failures.push_back({i->second, make_error(sc::connection_broken,
                                                    ns + ": connection to " + i->second
                                                      + " lost")});
          waiting.erase(i);
        }
      },
      caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(left)) >> [] {});
  }
  for (auto& kvp : waiting)
    failures.push_back({kvp.second, make_error(sc::timeout, ns + " on " + kvp.second
                                                              + ": no reply in time")});
  for (auto& h : picked.handlers)
    self->demonitor(h);
  std::vector<server_result> ok_marks(oks.size());
  for (size_t i = 0; i < oks.size(); ++i)
    ok_marks[i].addr = oks[i].first;
  if (auto e = fail_fast ? exceptions::any(ns, ok_marks, failures)
                         : exceptions::all(ns, ok_marks, failures))
    return *e;
  if constexpr (detail::is_std_vector<R>::value) {
    if (k == results_kind::vector)
      return results::vector(std::move(oks));
  } else if constexpr (detail::is_string_map<R>::value) {
    if (k == results_kind::map)
      return results::map(std::move(oks));
  } else {
    if (k == results_kind::nil)
      return R{};
    if (k == results_kind::single) {
      if (oks.empty())
        return make_error(sc::unavailable, ns + ": no server answered");
      return results::single(std::move(oks));
    }
  }
  return make_error(sc::invalid_request, ns + ": results " + to_string(k)
                                           + " does not fit the requested result type");
}

/// The equivalent of slacker's `defn-remote`: a typed remote function with
/// its own options (per call > these > the client's defaults).
/// ```
/// slacker::remote_fn<int64_t()> timestamp{sc, "slacker.example.api/timestamp"};
/// auto ts = timestamp();
/// ```
template <class Sig>
class remote_fn;

template <class R, class... Args>
class remote_fn<R(Args...)> {
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
