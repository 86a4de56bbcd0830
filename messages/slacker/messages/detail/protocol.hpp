#pragma once

// The wire protocol's state machines, one per side, with no sockets in them
// (as CAF's basp::instance): bytes in, frames out into a buffer the transport
// sends, and what the transport must act on reported to its callee. The
// handshake, the dispatch of every frame type, pings, error frames and what
// is malformed live here once; the server connection, the client connection
// broker and the blocking lane keep only I/O, TLS, timers and scheduling.
// A new frame type that one transport acts on touches wire.hpp (its type and
// layout) and that transport (`on_other` reads and acts on it); one that both
// sides' protocols handle alike, wire.hpp and protocol.cpp.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "slacker/messages/detail/wire.hpp"

namespace slacker::wire {

/// Why a connection must end, as its protocol saw it. When `by_peer` is
/// false, the `error` frame telling the peer is already in the output.
struct close_reason {
  close_code code;
  std::string text;
  bool by_peer = false;
};

/// The server's side of one connection.
class server_protocol {
public:
  /// What the transport does for the protocol. Each handler may write frames
  /// into `out` (the same buffer `feed` was given) or answer later through
  /// `write_reply`; `stop()` from a handler ends the feed.
  class callee {
  public:
    virtual ~callee();
    /// A call to run.
    virtual void on_call(call_request& req, std::vector<char>& out) = 0;
    /// A typed message (CAF-serialized) for the actor serving `ns`.
    virtual void on_send(uint64_t id, const std::string& ns, const std::vector<char>& msg,
                         std::vector<char>& out) = 0;
    /// `inspect` (ns empty: the namespaces) or `lookup`: the callee answers
    /// with `write_inspect_reply` / `write_lookup_reply`.
    virtual void on_query(frame_type type, uint64_t id, const std::string& ns,
                          std::vector<char>& out) = 0;
    /// A frame type this protocol does not handle itself: true when the
    /// callee took it (read it from `in`), false (the default) to close
    /// the connection with `unexpected_frame`.
    virtual bool on_other(frame_type type, reader& in, std::vector<char>& out);
    /// A ping: true (the default) to answer it, false when the peer pings
    /// more often than allowed (the connection closes with `too_many_pings`).
    virtual bool on_ping();
  };

  server_protocol(callee& c, uint32_t max_message_size);

  /// Takes bytes from the peer. Returns why the connection must close, if it
  /// must (an `error` frame for the peer is then at the end of `out`).
  std::optional<close_reason> feed(const char* data, size_t size, std::vector<char>& out);

  /// The handshake deadline passed: the reason to close, unless greeted.
  std::optional<close_reason> handshake_expired(std::vector<char>& out);

  /// Ends the connection for a reason of the transport (idle, stopping):
  /// writes the `error` frame into `out`.
  close_reason close(std::vector<char>& out, close_code code, std::string text);

  /// Stops the feed in progress (the connection is being closed).
  void stop() noexcept {
    stopped_ = true;
  }

  /// Backpressure: takes no frame after the one being handled, keeping the
  /// rest of the read, until `resume`.
  void pause() noexcept {
    in_.pause();
  }

  bool paused() const noexcept {
    return in_.paused();
  }

  /// Takes the frames kept since `pause`; as `feed`.
  std::optional<close_reason> resume(std::vector<char>& out);

  /// A reply, or a `too_large` error in its place when it exceeds the cap.
  void write_reply(std::vector<char>& out, const call_reply& rep) const {
    write_reply_within(out, rep, cap_);
  }

  /// The largest frame both sides take (known once greeted).
  uint32_t cap() const noexcept {
    return cap_;
  }

  bool greeted() const noexcept {
    return greeted_;
  }

  /// Bytes held of an incomplete frame.
  size_t buffered() const noexcept {
    return in_.buffered();
  }

  /// Memory the frame reader holds (its buffer's capacity): what a server's
  /// budget for incomplete frames counts.
  size_t held() const noexcept {
    return in_.held();
  }

  /// Frames taken since the start: progress, for the frame deadline.
  uint64_t frames() const noexcept {
    return in_.frames();
  }

private:
  bool on_frame(frame_type type, reader& in, std::vector<char>& out);

  callee& callee_;
  uint32_t max_;
  uint32_t cap_ = 0;
  bool greeted_ = false;
  bool stopped_ = false;
  std::optional<close_reason> reason_;
  frame_buffer in_;
};

/// The client's side of one connection (a new connection, a new protocol).
class client_protocol {
public:
  /// What the transport does for the protocol; `stop()` from a handler ends
  /// the feed.
  class callee {
  public:
    virtual ~callee();
    /// The server said hello: calls may go out.
    virtual void on_greeted() = 0;
    virtual void on_reply(call_reply& rep) = 0;
    /// The answer to a typed message: `bytes` when `ok`, else `err`.
    virtual void on_send_reply(uint64_t id, bool ok, std::vector<char>& bytes,
                               caf::error& err) = 0;
    /// `inspect_reply` or `lookup_reply`: the callee reads the payload (it
    /// knows what it asked); false when it is malformed.
    virtual bool on_query_reply(frame_type type, reader& in) = 0;
    /// The server is stopping: no new calls to it.
    virtual void on_going_away() = 0;
    /// A frame type this protocol does not handle itself: true when the
    /// callee took it, false (the default) to close with `unexpected_frame`.
    virtual bool on_other(frame_type type, reader& in, std::vector<char>& out);
  };

  /// `peer` names the server in errors.
  client_protocol(callee& c, uint32_t max_message_size, std::string peer);

  /// The client speaks first: its hello.
  void start(std::vector<char>& out) const;

  /// Takes bytes from the server. Returns why the connection must close, if
  /// it must (with `by_peer`, the server closed it).
  std::optional<close_reason> feed(const char* data, size_t size, std::vector<char>& out);

  void stop() noexcept {
    stopped_ = true;
  }

  bool greeted() const noexcept {
    return greeted_;
  }

  /// The server's frame cap, from its hello (UINT32_MAX before).
  uint32_t peer_max() const noexcept {
    return peer_max_;
  }

private:
  bool on_frame(frame_type type, reader& in, std::vector<char>& out);

  callee& callee_;
  uint32_t max_;
  std::string peer_;
  uint32_t peer_max_ = UINT32_MAX;
  bool greeted_ = false;
  bool stopped_ = false;
  std::optional<close_reason> reason_;
  frame_buffer in_;
};

/// Answers to `inspect` and `lookup` (the server's callee writes them).
void write_inspect_reply(std::vector<char>& out, uint64_t id,
                         const std::vector<std::string>& namespaces);
void write_inspect_reply(std::vector<char>& out, uint64_t id,
                         const std::vector<function_info>& functions);
void write_lookup_reply(std::vector<char>& out, uint64_t id, ns_kind kind);
/// A failed `inspect` or `lookup`.
void write_query_error(std::vector<char>& out, frame_type type, uint64_t id,
                       const caf::error& err);

} // namespace slacker::wire
