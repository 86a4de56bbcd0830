#include "slacker/actors/client.hpp"
#include "slacker/actors/blocking_request.hpp"

#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>
#include <caf/settings.hpp>

#include "slacker/actors/blocking_lane.hpp"
#include "slacker/actors/client_connection.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/runtime/config.hpp"

namespace slacker {

namespace detail {

int64_t deadline_after(std::chrono::milliseconds timeout) {
  auto at = std::chrono::system_clock::now() + timeout;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch())
      .count();
}

} // namespace detail

client::client(caf::actor_system& sys, const std::string& address)
  : sys_(sys), address_(address) {
  configure_logging(sys.config());
  std::string host;
  uint16_t port = 0;
  if (!split_address(address, host, port)) {
    invalid_ = make_error(sc::invalid_request,
                          "'" + address + "' is not a server address (host:port)");
    return;
  }
  auto opts = wire_options::from(sys.config());
  if (caf::get_or(sys.config(), "slacker.blocking-calls", std::string{"lane"}) == "lane")
    lane_ = std::make_unique<blocking_lane>(host, port, opts);
  actor_ = sys.middleman().spawn_broker(client_connection, std::move(host), port, opts,
                                        caf::actor{});
}

client::client(caf::actor_system& sys, std::string host, uint16_t port)
  : client(sys, host + ":" + std::to_string(port)) {
  // nop
}

client::~client() {
  if (actor_)
    caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
}

client::borrowed_self::borrowed_self(client& owner) : owner_(owner) {
  std::lock_guard<std::mutex> guard{owner.idle_mtx_};
  if (!owner.idle_.empty()) {
    self_ = std::move(owner.idle_.back());
    owner.idle_.pop_back();
  } else {
    self_ = std::make_unique<caf::scoped_actor>(owner.sys_);
  }
}

client::borrowed_self::~borrowed_self() {
  std::lock_guard<std::mutex> guard{owner_.idle_mtx_};
  owner_.idle_.push_back(std::move(self_));
}

caf::expected<call_reply> client::invoke(call_request req,
                                         std::chrono::milliseconds timeout) {
  if (invalid_)
    return invalid_;
  if (req.deadline_ns == 0)
    req.deadline_ns = detail::deadline_after(timeout);
  if (lane_)
    return lane_->call(std::move(req));
  borrowed_self self{*this};
  caf::expected<call_reply> result{caf::error{}};
  // The client actor enforces the deadline; the margin only guards against a
  // client actor that is itself gone.
  (*self)
      ->request(actor_, timeout + std::chrono::seconds{1}, std::move(req))
      .receive([&](call_reply& rep) { result = std::move(rep); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<caf::actor> client::lookup(const std::string& ns) {
  if (invalid_)
    return invalid_;
  return blocking_request<caf::actor>(sys_, actor_, std::chrono::seconds{10},
                                      lookup_atom::value, ns);
}

caf::expected<std::vector<std::string>> client::namespaces() {
  if (invalid_)
    return invalid_;
  return blocking_request<std::vector<std::string>>(sys_, actor_, std::chrono::seconds{10},
                                                    inspect_atom::value);
}

caf::expected<std::vector<function_info>> client::functions(const std::string& ns) {
  if (invalid_)
    return invalid_;
  return blocking_request<std::vector<function_info>>(sys_, actor_, std::chrono::seconds{10},
                                                      inspect_atom::value, ns);
}

} // namespace slacker
