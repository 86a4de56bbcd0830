#pragma once

#include <cstdint>
#include <string>

#include <caf/expected.hpp>
#include <caf/timespan.hpp>

namespace slacker {

/// A blocking TCP connect to `host:port` that gives up after `timeout` (the
/// kernel's own limit is minutes); the socket is non-blocking, close-on-exec,
/// with TCP_NODELAY. Errors are `connection_broken` with the reason. Never
/// call it on CAF's network thread.
caf::expected<int> connect_within(const std::string& host, uint16_t port,
                                  caf::timespan timeout);

} // namespace slacker
