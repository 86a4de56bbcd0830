#pragma once

// A raw TCP connection to a server on loopback, for tests that speak (or
// break) the wire protocol by hand.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "slacker/messages/call.hpp"
#include "slacker/messages/codec.hpp"
#include "slacker/messages/detail/wire.hpp"

namespace slacker_test {

/// A socket listening on 127.0.0.1, on a port the kernel picks, where
/// `backlog` connections may wait to be accepted: {fd, port}; fd -1 when
/// it cannot listen.
inline std::pair<int, uint16_t> loopback_listener(int backlog) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0)
      ::close(fd);
    return {-1, 0};
  }
  return {fd, ntohs(addr.sin_port)};
}

/// One raw TCP connection; every receive gives up after `timeout`.
class raw_conn {
public:
  explicit raw_conn(uint16_t port,
                    std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }

  raw_conn(const raw_conn&) = delete;
  raw_conn& operator=(const raw_conn&) = delete;

  ~raw_conn() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  bool connected() const {
    return connected_;
  }

  int fd() const {
    return fd_;
  }

  bool send(const std::vector<char>& bytes) {
    return send(bytes.data(), bytes.size());
  }

  bool send(const char* data, size_t size) {
    while (size > 0) {
      auto n = ::send(fd_, data, size, MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      data += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  /// The frames that arrive until `count` are in, the peer closes, or the
  /// receive timeout passes. `closed` says whether the peer closed.
  std::vector<std::pair<slacker::wire::frame_type, std::vector<char>>>
  frames(size_t count) {
    std::vector<std::pair<slacker::wire::frame_type, std::vector<char>>> out;
    char buf[16384];
    while (out.size() < count) {
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed = n == 0 || errno == ECONNRESET;
        break;
      }
      in_.feed(buf, static_cast<size_t>(n),
               [&](slacker::wire::frame_type t, slacker::wire::reader& r) {
                 std::vector<char> payload;
                 uint8_t b = 0;
                 while (r.u8(b))
                   payload.push_back(static_cast<char>(b));
                 out.emplace_back(t, std::move(payload));
                 return true;
               });
    }
    return out;
  }

  /// Reads until the peer closes (or the timeout): true if it closed.
  bool wait_closed() {
    frames(SIZE_MAX);
    return closed;
  }

  bool closed = false;

private:
  int fd_ = -1;
  bool connected_ = false;
  slacker::wire::frame_buffer in_{slacker::wire::default_max_message_size};
};

/// A `hello` frame announcing the default frame cap.
inline std::vector<char> hello_frame() {
  std::vector<char> buf;
  slacker::wire::write_hello(buf, slacker::wire::default_max_message_size);
  return buf;
}

/// A `call` frame for `ns`/`fn` with arguments encoded already in `codec`.
inline std::vector<char>
call_frame(uint64_t id, const std::string& ns, const std::string& fn,
           std::vector<char> args,
           slacker::codec_id codec = slacker::codec_id::caf_binary) {
  slacker::call_request req;
  req.id = id;
  req.codec = codec;
  req.ns = ns;
  req.fn = fn;
  req.args = std::move(args);
  std::vector<char> buf;
  slacker::wire::write_call(buf, req);
  return buf;
}

/// A call of test.api/echo.
inline std::vector<char> echo_call(uint64_t id, const std::string& text) {
  return call_frame(id, "test.api", "echo",
                    *slacker::encode<std::string>(slacker::codec_id::caf_binary, text));
}

/// The reply in a frame's payload (as collected by `raw_conn::frames`); its
/// id is 0 and its error `malformed` text when the payload is not a reply.
inline slacker::call_reply reply_of(const std::vector<char>& payload) {
  slacker::call_reply rep;
  slacker::wire::reader r{payload.data(), payload.size()};
  if (!slacker::wire::read_reply(r, rep))
    rep.err = slacker::make_error(slacker::sc::codec_error, "malformed reply frame");
  return rep;
}

/// The close code of an error frame's payload (0 when it is empty).
inline slacker::wire::close_code close_code_of(const std::vector<char>& payload) {
  if (payload.empty())
    return static_cast<slacker::wire::close_code>(0);
  return static_cast<slacker::wire::close_code>(static_cast<uint8_t>(payload[0]));
}

} // namespace slacker_test
