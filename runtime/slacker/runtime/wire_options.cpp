#include "slacker/runtime/wire_options.hpp"
#include "slacker/runtime/config.hpp"

#include <algorithm>

#include <sys/resource.h>

#include <caf/settings.hpp>

#include "slacker/messages/codec.hpp"
#include "slacker/runtime/detail/tls.hpp"

namespace slacker {

wire_options wire_options::from(const caf::actor_system_config& cfg) {
  wire_options x;
  auto max = caf::get_or(cfg, "slacker.max-message-size", size_t{x.max_message_size});
  // A frame needs its type byte; the length field cannot say more than 4 GiB.
  x.max_message_size = static_cast<uint32_t>(std::clamp<size_t>(max, 64, UINT32_MAX));
  x.handshake_timeout =
      caf::get_or(cfg, "slacker.handshake-timeout", x.handshake_timeout);
  x.idle_timeout = caf::get_or(cfg, "slacker.idle-timeout", x.idle_timeout);
  x.ping_interval = caf::get_or(cfg, "slacker.ping-interval", x.ping_interval);
  x.peer_timeout = caf::get_or(cfg, "slacker.peer-timeout", x.peer_timeout);
  x.call_silence = caf::get_or(cfg, "slacker.call-silence", x.call_silence);
  x.failure_accrual = static_cast<uint32_t>(
      caf::get_or(cfg, "slacker.failure-accrual", size_t{x.failure_accrual}));
  x.connect_timeout = caf::get_or(cfg, "slacker.connect-timeout", x.connect_timeout);
  x.overload_backoff = std::max(
      caf::get_or(cfg, "slacker.overload-backoff", x.overload_backoff), caf::timespan{0});
  x.min_ping_interval =
      caf::get_or(cfg, "slacker.min-ping-interval", x.min_ping_interval);
  x.max_buffered_bytes =
      caf::get_or(cfg, "slacker.max-buffered-bytes", x.max_buffered_bytes);
  x.frame_timeout = caf::get_or(cfg, "slacker.frame-timeout", x.frame_timeout);
  x.max_connections = caf::get_or(cfg, "slacker.max-connections", x.max_connections);
  if (x.max_connections == 0) {
    rlimit lim{};
    size_t allowed = 10000;
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
      allowed = lim.rlim_cur > 128 ? static_cast<size_t>(lim.rlim_cur) - 64
                                   : static_cast<size_t>(lim.rlim_cur) / 2;
    x.max_connections = std::min<size_t>(allowed, 10000);
  }
  x.max_tls_handshakes =
      caf::get_or(cfg, "slacker.max-tls-handshakes", x.max_tls_handshakes);
  x.insecure = switch_on(cfg, "slacker.insecure");
  x.manager_token = caf::get_or(cfg, "slacker.manager.token", std::string{});
  tls_files files{caf::get_or(cfg, "slacker.tls.certificate", std::string{}),
                  caf::get_or(cfg, "slacker.tls.key", std::string{}),
                  caf::get_or(cfg, "slacker.tls.ca", std::string{})};
  if (files.any()) {
    auto ctx = tls_context::load(files);
    if (ctx)
      x.tls = std::move(*ctx);
    else
      x.problem = std::move(ctx.error());
  }
  // Decoders are free functions without a configuration: the depth limit is
  // process-wide, taken from whichever server or client starts.
  set_json_max_depth(caf::get_or(cfg, "slacker.json.max-depth", json_max_depth()));
  return x;
}

bool is_loopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "::1" ||
         host.rfind("::ffff:127.", 0) == 0 || host == "localhost";
}

std::chrono::nanoseconds time_left(int64_t deadline_ns) {
  return std::chrono::nanoseconds{deadline_ns} -
         std::chrono::system_clock::now().time_since_epoch();
}

} // namespace slacker
