#include "slacker/cluster/registration.hpp"

#include "slacker/runtime/wire_options.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "slacker/runtime/blocking_request.hpp"

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/codec.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/registry/detail/registrar.hpp"
#include "slacker/registry/detail/zk_link.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/detail/metrics.hpp"

namespace slacker {

namespace {

/// Asks `who` and waits; the registry actors answer at once unless a
/// ZooKeeper call is under way.
template <class T, class Handle, class... Ts>
caf::expected<T> ask(caf::actor_system& sys, const Handle& who, Ts&&... xs) {
  return blocking_request<T>(sys, who, std::chrono::seconds{30}, std::forward<Ts>(xs)...);
}

std::map<std::string, std::vector<function_info>> namespaces_of(const server& srv) {
  std::map<std::string, std::vector<function_info>> result;
  for (auto& ns : srv.namespaces()) {
    auto fns = srv.functions(ns);
    result[ns] = fns ? std::move(*fns) : std::vector<function_info>{};
  }
  return result;
}

} // namespace

registration::registration(caf::actor_system& sys, const server& srv,
                           registration_options opts)
  : sys_(sys), srv_(srv), server_data_(opts.server_data) {
  configure_logging(sys.config());
  zk::set_client_log_level(
      caf::get_or(sys.config(), "slacker.log-level", std::string{"info"}));
  if (auto share = caf::get_if<double>(&sys.config(), "slacker.leader-step-down"))
    opts.zk.leader_step_down = *share;
  // Plaintext is for loopback: a server without TLS registers a non-loopback
  // address only when told it is on a trusted network (slacker.insecure).
  bool remote_ok = srv.takes_remote_peers();
  // A server that is not listening would be listed at port 0 (or at a port
  // it does not serve) and draw calls that cannot arrive.
  if (srv.port() == 0) {
    refused_ = make_error(sc::invalid_request,
                          "the server is not listening: publish() it (and check its "
                          "result) before registering it in cluster " +
                              opts.zk.cluster);
    spdlog::error("registry: {}", describe(refused_));
    return;
  }
  if (!opts.node.empty() && !remote_ok && !is_loopback(opts.node)) {
    refused_ =
        make_error(sc::forbidden,
                   "--node " + opts.node +
                       " is not on loopback and this server serves without TLS: "
                       "configure TLS (--tls-cert, --tls-key, --tls-ca) or --insecure");
    spdlog::error("registry: {}", describe(refused_));
    return;
  }
  for (auto& ns : srv.namespaces())
    routed_.insert(ns);
  cluster_ = opts.zk.cluster;
  if (auto err = metrics::serve_from(sys.config())) {
    refused_ = std::move(err);
    spdlog::error("registry: {}", describe(refused_));
    return;
  }
  if (metrics::enabled()) {
    health_ = metrics::add_health("registration in cluster " + cluster_, [this] {
      auto err = wait_registered(std::chrono::milliseconds{500});
      return err ? "not registered: " + describe(err) : std::string{};
    });
    status_ = metrics::add_status("overview", "member of cluster " + cluster_, [this] {
      auto err = wait_registered(std::chrono::milliseconds{200});
      std::vector<std::string> routed;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        routed.assign(routed_.begin(), routed_.end());
      }
      return nlohmann::json{{"cluster", cluster_},
                            {"registered", err ? "no: " + describe(err) : "yes"},
                            {"namespaces routed", routed}}
          .dump();
    });
  }
  actor_ =
      sys.spawn<caf::detached>(registrar_actor, std::move(opts.zk), opts.node, srv.port(),
                               std::move(opts.server_data), namespaces_of(srv), remote_ok,
                               zk::connector{zk::session::open});
}

caf::error registration::wait_registered(std::chrono::milliseconds timeout) {
  if (refused_)
    return refused_;
  if (!actor_)
    return make_error(sc::unavailable, "this server has left the cluster");
  auto res = blocking_request<bool>(sys_, actor_, timeout, wait_atom::value);
  if (!res)
    return code_of(res.error()) != sc::none
               ? res.error()
               : make_error(sc::timeout, "not registered within " +
                                             std::to_string(timeout.count()) + " ms");
  return {};
}

std::string registration::address() {
  if (!actor_)
    return {};
  auto res = blocking_request<std::string>(sys_, actor_, std::chrono::seconds{5},
                                           address_atom::value);
  return res ? *res : std::string{};
}

registration::~registration() {
  health_.reset(); // waits for a health check under way
  status_.reset();
  leave();
}

bool registration::begin_leaving(std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    routed_.clear();
  }
  if (!actor_)
    return false;
  auto res = blocking_request<bool>(sys_, actor_, timeout, leave_atom::value);
  return res && *res;
}

void registration::leave() {
  if (!actor_)
    return;
  // Wait until the actor is gone: its session (and every node) with it.
  caf::scoped_actor self{sys_};
  self->monitor(actor_);
  caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {});
  actor_ = nullptr;
}

std::string registration::server_data() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return server_data_;
}

void registration::set_server_data(const std::string& json) {
  std::lock_guard<std::mutex> updating{update_mtx_};
  store_server_data(json);
}

void registration::store_server_data(const std::string& json) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    server_data_ = json;
  }
  if (actor_)
    ask<bool>(sys_, actor_, set_data_atom::value, json);
}

caf::expected<std::string> registration::merge_server_data(const std::string& patch) {
  auto object = [](const std::string& text,
                   const char* what) -> caf::expected<nlohmann::json> {
    auto v = parse_json(text.data(), text.size());
    if (!v)
      return make_error(sc::invalid_request,
                        std::string{what} + " is not JSON: " + describe(v.error()));
    if (!v->is_object())
      return make_error(sc::invalid_request,
                        std::string{what} +
                            " is not a JSON object: " + excerpt(text, 60));
    return std::move(*v);
  };
  auto p = object(patch, "the patch");
  if (!p)
    return std::move(p.error());
  std::lock_guard<std::mutex> updating{update_mtx_};
  auto current = object(server_data(), "the server-data");
  if (!current)
    return std::move(current.error());
  current->merge_patch(*p);
  auto text = current->dump();
  store_server_data(text);
  return text;
}

std::set<std::string> registration::routed() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return routed_;
}

std::vector<std::string> registration::served() const {
  return srv_.namespaces();
}

void registration::offline() {
  for (auto& ns : srv_.namespaces())
    unpublish(ns);
}

void registration::online() {
  for (auto& ns : srv_.namespaces())
    publish(ns);
}

bool registration::publish(const std::string& ns) {
  if (!actor_)
    return false;
  auto fns = srv_.functions(ns);
  if (!fns)
    return false;
  auto res = ask<bool>(sys_, actor_, publish_atom::value, ns, std::move(*fns));
  if (!res || !*res)
    return false;
  std::lock_guard<std::mutex> guard{mtx_};
  routed_.insert(ns);
  return true;
}

bool registration::unpublish(const std::string& ns) {
  if (!actor_)
    return false;
  auto res = ask<bool>(sys_, actor_, unpublish_atom::value, ns);
  if (!res || !*res)
    return false;
  std::lock_guard<std::mutex> guard{mtx_};
  routed_.erase(ns);
  return true;
}

std::vector<std::string> registration::leading() {
  std::vector<std::string> result;
  for (auto& x : leaderships())
    result.push_back(x.ns);
  return result;
}

std::vector<leadership> registration::leaderships() {
  if (!actor_)
    return {};
  auto res = ask<std::vector<leadership>>(sys_, actor_, leaders_atom::value);
  return res ? std::move(*res) : std::vector<leadership>{};
}

std::optional<fencing_token> registration::fencing(const std::string& ns) {
  for (auto& x : leaderships())
    if (x.ns == ns)
      return x.token;
  return std::nullopt;
}

void registration::subscribe(const caf::actor& who) {
  if (actor_ && who)
    caf::anon_send(actor_, subscribe_atom::value, who);
}

caf::expected<zk::request_counts> registration::zk_requests() {
  return zk_requests_of(sys_, caf::actor_cast<caf::actor>(actor_));
}

} // namespace slacker
