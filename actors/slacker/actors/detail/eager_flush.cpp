#include "slacker/actors/detail/eager_flush.hpp"

#include <cerrno>

#include <sys/socket.h>

#include <caf/io/abstract_broker.hpp>

namespace slacker {

size_t eager_flush::operator()(caf::io::abstract_broker* self,
                               caf::io::connection_handle hdl) {
  auto& buf = self->wr_buf(hdl);
  if (buf.empty())
    return 0;
  size_t sent = 0;
  if (!queued_) {
    // The handle's id is its socket (CAF's default multiplexer).
    auto fd = static_cast<int>(hdl.id());
    ssize_t n;
    do
      n = ::send(fd, buf.data(), buf.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n > 0)
      sent = static_cast<size_t>(n);
    if (sent == buf.size()) {
      buf.clear();
      return sent;
    }
    // A full socket or an error: CAF writes the rest (and reports the error
    // as it reports any).
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(sent));
    queued_ = true;
  }
  self->flush(hdl);
  return sent;
}

} // namespace slacker
