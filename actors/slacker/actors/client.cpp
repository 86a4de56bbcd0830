#include "slacker/actors/client.hpp"
#include "slacker/runtime/blocking_request.hpp"

#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>
#include <caf/settings.hpp>

#include "slacker/actors/detail/blocking_lane.hpp"
#include "slacker/actors/detail/client_connection.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/runtime/config.hpp"

namespace slacker {

caf::expected<call_request> make_encoded_call(call_options opts,
                                              const std::string& qualified, bytes args) {
  call_request req;
  if (!split_function_name(qualified, req.ns, req.fn))
    return make_error(sc::invalid_request,
                      "'" + qualified + "' is not of the form namespace/function");
  req.codec = opts.codec;
  req.args = std::move(args);
  req.deadline_ns = detail::deadline_after(opts.timeout);
  req.ext = std::move(opts.ext);
  return req;
}

namespace detail {

int64_t deadline_after(std::chrono::milliseconds timeout) {
  auto at = std::chrono::system_clock::now() + timeout;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch())
      .count();
}

} // namespace detail

client::client(caf::actor_system& sys, const std::string& address)
  : sys_(sys), address_(address), pool_(std::make_unique<scoped_pool>(sys)) {
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
  actor_ = caf::actor_cast<connection_actor_type>(sys.middleman().spawn_broker(
      client_connection, std::move(host), port, opts, link_hooks{}));
}

client::client(caf::actor_system& sys, std::string host, uint16_t port)
  : client(sys, host + ":" + std::to_string(port)) {
  // nop
}

client::~client() {
  if (actor_)
    caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
}

caf::expected<call_reply> client::invoke(call_request req,
                                         std::chrono::milliseconds timeout) {
  if (invalid_)
    return invalid_;
  if (req.deadline_ns == 0)
    req.deadline_ns = detail::deadline_after(timeout);
  if (lane_) {
    blocking_lane::attempt how;
    how.timeout = timeout;
    return lane_->call(req, &how);
  }
  // The connection broker answers every call (its deadline, or the end of
  // its connection).
  return pool_->request<call_reply>(actor_, std::move(req));
}

caf::expected<ask_reply> client::ask_raw(ask_request req) {
  if (invalid_)
    return invalid_;
  auto gather = sys_.spawn(ask_gather, std::move(req),
                           std::vector<std::pair<std::string, caf::actor>>{
                               {address_, caf::actor_cast<caf::actor>(actor_)}});
  return pool_->request<ask_reply>(gather, gather_atom::value);
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
  return blocking_request<std::vector<std::string>>(
      sys_, actor_, std::chrono::seconds{10}, inspect_atom::value);
}

caf::expected<std::vector<function_info>> client::functions(const std::string& ns) {
  if (invalid_)
    return invalid_;
  return blocking_request<std::vector<function_info>>(
      sys_, actor_, std::chrono::seconds{10}, inspect_atom::value, ns);
}

} // namespace slacker
