#include "slacker/registry/registry.hpp"

#include <algorithm>
#include <thread>

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/registry/detail/registry_actor.hpp"
#include "slacker/runtime/blocking_request.hpp"
#include "slacker/runtime/config.hpp"

namespace slacker {

registry::registry(caf::actor_system& sys, zk_options opts) : sys_(sys) {
  configure_logging(sys.config());
  zk::set_client_log_level(
      caf::get_or(sys.config(), "slacker.log-level", std::string{"info"}));
  live_ = std::make_shared<live_registry_state>();
  actor_ = sys.spawn<caf::detached>(registry_actor, std::move(opts), live_,
                                    zk::connector{zk::session::open});
}

registry::~registry() {
  caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
}

registry_state registry::state() const {
  return live_->load();
}

caf::expected<membership_view> registry::view(std::chrono::milliseconds timeout) {
  return blocking_request<membership_view>(sys_, actor_, timeout, view_atom::value);
}

caf::expected<zk::request_counts> registry::zk_requests() {
  return zk_requests_of(sys_, caf::actor_cast<caf::actor>(actor_));
}

caf::expected<membership_view>
registry::wait_until(const std::function<bool(const membership_view&)>& pred,
                     std::chrono::milliseconds timeout) {
  // Each read waits for the registry actor no longer than what is left.
  return wait_for_view([this](std::chrono::milliseconds left) { return view(left); },
                       pred, timeout);
}

caf::expected<membership_view> wait_for_view(
    const std::function<caf::expected<membership_view>(std::chrono::milliseconds)>& read,
    const std::function<bool(const membership_view&)>& pred,
    std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    auto v = read(std::max(left, std::chrono::milliseconds{1}));
    // Not answered in time (a registry inside a ZooKeeper call): not yet.
    bool unanswered = !v && v.error() == caf::sec::request_timeout;
    if (!unanswered && (!v || pred(*v)))
      return v;
    if (std::chrono::steady_clock::now() >= until)
      return make_error(sc::timeout, "the cluster's membership did not reach what was "
                                     "waited for within " +
                                         std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

} // namespace slacker
