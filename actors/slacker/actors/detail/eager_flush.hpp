#pragma once

// Writes a connection's bytes from the broker's own turn. CAF 0.17's `flush`
// registers the socket for writing and sends on the multiplexer's next loop,
// then unregisters it: two `epoll_ctl` calls and a loop per flush. Both sides
// of slacker's connections send at once instead, and leave to CAF only what
// the socket does not take (docs/architecture.md, "Writes").

#include <cstddef>

#include <caf/io/connection_handle.hpp>
#include <caf/io/fwd.hpp>

#include "slacker/messages/atoms.hpp"

namespace slacker {

/// One connection's writer. Its scribe must acknowledge writes
/// (`ack_writes(hdl, true)`) and its broker pass each `data_transferred_msg`
/// to `transferred`: bytes are sent directly only while CAF holds none, so
/// that nothing overtakes what CAF still has to write. A broker that writes
/// once per turn (`soon`) tells it of each `flush_atom` (`arrived`).
class eager_flush {
public:
  /// Sends what `hdl`'s write buffer holds: directly while CAF holds nothing,
  /// the rest (a full socket, an error, or CAF still writing) CAF's way.
  /// Returns the bytes sent directly (CAF acknowledges the others).
  size_t operator()(caf::io::abstract_broker* self, caf::io::connection_handle hdl);

  /// CAF wrote bytes of this connection; `remaining`: what it still holds.
  void transferred(size_t remaining) noexcept {
    if (remaining == 0)
      queued_ = false;
  }

  /// A new connection: CAF holds nothing of it.
  void reset() noexcept {
    queued_ = false;
  }

  /// Asks `self` (the broker) for a `flush_atom` unless one is on its way:
  /// the messages already in its mailbox (calls, replies) are written before
  /// it arrives, and one write sends them all.
  template <class Broker> void soon(Broker* self) {
    if (due_)
      return;
    due_ = true;
    self->send(self, flush_atom::value);
  }

  /// The broker got its `flush_atom` (and writes now).
  void arrived() noexcept {
    due_ = false;
  }

private:
  bool queued_ = false; // CAF holds bytes not yet written
  bool due_ = false;    // a flush_atom is on its way
};

} // namespace slacker
