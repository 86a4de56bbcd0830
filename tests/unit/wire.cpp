#define CAF_SUITE wire
#include <caf/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

#include "slacker/messages/detail/wire.hpp"
#include "slacker/messages/error.hpp"
#include "tests/require.hpp"

using namespace slacker;
using namespace slacker::wire;

namespace {

call_request sample_call() {
  call_request req;
  req.id = 0x0102030405060708;
  req.ns = "slacker.example.api";
  req.fn = "echo";
  req.codec = codec_id::json;
  req.args = {'[', '"', 'h', 'i', '"', ']'};
  req.deadline_ns = -5;
  req.ext["trace-id"] = {'4', '2'};
  req.ext["empty"] = {};
  return req;
}

/// Feeds `bytes` in pieces of `step` and collects the calls that come out.
std::pair<std::vector<call_request>, std::optional<close_code>>
feed_in_steps(const std::vector<char>& bytes, size_t step, uint32_t max = 1024) {
  frame_buffer in{max};
  std::vector<call_request> calls;
  std::optional<close_code> closed;
  for (size_t pos = 0; pos < bytes.size() && !closed; pos += step) {
    auto n = std::min(step, bytes.size() - pos);
    closed = in.feed(bytes.data() + pos, n, [&](frame_type type, reader& r) {
      CAF_CHECK(type == frame_type::call);
      call_request req;
      CAF_CHECK(read_call(r, req));
      calls.push_back(std::move(req));
      return true;
    });
  }
  return {std::move(calls), closed};
}

bool same(const call_request& a, const call_request& b) {
  return a.id == b.id && a.ns == b.ns && a.fn == b.fn && a.codec == b.codec &&
         a.args == b.args && a.deadline_ns == b.deadline_ns && a.ext == b.ext;
}

} // namespace

CAF_TEST(a call frame round trips every field) {
  std::vector<char> buf;
  write_call(buf, sample_call());
  auto [calls, closed] = feed_in_steps(buf, buf.size());
  CAF_CHECK(!closed);
  CAF_REQUIRE_EQUAL(calls.size(), 1u);
  CAF_CHECK(same(calls[0], sample_call()));
}

CAF_TEST(a frame fed byte by byte comes out once and whole) {
  std::vector<char> buf;
  write_call(buf, sample_call());
  auto [calls, closed] = feed_in_steps(buf, 1);
  CAF_CHECK(!closed);
  CAF_REQUIRE_EQUAL(calls.size(), 1u);
  CAF_CHECK(same(calls[0], sample_call()));
}

CAF_TEST(coalesced frames and headers split across reads all come out in order) {
  std::vector<char> buf;
  for (uint64_t i = 0; i < 50; ++i) {
    auto req = sample_call();
    req.id = i;
    write_call(buf, req);
  }
  // Steps of 3 and 7 bytes split headers in every possible place.
  for (size_t step : {size_t{3}, size_t{7}, buf.size()}) {
    auto [calls, closed] = feed_in_steps(buf, step);
    CAF_CHECK(!closed);
    CAF_REQUIRE_EQUAL(calls.size(), 50u);
    for (uint64_t i = 0; i < 50; ++i)
      CAF_CHECK_EQUAL(calls[i].id, i);
  }
}

CAF_TEST(large arguments that end the buffer are adopted from it and the rest copied) {
  // 3 MiB of arguments in 64 KiB reads: the buffer makes room for the whole
  // frame once, and the arguments take its memory (its capacity counts the
  // frame's header too) instead of a copy; a large frame followed by another
  // in the same buffer is copied, and the next frame still comes out.
  auto big = sample_call();
  big.args.assign(3u << 20, 'x');
  std::vector<char> one;
  write_call(one, big);
  std::vector<char> two = one;
  write_call(two, sample_call());
  for (auto* bytes : {&one, &two}) {
    frame_buffer in{16u << 20};
    std::vector<call_request> calls;
    for (size_t pos = 0; pos < bytes->size(); pos += 65536)
      CAF_CHECK(!in.feed(bytes->data() + pos,
                         std::min<size_t>(65536, bytes->size() - pos),
                         [&](frame_type, reader& r) {
                           call_request req;
                           CAF_CHECK(read_call(r, req, &in));
                           calls.push_back(std::move(req));
                           return true;
                         }));
    CAF_CHECK_EQUAL(in.buffered(), 0u);
    CAF_REQUIRE_EQUAL(calls.size(), bytes == &one ? 1u : 2u);
    CAF_CHECK(same(calls[0], big));
    if (bytes == &one)
      CAF_CHECK_GREATER(calls[0].args.capacity(), big.args.size()); // adopted
    else
      CAF_CHECK(same(calls[1], sample_call()));
  }
}

CAF_TEST(a length beyond the cap closes before the frame is kept) {
  // A header declaring 4 GiB, then a few bytes: nothing of it is buffered.
  std::vector<char> buf{'\xff', '\xff', '\xff', '\xff', 1, 2, 3};
  frame_buffer in{1024};
  bool called = false;
  auto closed = in.feed(buf.data(), buf.size(), [&](frame_type, reader&) {
    called = true;
    return true;
  });
  CAF_CHECK(!called);
  CAF_REQUIRE(closed);
  CAF_CHECK(*closed == close_code::frame_too_large);
  CAF_CHECK_EQUAL(in.buffered(), 0u);
  // Exactly at the cap is fine.
  std::vector<char> at_cap(4 + 1024, 0);
  at_cap[2] = 4; // length 1024
  at_cap[4] = static_cast<char>(frame_type::ping);
  frame_buffer ok{1024};
  CAF_CHECK(
      !ok.feed(at_cap.data(), at_cap.size(), [](frame_type, reader&) { return true; }));
}

CAF_TEST(a zero length is malformed) {
  std::vector<char> buf{0, 0, 0, 0};
  frame_buffer in{1024};
  auto closed = in.feed(buf.data(), buf.size(), [](frame_type, reader&) { return true; });
  CAF_REQUIRE(closed);
  CAF_CHECK(*closed == close_code::malformed);
}

CAF_TEST(inner lengths that overrun their frame fail to read) {
  std::vector<char> buf;
  write_call(buf, sample_call());
  // Make the namespace's length claim 1 GiB: the reader must refuse it.
  auto ns_len_at = 4 + 1 + 8;
  buf[ns_len_at] = 0x40;
  frame_buffer in{1024};
  bool read_ok = true;
  in.feed(buf.data(), buf.size(), [&](frame_type, reader& r) {
    call_request req;
    read_ok = read_call(r, req);
    return true;
  });
  CAF_CHECK(!read_ok);
  // A frame with bytes left over is malformed too.
  std::vector<char> extra;
  {
    writer out{extra, frame_type::ping};
    out.u64(1).u8(0);
    out.finish();
  }
  frame_buffer in2{1024};
  in2.feed(extra.data(), extra.size(), [&](frame_type, reader& r) {
    uint64_t nonce = 0;
    CAF_CHECK(r.u64(nonce));
    CAF_CHECK(!r.at_end());
    return true;
  });
}

CAF_TEST(an extension count that the frame cannot hold is refused) {
  std::vector<char> buf;
  {
    writer out{buf, frame_type::reply};
    out.u32(0x7fffffff); // claims two billion extensions in a few bytes
    out.finish();
  }
  frame_buffer in{1024};
  in.feed(buf.data(), buf.size(), [&](frame_type, reader& r) {
    extensions ext;
    CAF_CHECK(!r.ext(ext));
    CAF_CHECK(ext.empty());
    return true;
  });
}

CAF_TEST(replies carry results and errors with their code and sentence) {
  call_reply ok;
  ok.id = 7;
  ok.codec = codec_id::boost_binary;
  ok.result = {1, 2, 3};
  ok.ext["k"] = {'v'};
  call_reply bad;
  bad.id = 8;
  bad.err = make_error(sc::not_found, "no function f in namespace n");
  std::vector<char> buf;
  write_reply(buf, ok);
  write_reply(buf, bad);
  std::vector<call_reply> got;
  frame_buffer in{1024};
  in.feed(buf.data(), buf.size(), [&](frame_type type, reader& r) {
    CAF_CHECK(type == frame_type::reply);
    call_reply rep;
    CAF_CHECK(read_reply(r, rep));
    got.push_back(std::move(rep));
    return true;
  });
  CAF_REQUIRE_EQUAL(got.size(), 2u);
  CAF_CHECK_EQUAL(got[0].id, 7u);
  CAF_CHECK(got[0].codec == codec_id::boost_binary);
  CAF_CHECK(got[0].result == ok.result);
  CAF_CHECK(got[0].ext == ok.ext);
  CAF_CHECK(!got[0].err);
  CAF_CHECK_EQUAL(code_of(got[1].err), sc::not_found);
  CAF_CHECK_EQUAL(describe(got[1].err), "not_found: no function f in namespace n");
}

CAF_TEST(hello checks magic and version and a stop ends the feed) {
  std::vector<char> buf;
  write_hello(buf, 4096);
  write_u64(buf, frame_type::ping, 1); // never reached: the handler stops
  frame_buffer in{1024};
  int frames = 0;
  in.feed(buf.data(), buf.size(), [&](frame_type type, reader& r) {
    ++frames;
    CAF_CHECK(type == frame_type::hello);
    hello h;
    CAF_CHECK(read_hello(r, h));
    CAF_CHECK_EQUAL(h.magic, magic);
    CAF_CHECK_EQUAL(h.version, version);
    CAF_CHECK_EQUAL(h.max_message_size, 4096u);
    return false;
  });
  CAF_CHECK_EQUAL(frames, 1);
}
