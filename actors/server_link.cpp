#include "slacker/actors/server_link.hpp"

#include <caf/actor_system.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <spdlog/spdlog.h>

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/call.hpp"
#include "slacker/messages/error.hpp"

namespace slacker {

server_link::server_link(std::string host, uint16_t port)
  : host_(std::move(host)), port_(port), address_(host_ + ":" + std::to_string(port)) {
  // nop
}

std::shared_ptr<server_link> server_link::make(const std::string& address) {
  std::string host;
  uint16_t port = 0;
  if (!split_address(address, host, port))
    return nullptr;
  return std::make_shared<server_link>(std::move(host), port);
}

template <class Self>
void server_link::connect(Self* self, connect_callback cb) {
  if (front_) {
    cb(caf::error{});
    return;
  }
  on_connect_.push_back(std::move(cb));
  if (connecting_)
    return;
  connecting_ = true;
  std::weak_ptr<server_link> weak = shared_from_this();
  auto flush = [weak](const caf::error& err) {
    auto link = weak.lock();
    if (!link)
      return;
    auto callbacks = std::move(link->on_connect_);
    link->on_connect_.clear();
    link->connecting_ = false;
    for (auto& f : callbacks)
      f(err);
  };
  auto mm = self->home_system().middleman().actor_handle();
  self->request(mm, caf::infinite, caf::connect_atom::value, host_, port_)
    .then(
      [=](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
        auto link = weak.lock();
        if (!link)
          return;
        if (!ptr) {
          flush(make_error(sc::connection_broken,
                           "no slacker server published at " + link->address_));
          return;
        }
        link->front_ = caf::actor_cast<caf::actor>(ptr);
        self->monitor(link->front_);
        spdlog::debug("slacker: connected to {}", link->address_);
        flush(caf::error{});
      },
      [=](caf::error& err) {
        auto link = weak.lock();
        if (!link)
          return;
        spdlog::debug("slacker: cannot connect to {}: {}", link->address_, describe(err));
        flush(make_error(sc::connection_broken,
                         "cannot connect to " + link->address_ + ": " + describe(err)));
      });
}

template <class Self>
void server_link::with_handler(Self* self, const std::string& ns, handler_callback cb) {
  if (auto i = handlers_.find(ns); i != handlers_.end()) {
    cb(i->second);
    return;
  }
  auto& waiting = on_handler_[ns];
  waiting.push_back(std::move(cb));
  if (waiting.size() > 1)
    return; // a lookup is under way
  std::weak_ptr<server_link> weak = shared_from_this();
  auto flush = [weak, ns](caf::expected<caf::actor> res) {
    auto link = weak.lock();
    if (!link)
      return;
    auto i = link->on_handler_.find(ns);
    if (i == link->on_handler_.end())
      return;
    auto callbacks = std::move(i->second);
    link->on_handler_.erase(i);
    for (auto& f : callbacks)
      f(res);
  };
  connect(self, [=](const caf::error& err) {
    auto link = weak.lock();
    if (!link)
      return;
    if (err) {
      flush(err);
      return;
    }
    auto gen = link->generation_;
    self->request(link->front_, caf::infinite, lookup_atom::value, ns)
      .then(
        [=](caf::actor& handler) {
          auto link = weak.lock();
          if (!link || gen != link->generation_)
            return; // the connection ended meanwhile; its loss flushed the callbacks
          self->monitor(handler);
          link->handlers_[ns] = handler;
          flush(handler);
        },
        [=](caf::error& err) {
          auto link = weak.lock();
          if (!link || gen != link->generation_)
            return;
          flush(with_origin(err, link->address_));
        });
  });
}

server_link::loss server_link::on_down(const caf::actor_addr& who, caf::actor* gone,
                                       std::string* gone_ns) {
  if (front_ && who == front_.address()) {
    spdlog::warn("slacker: connection to {} lost", address_);
    if (gone)
      *gone = front_;
    front_ = nullptr;
    handlers_.clear();
    ++generation_;
    auto waiting = std::move(on_handler_);
    on_handler_.clear();
    for (auto& kvp : waiting)
      for (auto& f : kvp.second)
        f(make_error(sc::connection_broken,
                     kvp.first + ": connection to " + address_ + " lost"));
    return loss::connection;
  }
  for (auto i = handlers_.begin(); i != handlers_.end(); ++i) {
    if (i->second.address() != who)
      continue;
    if (gone)
      *gone = i->second;
    if (gone_ns)
      *gone_ns = i->first;
    handlers_.erase(i);
    return loss::handler;
  }
  return loss::none;
}

// The two kinds of actors a link lives in: scheduled ones, and brokers on the
// network thread.
template void server_link::connect(caf::event_based_actor*, connect_callback);
template void server_link::connect(caf::io::broker*, connect_callback);
template void server_link::with_handler(caf::event_based_actor*, const std::string&,
                                        handler_callback);
template void server_link::with_handler(caf::io::broker*, const std::string&,
                                        handler_callback);

} // namespace slacker
