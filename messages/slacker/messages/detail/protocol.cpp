#include "slacker/messages/detail/protocol.hpp"

#include <algorithm>

#include "slacker/messages/error.hpp"

namespace slacker::wire {

namespace {

/// Why the frame reader refused the stream, as said to the peer.
std::string framing_text(close_code code, uint32_t max, const char* side) {
  if (code == close_code::frame_too_large)
    return "a frame is larger than this " + std::string{side} + "'s limit of " +
           std::to_string(max) + " bytes";
  return "a frame declared a length of 0";
}

/// Reads an `error` frame's code and text (as much of them as is there).
close_reason peer_closed(reader& in) {
  uint8_t code = 0;
  std::string text;
  in.u8(code) && in.str(text);
  return {static_cast<close_code>(code), std::move(text), true};
}

} // namespace

// -- server side --------------------------------------------------------------

server_protocol::callee::~callee() = default;

bool server_protocol::callee::on_other(frame_type, reader&, std::vector<char>&) {
  return false;
}

bool server_protocol::callee::on_ping() {
  return true;
}

server_protocol::server_protocol(callee& c, uint32_t max_message_size)
  : callee_(c), max_(max_message_size), in_(max_message_size) {
  // nop
}

std::optional<close_reason> server_protocol::feed(const char* data, size_t size,
                                                  std::vector<char>& out) {
  if (stopped_)
    return reason_;
  auto res = in_.feed(
      data, size, [&](frame_type type, reader& in) { return on_frame(type, in, out); });
  if (res)
    return close(out, *res, framing_text(*res, max_, "server"));
  return reason_;
}

std::optional<close_reason> server_protocol::resume(std::vector<char>& out) {
  if (stopped_)
    return reason_;
  auto res =
      in_.resume([&](frame_type type, reader& in) { return on_frame(type, in, out); });
  if (res)
    return close(out, *res, framing_text(*res, max_, "server"));
  return reason_;
}

std::optional<close_reason> server_protocol::handshake_expired(std::vector<char>& out) {
  if (greeted_ || stopped_)
    return std::nullopt;
  return close(out, close_code::handshake_timeout, "no hello in time");
}

close_reason server_protocol::close(std::vector<char>& out, close_code code,
                                    std::string text) {
  write_close(out, code, text);
  stopped_ = true;
  reason_ = close_reason{code, std::move(text), false};
  return *reason_;
}

bool server_protocol::on_frame(frame_type type, reader& in, std::vector<char>& out) {
  auto fail = [&](close_code code, std::string text) {
    close(out, code, std::move(text));
    return false;
  };
  auto malformed = [&](const char* what) {
    return fail(close_code::malformed, std::string{"malformed "} + what + " frame");
  };
  if (!greeted_) {
    if (type != frame_type::hello)
      return fail(close_code::unexpected_frame, "expected hello first");
    hello h;
    if (!read_hello(in, h))
      return malformed("hello");
    if (h.magic != magic || h.version != version)
      return fail(close_code::bad_hello,
                  "this server speaks slacker wire protocol version " +
                      std::to_string(version));
    greeted_ = true;
    cap_ = std::min(max_, std::max<uint32_t>(h.max_message_size, 64));
    write_hello(out, max_);
    return true;
  }
  switch (type) {
    case frame_type::call: {
      call_request req;
      if (!read_call(in, req, &in_))
        return malformed("call");
      callee_.on_call(req, out);
      break;
    }
    case frame_type::send: {
      uint64_t id = 0;
      std::string ns;
      std::vector<char> bytes;
      if (!(in.u64(id) && in.str(ns) && in.blob(bytes) && in.at_end()))
        return malformed("send");
      callee_.on_send(id, ns, bytes, out);
      break;
    }
    case frame_type::ping: {
      uint64_t nonce = 0;
      if (!(in.u64(nonce) && in.at_end()))
        return malformed("ping");
      if (!callee_.on_ping())
        return fail(
            close_code::too_many_pings,
            "pings more often than this server allows (slacker.min-ping-interval)");
      write_u64(out, frame_type::pong, nonce);
      break;
    }
    case frame_type::pong:
      break;
    case frame_type::inspect:
    case frame_type::lookup: {
      uint64_t id = 0;
      std::string ns;
      if (!(in.u64(id) && in.str(ns) && in.at_end()))
        return malformed(type == frame_type::inspect ? "inspect" : "lookup");
      callee_.on_query(type, id, ns, out);
      break;
    }
    case frame_type::error:
      reason_ = peer_closed(in);
      stopped_ = true;
      return false;
    default:
      if (callee_.on_other(type, in, out))
        break;
      return fail(close_code::unexpected_frame,
                  "frame type " + std::to_string(static_cast<int>(type)) +
                      " is not taken by a server");
  }
  return !stopped_;
}

// -- client side --------------------------------------------------------------

client_protocol::callee::~callee() = default;

bool client_protocol::callee::on_other(frame_type, reader&, std::vector<char>&) {
  return false;
}

client_protocol::client_protocol(callee& c, uint32_t max_message_size, std::string peer)
  : callee_(c), max_(max_message_size), peer_(std::move(peer)), in_(max_message_size) {
  // nop
}

void client_protocol::start(std::vector<char>& out) const {
  write_hello(out, max_);
}

std::optional<close_reason> client_protocol::feed(const char* data, size_t size,
                                                  std::vector<char>& out) {
  if (stopped_)
    return reason_;
  auto res = in_.feed(
      data, size, [&](frame_type type, reader& in) { return on_frame(type, in, out); });
  if (res) {
    std::string text = std::string{to_string(*res)} + " frame";
    write_close(out, *res, text);
    stopped_ = true;
    reason_ = close_reason{*res, std::move(text), false};
  }
  return reason_;
}

bool client_protocol::on_frame(frame_type type, reader& in, std::vector<char>& out) {
  auto fail = [&](close_code code, std::string text) {
    write_close(out, code, text);
    stopped_ = true;
    reason_ = close_reason{code, std::move(text), false};
    return false;
  };
  if (type == frame_type::error) {
    // Before the hello too: e.g. "this server requires TLS".
    reason_ = peer_closed(in);
    stopped_ = true;
    return false;
  }
  if (!greeted_) {
    hello h;
    if (type != frame_type::hello || !read_hello(in, h) || h.magic != magic ||
        h.version != version)
      return fail(close_code::bad_hello,
                  peer_ + " does not speak slacker wire protocol version " +
                      std::to_string(version));
    greeted_ = true;
    peer_max_ = std::max<uint32_t>(h.max_message_size, 64);
    callee_.on_greeted();
    return !stopped_;
  }
  bool ok = true;
  switch (type) {
    case frame_type::reply: {
      call_reply rep;
      ok = read_reply(in, rep);
      if (ok)
        callee_.on_reply(rep);
      break;
    }
    case frame_type::send_reply: {
      uint64_t id = 0;
      uint8_t good = 0;
      std::vector<char> bytes;
      caf::error err;
      ok = in.u64(id) && in.u8(good) && (good ? in.blob(bytes) : in.err(err)) &&
           in.at_end();
      if (ok)
        callee_.on_send_reply(id, good != 0, bytes, err);
      break;
    }
    case frame_type::inspect_reply:
    case frame_type::lookup_reply:
      ok = callee_.on_query_reply(type, in);
      break;
    case frame_type::ping: {
      uint64_t nonce = 0;
      ok = in.u64(nonce);
      if (ok)
        write_u64(out, frame_type::pong, nonce);
      break;
    }
    case frame_type::pong:
      break;
    case frame_type::going_away:
      callee_.on_going_away();
      break;
    default:
      if (callee_.on_other(type, in, out))
        break;
      return fail(close_code::unexpected_frame,
                  "frame type " + std::to_string(static_cast<int>(type)) +
                      " is not taken by a client");
  }
  if (!ok)
    return fail(close_code::malformed, "a malformed frame from " + peer_);
  return !stopped_;
}

// -- query answers --------------------------------------------------------------

void write_inspect_reply(std::vector<char>& out, uint64_t id,
                         const std::vector<std::string>& namespaces) {
  writer w{out, frame_type::inspect_reply};
  w.u64(id).u8(1).strings(namespaces);
  w.finish();
}

void write_inspect_reply(std::vector<char>& out, uint64_t id,
                         const std::vector<function_info>& functions) {
  writer w{out, frame_type::inspect_reply};
  w.u64(id).u8(1);
  write_function_infos(w, functions);
  w.finish();
}

void write_lookup_reply(std::vector<char>& out, uint64_t id, ns_kind kind) {
  writer w{out, frame_type::lookup_reply};
  w.u64(id).u8(1).u8(static_cast<uint8_t>(kind));
  w.finish();
}

void write_query_error(std::vector<char>& out, frame_type type, uint64_t id,
                       const caf::error& err) {
  writer w{out, type};
  w.u64(id).u8(0).err(err);
  w.finish();
}

} // namespace slacker::wire
