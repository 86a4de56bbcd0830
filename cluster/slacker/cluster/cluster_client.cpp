#include "slacker/cluster/cluster_client.hpp"

#include <nlohmann/json.hpp>

#include <caf/scoped_actor.hpp>
#include <spdlog/spdlog.h>

#include <caf/io/middleman.hpp>
#include <caf/settings.hpp>

#include "slacker/actors/detail/accrual.hpp"
#include "slacker/actors/detail/caller_path.hpp"
#include "slacker/actors/detail/dispatcher.hpp"
#include "slacker/actors/detail/routes.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/detail/metrics.hpp"

namespace slacker {

namespace {

zk_options make_zk(std::string cluster, std::string zk) {
  zk_options opts;
  opts.cluster = std::move(cluster);
  opts.zk = std::move(zk);
  return opts;
}

/// One call for `invoke_async`: the call and what to do with its reply.
struct async_call {
  cluster_call call;
  std::function<void(caf::expected<cluster_reply>)> done;
};

} // namespace

} // namespace slacker

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(slacker::async_call)

namespace slacker {

namespace {

/// Runs `invoke_async` calls: one long-lived actor per client instead of one
/// spawned per call; each call goes where the routes say (`board`, null:
/// to the dispatcher).
caf::behavior async_front(caf::event_based_actor* self, caf::actor dispatcher,
                          std::shared_ptr<route_board> board) {
  return {
      [=](async_call& x) {
        request_on_routes(self, board.get(), dispatcher, std::move(x.call),
                          std::move(x.done));
      },
  };
}

} // namespace

cluster_client::cluster_client(caf::actor_system& sys, std::string cluster,
                               std::string zk, cluster_options defaults)
  : cluster_client(sys, make_zk(std::move(cluster), std::move(zk)), std::move(defaults)) {
  // nop
}

cluster_client::cluster_client(caf::actor_system& sys, zk_options zk,
                               cluster_options defaults)
  : sys_(sys), cluster_(zk.cluster), defaults_(std::move(defaults)),
    pool_(std::make_unique<scoped_pool>(sys)) {
  configure_logging(sys.config());
  // slacker.grouping: the default grouping of this process's cluster clients
  // (any registered name) when the code sets none.
  if (!defaults_.grouping)
    if (auto name = caf::get_or(sys.config(), "slacker.grouping", std::string{});
        !name.empty())
      defaults_.grouping = grouping_named(name);
  plain_ = std::make_shared<call_policies>(resolve({}, {}, defaults_));
  auto session_timeout = zk.session_timeout;
  registry_ = std::make_unique<registry>(sys, std::move(zk));
  if (auto err = metrics::serve_from(sys.config())) // runs on without metrics
    spdlog::error("metrics: {}", describe(err));
  if (metrics::enabled()) {
    auto label = "cluster=\"" + cluster_ + "\"";
    auto* reg = registry_.get(); // read without asking its actor
    auto view = [reg] {
      return reg->state();
    };
    metrics_.push_back(metrics::add_gauge(
        "slacker_registry_connected", label,
        "1 while the client's ZooKeeper view is current",
        [view] { return view().status == registry_status::connected ? 1.0 : 0.0; }));
    metrics_.push_back(metrics::add_gauge(
        "slacker_registry_view_age_seconds", label,
        "time since the client's view of the cluster was last known current",
        [view] { return static_cast<double>(view().view_age_ms) / 1000; }));
    metrics_.push_back(
        metrics::add_health("cluster client of " + cluster_, [view, session_timeout] {
          auto v = view();
          if (v.status == registry_status::connected)
            return std::string{};
          if (v.view_age_ms <= session_timeout.count())
            return std::string{};
          if (v.status == registry_status::connecting) // never reached yet
            return "ZooKeeper not reached for " + std::to_string(v.view_age_ms) + " ms";
          return "ZooKeeper lost for " + std::to_string(v.view_age_ms) + " ms (" +
                 to_string(v.status) + ")";
        }));
  }
  if (metrics::enabled()) {
    // The status portal: this client in the overview, and the cluster as
    // it sees it (members, leaders, each server's routing state).
    auto* reg = registry_.get();
    metrics_.push_back(metrics::add_status(
        "overview", "cluster client of " + cluster_, [reg, cluster = cluster_] {
          auto v = reg->state();
          return nlohmann::json{{"role", "cluster client"},
                                {"cluster", cluster},
                                {"ZooKeeper", to_string(v.status)},
                                {"view age (ms)", v.view_age_ms}}
              .dump();
        }));
    metrics_.push_back(metrics::add_status("cluster", "cluster " + cluster_,
                                           [this] { return status_of_cluster(); }));
  }
  // Callers choose their server on routes the dispatcher publishes; blocking
  // calls do their I/O in the calling thread (slacker.blocking-calls=lane).
  board_ = std::make_shared<route_board>();
  if (on_network_thread(sys.config(), hot_path::dispatcher))
    dispatcher_ = caf::actor_cast<dispatcher_internal_type>(sys.middleman().spawn_broker(
        dispatcher_broker, cluster_, caf::actor_cast<caf::actor>(registry_->actor()),
        board_));
  else
    dispatcher_ = sys.spawn(dispatcher_actor, cluster_,
                            caf::actor_cast<caf::actor>(registry_->actor()),
                            link_factory{}, board_);
  dispatcher_any_ = caf::actor_cast<caf::actor>(dispatcher_);
  async_ = sys.spawn(async_front, dispatcher_any_, board_);
  // Subscribed from here, so that it hears of changes before any subscriber
  // that comes later (the registry tells subscribers in order).
  caf::anon_send(registry_->actor(), subscribe_atom::value,
                 caf::actor_cast<caf::actor>(dispatcher_));
}

cluster_client::~cluster_client() {
  metrics_.clear(); // waits for a scrape under way
  // Waits until the dispatcher has ended: on the network thread, a broker
  // still holding messages when the actor system stops its network module
  // would keep their senders (the registry's detached actor) alive, and the
  // actor system would wait for that thread forever.
  caf::scoped_actor self{sys_};
  self->monitor(dispatcher_);
  caf::anon_send_exit(async_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(dispatcher_, caf::exit_reason::user_shutdown);
  self->receive([](const caf::down_msg&) {},
                caf::after(std::chrono::seconds{5}) >>
                    [] {
                      spdlog::warn(
                          "slacker: the cluster client's dispatcher did not end in 5 s");
                    });
}

void cluster_client::subscribe(const caf::actor& who) {
  caf::anon_send(dispatcher_, subscribe_atom::value, who);
}

void cluster_client::warm_up(const std::string& ns) {
  caf::anon_send(dispatcher_, caf::connect_atom::value, ns);
}

const registry_actor_type& cluster_client::registry_actor() const {
  return registry_->actor();
}

caf::expected<cluster_call>
cluster_client::assemble(std::shared_ptr<const call_policies> policies,
                         const std::string& qualified, bytes args) {
  // The extensions were merged once (resolve); they travel in the request.
  call_options opts;
  opts.timeout = policies->timeout;
  opts.codec = policies->codec;
  opts.ext = policies->ext;
  auto req = make_encoded_call(std::move(opts), qualified, std::move(args));
  if (!req)
    return std::move(req.error());
  return cluster_call{std::move(*req), std::move(policies), {}, false};
}

caf::expected<cluster_call>
cluster_client::prepare_encoded(const cluster_options& per_call,
                                const cluster_options& per_fn,
                                const std::string& qualified, bytes args) const {
  return assemble(policies_for(per_call, per_fn), qualified, std::move(args));
}

std::shared_ptr<const call_policies>
cluster_client::policies_for(const cluster_options& per_call,
                             const cluster_options& per_fn) const {
  if (sets_nothing(per_call) && sets_nothing(per_fn))
    return plain_;
  return std::make_shared<call_policies>(resolve(per_call, per_fn, defaults_));
}

caf::actor cluster_client::destination(cluster_call& call) const {
  if (!board_)
    return dispatcher_any_;
  auto route = route_for_actor(*board_, call, dispatcher_any_, false);
  return route.conn ? caf::actor_cast<caf::actor>(*route.conn) : route.to;
}

bool cluster_client::chooses_servers(const std::string& ns) const {
  auto table = board_->read();
  auto i = table->namespaces.find(ns);
  return table->open && i != table->namespaces.end() && i->second.direct;
}

caf::expected<cluster_reply> cluster_client::invoke(cluster_call call) {
  if (board_) {
    auto out = call_on_routes(*board_, call, dispatcher_any_);
    switch (out.what) {
      case caller_outcome::kind::done:
        return std::move(out.result);
      case caller_outcome::kind::resend: {
        auto idempotent = call.idempotent;
        return pool_->request<cluster_reply>(
            caf::actor_cast<dispatcher_internal_type>(dispatcher_), resend_atom::value,
            std::move(call), std::move(out.cause), out.charged, idempotent);
      }
      case caller_outcome::kind::dispatcher:
        break;
    }
  }
  // The dispatcher answers every call it gets: the connection brokers time
  // them out (or fail them when their connection ends).
  return pool_->request<cluster_reply>(dispatcher_, std::move(call));
}

void cluster_client::invoke_async(
    cluster_call call, std::function<void(caf::expected<cluster_reply>)> done) {
  caf::anon_send(async_, async_call{std::move(call), std::move(done)});
}

caf::expected<ask_reply> cluster_client::ask_raw(ask_request req) {
  return pool_->request<ask_reply>(dispatcher_, std::move(req));
}

caf::expected<std::string> cluster_client::server_data(const std::string& addr) {
  return pool_->request<std::string>(dispatcher_, server_data_atom::value, addr);
}

void cluster_client::on_server_data_change(
    std::function<void(const std::string&, const std::string&)> fn) {
  caf::anon_send(dispatcher_, server_data_handler{std::move(fn)});
}

std::string cluster_client::status_of_cluster() {
  // The view the dispatcher published at its last change: no work for the
  // network thread per page, whatever the size of the cluster.
  auto seen = board_->view();
  if (!seen)
    return nlohmann::json{{"error", "no view of the cluster yet"}}.dump();
  auto* v = &seen->view;
  auto age = v->state.status == registry_status::connected
                 ? int64_t{0}
                 : std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - seen->current_at)
                       .count();
  std::map<std::string, std::vector<std::string>> provides;
  for (auto& [ns, addrs] : v->namespaces)
    for (auto& addr : addrs)
      provides[addr].push_back(ns);
  // Whom the callers pass over now, by the health on the routes they read.
  std::map<std::string, const accrual::health*> health;
  for (auto& [ns, e] : board_->read()->namespaces)
    for (auto& s : e.servers)
      if (s && s->health)
        health.emplace(s->addr, s->health.get());
  auto passed_over = [&](const std::string& addr) -> const char* {
    auto h = health.find(addr);
    if (h == health.end())
      return nullptr;
    return accrual::shedding(*h->second) ? "shedding"
           : accrual::quiet(*h->second)  ? "unheard"
                                         : nullptr;
  };
  auto servers = nlohmann::json::array();
  for (auto& [addr, data] : v->servers) {
    auto counts = metrics::peer(cluster_, addr);
    auto ejections = counts->ejected_timeouts.load() + counts->ejected_slow.load();
    auto& nss = provides[addr];
    const char* avoided = passed_over(addr);
    const char* state = v->leaving.count(addr) > 0 ? "draining"
                        : nss.empty()              ? "offline"
                        : !counts->routable.load()
                            ? (ejections > 0 ? "ejected" : "unreachable")
                        : avoided ? avoided
                                  : "routed";
    servers.push_back({{"addr", addr},
                       {"data", data},
                       {"namespaces", nss},
                       {"state", state},
                       {"calls", counts->calls.load()},
                       {"ejections", ejections}});
  }
  auto leaders = nlohmann::json::array();
  for (auto& [ns, addr] : v->leaders) {
    std::string token;
    if (auto t = v->tokens.find(ns); t != v->tokens.end())
      token = std::to_string(t->second.incarnation) + ":" +
              std::to_string(t->second.sequence);
    leaders.push_back({{"ns", ns}, {"addr", addr}, {"token", token}});
  }
  return nlohmann::json{{"zookeeper", to_string(v->state.status)},
                        {"view_age_ms", age},
                        {"servers", servers},
                        {"leaders", leaders}}
      .dump();
}

caf::expected<membership_view> cluster_client::members() {
  return pool_->request<membership_view>(dispatcher_, view_atom::value);
}

caf::expected<membership_view>
cluster_client::wait_until(const std::function<bool(const membership_view&)>& pred,
                           std::chrono::milliseconds timeout) {
  // The dispatcher answers from its own state: at once.
  return wait_for_view([this](std::chrono::milliseconds) { return members(); }, pred,
                       timeout);
}

} // namespace slacker
