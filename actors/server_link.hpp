#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>

namespace slacker {

/// One server as seen from inside a client-side actor: the connection to its
/// front, and the namespace actors looked up through it, all monitored. Lives
/// in the owning actor's state and is used only from that actor.
class server_link : public std::enable_shared_from_this<server_link> {
public:
  using connect_callback = std::function<void(const caf::error&)>;
  using handler_callback = std::function<void(caf::expected<caf::actor>)>;

  /// What a `down_msg` meant for this link.
  enum class loss {
    none,       // not one of ours
    connection, // the front: the whole server is gone
    handler,    // one namespace actor
  };

  server_link(std::string host, uint16_t port);

  /// Parses `host:port`; nothing when it does not parse.
  static std::shared_ptr<server_link> make(const std::string& address);

  const std::string& address() const noexcept {
    return address_;
  }

  bool connected() const noexcept {
    return front_ != nullptr;
  }

  /// Connects unless connected; `cb` gets an empty error on success. `Self`
  /// is `caf::event_based_actor` or `caf::io::broker` (instantiated for both).
  template <class Self>
  void connect(Self* self, connect_callback cb);

  /// The actor serving `ns` on this server (looked up once, then cached).
  template <class Self>
  void with_handler(Self* self, const std::string& ns, handler_callback cb);


  /// Handles a `down_msg`. On `connection`, every lookup under way fails with
  /// `connection_broken`; `gone` gets the actor that went down, `gone_ns` the
  /// namespace it served (for `handler`).
  loss on_down(const caf::actor_addr& who, caf::actor* gone = nullptr,
               std::string* gone_ns = nullptr);

private:
  std::string host_;
  uint16_t port_;
  std::string address_;
  caf::actor front_;
  uint64_t generation_ = 0; // bumped when a connection ends
  bool connecting_ = false;
  std::vector<connect_callback> on_connect_;
  std::unordered_map<std::string, caf::actor> handlers_;
  std::unordered_map<std::string, std::vector<handler_callback>> on_handler_;
};

} // namespace slacker
