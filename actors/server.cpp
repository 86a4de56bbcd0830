#include "slacker/actors/server.hpp"
#include "slacker/actors/blocking_request.hpp"

#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/settings.hpp>
#include <spdlog/spdlog.h>

#include "slacker/actors/namespace_actor.hpp"
#include "slacker/actors/server_front.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/runtime/config.hpp"

namespace slacker {

namespace {

std::shared_ptr<worker_pool> pool_from_config(caf::actor_system& sys) {
  auto& cfg = sys.config();
  return make_thread_pool(caf::get_or(cfg, "slacker.worker-threads", size_t{4}),
                          caf::get_or(cfg, "slacker.worker-queue", size_t{1024}));
}

} // namespace

server::server(caf::actor_system& sys) : server(sys, pool_from_config(sys)) {
  // nop
}

server::server(caf::actor_system& sys, std::shared_ptr<worker_pool> pool)
  : sys_(sys), pool_(std::move(pool)) {
  configure_logging(sys.config());
  log_calls_ = caf::get_or(sys.config(), "slacker.log-calls", false);
  on_network_thread_ =
      caf::get_or(sys.config(), "slacker.hot-path", std::string{"network"}) == "network";
  front_ = sys.spawn(server_front);
}

server::~server() {
  stop();
}

bool server::update(const std::string& name, caf::actor handler,
                    std::vector<function_info> functions) {
  return blocking_request<bool>(sys_, front_, caf::infinite, publish_atom::value, name,
                                std::move(handler), std::move(functions))
      .engaged();
}

server& server::add(ns functions) {
  auto name = functions.name();
  auto infos = functions.infos();
  auto fns = std::make_shared<const ns>(std::move(functions));
  auto handler = on_network_thread_ ? sys_.middleman().spawn_broker(namespace_broker, fns,
                                                                    pool_, log_calls_)
                                    : sys_.spawn(namespace_actor, fns, pool_, log_calls_);
  spawned_.push_back(handler);
  names_.push_back(name);
  update(name, handler, std::move(infos));
  return *this;
}

server& server::expose(const std::string& name, caf::actor handler,
                       std::vector<function_info> functions) {
  update(name, std::move(handler), std::move(functions));
  return *this;
}

bool server::remove(const std::string& name) {
  auto removed =
      blocking_request<bool>(sys_, front_, caf::infinite, unpublish_atom::value, name);
  return removed && *removed;
}

caf::expected<uint16_t> server::publish(uint16_t port, const std::string& bind) {
  auto res =
      sys_.middleman().publish(front_, port, bind.empty() ? nullptr : bind.c_str(), true);
  if (res) {
    port_ = *res;
    spdlog::info("slacker server: serving on {}:{}", bind.empty() ? "*" : bind, port_);
  } else {
    spdlog::error("slacker server: cannot serve on port {}: {}", port,
                  describe(res.error()));
  }
  return res;
}

bool server::drain(std::chrono::milliseconds timeout) {
  caf::scoped_actor self{sys_};
  auto until = std::chrono::steady_clock::now() + timeout;
  for (auto& a : spawned_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    bool done = false;
    if (left.count() > 0)
      self->request(a, left, drain_atom::value)
          .receive([&](bool) { done = true; }, [&](caf::error&) {});
    if (!done)
      return false;
  }
  return true;
}

std::vector<std::string> server::namespaces() const {
  return names_;
}

void server::stop() {
  if (!front_)
    return;
  if (port_ != 0) {
    sys_.middleman().unpublish(front_, port_);
    spdlog::info("slacker server: stopped serving on port {}", port_);
  }
  for (auto& a : spawned_)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(front_, caf::exit_reason::user_shutdown);
  spawned_.clear();
  front_ = nullptr;
  port_ = 0;
}

} // namespace slacker
