#define CAF_SUITE protocol
#include <caf/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

#include "slacker/messages/detail/protocol.hpp"
#include "slacker/messages/error.hpp"

// The protocol's two state machines, byte by byte, without sockets: what
// each side answers to every frame type, and when it closes.

using namespace slacker;
using namespace slacker::wire;

namespace {

/// A decoded frame of what a side wrote.
struct frame {
  frame_type type;
  std::vector<char> payload;
};

std::vector<frame> frames_of(const std::vector<char>& bytes) {
  std::vector<frame> out;
  frame_buffer in{default_max_message_size};
  auto res = in.feed(bytes.data(), bytes.size(), [&](frame_type type, reader& r) {
    std::vector<char> rest;
    uint8_t b = 0;
    while (r.u8(b))
      rest.push_back(static_cast<char>(b));
    out.push_back({type, std::move(rest)});
    return true;
  });
  CAF_REQUIRE(!res);
  CAF_REQUIRE_EQUAL(in.buffered(), 0u);
  return out;
}

/// The code and text of an `error` frame.
std::pair<close_code, std::string> close_of(const frame& f) {
  reader r{f.payload.data(), f.payload.size()};
  uint8_t code = 0;
  std::string text;
  CAF_REQUIRE(r.u8(code) && r.str(text));
  return {static_cast<close_code>(code), text};
}

std::vector<char> hello_frame(uint32_t max = 4096, uint32_t magic_no = magic,
                              uint16_t ver = version) {
  std::vector<char> buf;
  writer w{buf, frame_type::hello};
  w.u32(magic_no).u16(ver).u32(0).u32(max);
  w.finish();
  return buf;
}

call_request sample_call(uint64_t id) {
  call_request req;
  req.id = id;
  req.ns = "test.api";
  req.fn = "echo";
  req.codec = codec_id::json;
  req.args = {'[', '1', ']'};
  req.ext["k"] = {'v'};
  return req;
}

std::vector<char> operator+(std::vector<char> a, const std::vector<char>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct server_side : server_protocol::callee {
  std::vector<call_request> calls;
  std::vector<std::pair<uint64_t, std::string>> sends;
  std::vector<std::pair<frame_type, std::string>> queries;
  server_protocol proto{*this, 1024};

  void on_call(call_request& req, std::vector<char>&) override {
    calls.push_back(req);
  }
  void on_send(uint64_t id, const std::string& ns, const std::vector<char>&,
               std::vector<char>&) override {
    sends.emplace_back(id, ns);
  }
  void on_query(frame_type type, uint64_t id, const std::string& ns,
                std::vector<char>& out) override {
    queries.emplace_back(type, ns);
    write_lookup_reply(out, id, ns_kind::functions);
  }

  /// Feeds `bytes` one byte at a time; what the server wrote, and why it
  /// closed (if it did).
  std::pair<std::vector<char>, std::optional<close_reason>>
  feed_bytewise(const std::vector<char>& bytes) {
    std::vector<char> out;
    std::optional<close_reason> closed;
    for (size_t i = 0; i < bytes.size() && !closed; ++i)
      closed = proto.feed(bytes.data() + i, 1, out);
    return {out, closed};
  }
};

struct client_side : client_protocol::callee {
  bool greeted = false;
  bool going_away = false;
  std::vector<call_reply> replies;
  std::vector<uint64_t> send_replies;
  bool query_ok = true;
  client_protocol proto{*this, 1024, "127.0.0.1:9"};

  void on_greeted() override {
    greeted = true;
  }
  void on_reply(call_reply& rep) override {
    replies.push_back(rep);
  }
  void on_send_reply(uint64_t id, bool, std::vector<char>&, caf::error&) override {
    send_replies.push_back(id);
  }
  bool on_query_reply(frame_type, reader&) override {
    return query_ok;
  }
  void on_going_away() override {
    going_away = true;
  }
};

} // namespace

CAF_TEST(the server answers hello with its own and takes calls fed byte by byte) {
  server_side s;
  std::vector<char> call;
  write_call(call, sample_call(7));
  auto [out, closed] = s.feed_bytewise(hello_frame() + call);
  CAF_CHECK(!closed);
  CAF_CHECK(s.proto.greeted());
  CAF_CHECK_EQUAL(s.proto.cap(), 1024u); // the smaller of the two caps
  auto fs = frames_of(out);
  CAF_REQUIRE_EQUAL(fs.size(), 1u);
  CAF_CHECK(fs[0].type == frame_type::hello);
  CAF_REQUIRE_EQUAL(s.calls.size(), 1u);
  CAF_CHECK_EQUAL(s.calls[0].id, 7u);
  CAF_CHECK_EQUAL(s.calls[0].fn, "echo");
  CAF_CHECK(s.calls[0].ext == sample_call(7).ext);
}

CAF_TEST(the server takes the smaller cap and never less than 64 bytes) {
  server_side s;
  std::vector<char> out;
  CAF_CHECK(!s.proto.feed(hello_frame(10).data(), hello_frame(10).size(), out));
  CAF_CHECK_EQUAL(s.proto.cap(), 64u);
}

CAF_TEST(a call before hello closes with unexpected_frame and runs nothing) {
  server_side s;
  std::vector<char> call;
  write_call(call, sample_call(1));
  auto [out, closed] = s.feed_bytewise(call);
  CAF_REQUIRE(closed);
  CAF_CHECK(closed->code == close_code::unexpected_frame);
  CAF_CHECK(!closed->by_peer);
  CAF_CHECK(s.calls.empty());
  auto fs = frames_of(out);
  CAF_REQUIRE_EQUAL(fs.size(), 1u);
  CAF_CHECK(fs[0].type == frame_type::error);
  CAF_CHECK_EQUAL(close_of(fs[0]).second, "expected hello first");
}

CAF_TEST(a hello of another version or magic closes with bad_hello) {
  for (auto h : {hello_frame(4096, magic, version + 1), hello_frame(4096, 0x12345678)}) {
    server_side s;
    auto [out, closed] = s.feed_bytewise(h);
    CAF_REQUIRE(closed);
    CAF_CHECK(closed->code == close_code::bad_hello);
    auto fs = frames_of(out);
    CAF_REQUIRE_EQUAL(fs.size(), 1u);
    CAF_CHECK(close_of(fs[0]).first == close_code::bad_hello);
    CAF_CHECK(!s.proto.greeted());
  }
}

CAF_TEST(the server answers a ping with a pong of the same nonce) {
  server_side s;
  std::vector<char> ping;
  write_u64(ping, frame_type::ping, 0xABCDEF);
  auto [out, closed] = s.feed_bytewise(hello_frame() + ping);
  CAF_CHECK(!closed);
  auto fs = frames_of(out);
  CAF_REQUIRE_EQUAL(fs.size(), 2u);
  CAF_CHECK(fs[1].type == frame_type::pong);
  reader r{fs[1].payload.data(), fs[1].payload.size()};
  uint64_t nonce = 0;
  CAF_CHECK(r.u64(nonce) && nonce == 0xABCDEF);
}

CAF_TEST(sends and queries reach the callee and its answer goes out) {
  server_side s;
  std::vector<char> send;
  write_send(send, 3, "test.actor", {'x'});
  std::vector<char> lookup;
  write_id_str(lookup, frame_type::lookup, 4, "test.api");
  auto [out, closed] = s.feed_bytewise(hello_frame() + send + lookup);
  CAF_CHECK(!closed);
  CAF_REQUIRE_EQUAL(s.sends.size(), 1u);
  CAF_CHECK_EQUAL(s.sends[0].first, 3u);
  CAF_CHECK_EQUAL(s.sends[0].second, "test.actor");
  CAF_REQUIRE_EQUAL(s.queries.size(), 1u);
  CAF_CHECK(s.queries[0].first == frame_type::lookup);
  auto fs = frames_of(out);
  CAF_REQUIRE_EQUAL(fs.size(), 2u);
  CAF_CHECK(fs[1].type == frame_type::lookup_reply);
}

CAF_TEST(a malformed frame closes naming its type and later frames are not run) {
  server_side s;
  std::vector<char> bad;
  writer w{bad, frame_type::ping};
  w.u8(1); // a ping carries eight bytes
  w.finish();
  std::vector<char> call;
  write_call(call, sample_call(9));
  std::vector<char> out;
  auto in = hello_frame() + bad + call;
  auto closed = s.proto.feed(in.data(), in.size(), out); // one read: all three
  CAF_REQUIRE(closed);
  CAF_CHECK(closed->code == close_code::malformed);
  CAF_CHECK_EQUAL(closed->text, "malformed ping frame");
  CAF_CHECK(s.calls.empty());
  // Nothing more is taken once closed.
  CAF_CHECK(s.proto.feed(call.data(), call.size(), out));
  CAF_CHECK(s.calls.empty());
}

CAF_TEST(a frame type only a client takes closes the server side) {
  server_side s;
  std::vector<char> rep;
  write_reply(rep, call_reply{});
  auto [out, closed] = s.feed_bytewise(hello_frame() + rep);
  CAF_REQUIRE(closed);
  CAF_CHECK(closed->code == close_code::unexpected_frame);
  CAF_CHECK_EQUAL(closed->text, "frame type 3 is not taken by a server");
}

CAF_TEST(a declared length beyond the cap closes with frame_too_large) {
  server_side s;
  std::vector<char> header{0, 0, 8, 1}; // 2049 bytes declared, cap 1024
  auto [out, closed] = s.feed_bytewise(hello_frame() + header);
  CAF_REQUIRE(closed);
  CAF_CHECK(closed->code == close_code::frame_too_large);
  CAF_CHECK_EQUAL(closed->text,
                  "a frame is larger than this server's limit of 1024 bytes");
}

CAF_TEST(an error frame from the client closes by the peer without an answer) {
  server_side s;
  std::vector<char> err;
  write_close(err, close_code::shutting_down, "bye");
  auto [out, closed] = s.feed_bytewise(hello_frame() + err);
  CAF_REQUIRE(closed);
  CAF_CHECK(closed->by_peer);
  CAF_CHECK_EQUAL(closed->text, "bye");
  CAF_CHECK_EQUAL(frames_of(out).size(), 1u); // its hello only
}

CAF_TEST(the handshake deadline closes only an ungreeted connection) {
  server_side a;
  std::vector<char> out;
  auto closed = a.proto.handshake_expired(out);
  CAF_REQUIRE(closed);
  CAF_CHECK(closed->code == close_code::handshake_timeout);
  server_side b;
  auto h = hello_frame();
  b.proto.feed(h.data(), h.size(), out);
  CAF_CHECK(!b.proto.handshake_expired(out));
}

CAF_TEST(a reply beyond the cap goes out as a too_large error with its id) {
  server_side s;
  std::vector<char> out;
  auto h = hello_frame(64);
  s.proto.feed(h.data(), h.size(), out);
  out.clear();
  call_reply rep;
  rep.id = 5;
  rep.result.assign(500, 'x');
  s.proto.write_reply(out, rep);
  auto fs = frames_of(out);
  CAF_REQUIRE_EQUAL(fs.size(), 1u);
  reader r{fs[0].payload.data(), fs[0].payload.size()};
  call_reply got;
  CAF_REQUIRE(read_reply(r, got));
  CAF_CHECK_EQUAL(got.id, 5u);
  CAF_CHECK(code_of(got.err) == sc::too_large);
}

CAF_TEST(the client says hello first and waits for the hello of the server) {
  client_side c;
  std::vector<char> out;
  c.proto.start(out);
  auto fs = frames_of(out);
  CAF_REQUIRE_EQUAL(fs.size(), 1u);
  CAF_CHECK(fs[0].type == frame_type::hello);
  out.clear();
  call_reply rep;
  rep.id = 11;
  std::vector<char> reply;
  write_reply(reply, rep);
  auto in = hello_frame(2048) + reply;
  for (size_t i = 0; i < in.size(); ++i)
    CAF_REQUIRE(!c.proto.feed(in.data() + i, 1, out));
  CAF_CHECK(c.greeted);
  CAF_CHECK_EQUAL(c.proto.peer_max(), 2048u);
  CAF_REQUIRE_EQUAL(c.replies.size(), 1u);
  CAF_CHECK_EQUAL(c.replies[0].id, 11u);
}

CAF_TEST(an error frame before hello is the server refusing) {
  client_side c;
  std::vector<char> err;
  write_close(err, close_code::bad_hello, "this server requires TLS");
  std::vector<char> out;
  auto closed = c.proto.feed(err.data(), err.size(), out);
  CAF_REQUIRE(closed);
  CAF_CHECK(closed->by_peer);
  CAF_CHECK(closed->code == close_code::bad_hello);
  CAF_CHECK_EQUAL(closed->text, "this server requires TLS");
  CAF_CHECK(out.empty());
  CAF_CHECK(!c.greeted);
}

CAF_TEST(a client takes no reply before hello) {
  client_side c;
  std::vector<char> reply;
  write_reply(reply, call_reply{});
  std::vector<char> out;
  auto closed = c.proto.feed(reply.data(), reply.size(), out);
  CAF_REQUIRE(closed);
  CAF_CHECK(closed->code == close_code::bad_hello);
  CAF_CHECK_EQUAL(closed->text,
                  "127.0.0.1:9 does not speak slacker wire protocol version 1");
  CAF_CHECK(c.replies.empty());
  auto fs = frames_of(out);
  CAF_REQUIRE_EQUAL(fs.size(), 1u);
  CAF_CHECK(fs[0].type == frame_type::error);
}

CAF_TEST(the client pongs and hears going_away and closes on a call frame) {
  client_side c;
  std::vector<char> ping, away, call;
  write_u64(ping, frame_type::ping, 77);
  write_going_away(away, "stopping");
  write_call(call, sample_call(1));
  std::vector<char> out;
  auto in = hello_frame() + ping + away + call;
  auto closed = c.proto.feed(in.data(), in.size(), out);
  CAF_CHECK(c.going_away);
  CAF_REQUIRE(closed);
  CAF_CHECK(closed->code == close_code::unexpected_frame);
  auto fs = frames_of(out);
  CAF_REQUIRE_EQUAL(fs.size(), 2u);
  CAF_CHECK(fs[0].type == frame_type::pong);
  CAF_CHECK(fs[1].type == frame_type::error);
}

CAF_TEST(a query answer the callee cannot read is malformed) {
  client_side c;
  c.query_ok = false;
  std::vector<char> q;
  write_lookup_reply(q, 1, ns_kind::actor);
  std::vector<char> out;
  auto in = hello_frame() + q;
  auto closed = c.proto.feed(in.data(), in.size(), out);
  CAF_REQUIRE(closed);
  CAF_CHECK(closed->code == close_code::malformed);
  CAF_CHECK_EQUAL(closed->text, "a malformed frame from 127.0.0.1:9");
}

CAF_TEST(send replies reach the client with their id) {
  client_side c;
  std::vector<char> ok, err;
  write_send_reply(ok, 4, {'m'});
  write_send_error(err, 5, make_error(sc::not_found, "no namespace x"));
  std::vector<char> out;
  auto in = hello_frame() + ok + err;
  CAF_CHECK(!c.proto.feed(in.data(), in.size(), out));
  CAF_CHECK_EQUAL(c.send_replies, (std::vector<uint64_t>{4, 5}));
}

namespace {

/// A transport that takes one frame type of its own (say, 42: a trace mark).
struct marking_side : server_side {
  std::vector<uint64_t> marks;

  bool on_other(frame_type type, reader& in, std::vector<char>&) override {
    uint64_t mark = 0;
    if (static_cast<int>(type) != 42 || !in.u64(mark))
      return false;
    marks.push_back(mark);
    return true;
  }
};

} // namespace

CAF_TEST(a frame type of its own reaches the transport and others still close) {
  marking_side s;
  std::vector<char> mark;
  write_u64(mark, static_cast<frame_type>(42), 7);
  std::vector<char> odd;
  write_u64(odd, static_cast<frame_type>(43), 7);
  auto [out, closed] = s.feed_bytewise(hello_frame() + mark + odd);
  CAF_CHECK_EQUAL(s.marks, (std::vector<uint64_t>{7}));
  CAF_REQUIRE(closed);
  CAF_CHECK(closed->code == close_code::unexpected_frame);
  CAF_CHECK_EQUAL(closed->text, "frame type 43 is not taken by a server");
}
