#include "slacker/actors/cluster_client.hpp"
#include "slacker/actors/blocking_request.hpp"

#include <caf/io/middleman.hpp>
#include <caf/settings.hpp>

#include "slacker/actors/dispatcher.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/runtime/config.hpp"

namespace slacker {

namespace {

zk_options make_zk(std::string cluster, std::string zk) {
  zk_options opts;
  opts.cluster = std::move(cluster);
  opts.zk = std::move(zk);
  return opts;
}

} // namespace

cluster_client::cluster_client(caf::actor_system& sys, std::string cluster,
                               std::string zk, cluster_options defaults)
  : cluster_client(sys, make_zk(std::move(cluster), std::move(zk)), std::move(defaults)) {
  // nop
}

cluster_client::cluster_client(caf::actor_system& sys, zk_options zk,
                               cluster_options defaults)
  : sys_(sys), cluster_(zk.cluster), defaults_(std::move(defaults)) {
  configure_logging(sys.config());
  registry_ = std::make_unique<registry>(sys, std::move(zk));
  if (caf::get_or(sys.config(), "slacker.dispatcher-hot-path",
                  std::string{"scheduled"}) == "network")
    dispatcher_ =
        sys.middleman().spawn_broker(dispatcher_broker, cluster_, registry_->actor());
  else
    dispatcher_ = sys.spawn(dispatcher_actor, cluster_, registry_->actor());
  // Subscribed from here, so that it hears of changes before any subscriber
  // that comes later (the registry tells subscribers in order).
  caf::anon_send(registry_->actor(), subscribe_atom::value, dispatcher_);
}

cluster_client::~cluster_client() {
  caf::anon_send_exit(dispatcher_, caf::exit_reason::user_shutdown);
}

const caf::actor& cluster_client::registry_actor() const {
  return registry_->actor();
}

caf::expected<cluster_reply> cluster_client::invoke(cluster_call call) {
  // The gather enforces the deadline; the margin only guards against a
  // dispatcher that is itself gone.
  auto timeout = call.policies->timeout + std::chrono::seconds{1};
  return blocking_request<cluster_reply>(sys_, dispatcher_, timeout, std::move(call));
}

caf::expected<std::string> cluster_client::server_data(const std::string& addr) {
  return blocking_request<std::string>(sys_, dispatcher_, std::chrono::seconds{10},
                                       server_data_atom::value, addr);
}

void cluster_client::on_server_data_change(
    std::function<void(const std::string&, const std::string&)> fn) {
  caf::anon_send(dispatcher_, server_data_handler{std::move(fn)});
}

caf::expected<membership_view> cluster_client::members() {
  return blocking_request<membership_view>(sys_, dispatcher_, std::chrono::seconds{10},
                                           view_atom::value);
}

} // namespace slacker
