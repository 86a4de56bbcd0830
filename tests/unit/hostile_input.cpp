#define CAF_SUITE hostile_input
#include <caf/test/unit_test.hpp>

// Inputs an attacker would send: lengths that declare gigabytes, JSON nested
// tens of thousands deep, numbers that do not fit. Each must be a clear
// codec_error that costs no more memory than the input and quotes little of it.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "apps/support/proc_status.hpp"
#include "slacker/actors/detail/namespace_actor.hpp"
#include "slacker/actors/namespace.hpp"
#include "slacker/messages/codec.hpp"
#include "tests/require.hpp"

using namespace slacker;

namespace {

constexpr long budget_kib = 64 * 1024;

long peak_kib() {
  return slacker_test::status_kib("self", "VmHWM:");
}

/// Replaces the 4 bytes of `value` (little endian) found first in `in` after
/// `from` with 0xFF: a declared length of about 4 Gi.
bytes inflate(bytes in, uint32_t value, size_t from = 0) {
  char pattern[4];
  for (int i = 0; i < 4; ++i)
    pattern[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  auto i = std::search(in.begin() + static_cast<std::ptrdiff_t>(from), in.end(), pattern,
                       pattern + 4);
  SLACKER_REQUIRE(i != in.end(), "length field not found");
  std::fill(i, i + 4, static_cast<char>(0xFF));
  return in;
}

template <class T>
void check_rejected(codec_id c, const bytes& hostile, const char* what) {
  auto before = peak_kib();
  auto res = decode_value<T>(c, hostile);
  auto after = peak_kib();
  SLACKER_REQUIRE(!res, what << " was accepted");
  CAF_CHECK_EQUAL(code_of(res.error()), sc::codec_error);
  CAF_MESSAGE(what << ": " << describe(res.error()));
  CAF_CHECK_LESS(after - before, budget_kib);
  CAF_CHECK_LESS(describe(res.error()).size(), 400u);
}

bytes text(const std::string& s) {
  return bytes(s.begin(), s.end());
}

} // namespace

CAF_TEST(a boost string declaring 4 GiB is a codec_error without the allocation) {
  auto good = encode_value(codec_id::boost_binary, std::string(77, 'x'));
  SLACKER_REQUIRE(good, describe(good.error()));
  check_rejected<std::string>(codec_id::boost_binary, inflate(*good, 77), "boost string");
}

CAF_TEST(a boost vector declaring 4 Gi elements is a codec_error without the allocation) {
  auto good = encode_value(codec_id::boost_binary, std::vector<int8_t>(77, 1));
  SLACKER_REQUIRE(good, describe(good.error()));
  check_rejected<std::vector<int8_t>>(codec_id::boost_binary, inflate(*good, 77),
                                      "boost vector<int8_t>");
  auto strings = encode_value(codec_id::boost_binary, std::vector<std::string>(77, "a"));
  SLACKER_REQUIRE(strings, describe(strings.error()));
  check_rejected<std::vector<std::string>>(codec_id::boost_binary, inflate(*strings, 77),
                                           "boost vector<string>");
}

CAF_TEST(caf byte sequences and strings declaring 4 GiB are a codec_error without the
             allocation) {
  // CAF writes sizes as varbytes: 0xFFFFFFFF is FF FF FF FF 0F.
  bytes hostile{'\xFF', '\xFF', '\xFF', '\xFF', '\x0F', 'a', 'b', 'c'};
  check_rejected<std::vector<char>>(codec_id::caf_binary, hostile, "caf vector<char>");
  check_rejected<std::vector<uint8_t>>(codec_id::caf_binary, hostile,
                                       "caf vector<uint8_t>");
  check_rejected<std::string>(codec_id::caf_binary, hostile, "caf string");
  check_rejected<std::vector<int64_t>>(codec_id::caf_binary, hostile,
                                       "caf vector<int64_t>");
}

CAF_TEST(a caf vector of bools still decodes at eight per byte) {
  std::vector<bool> bits(100, true);
  bits[3] = false;
  auto enc = encode_value(codec_id::caf_binary, bits);
  SLACKER_REQUIRE(enc, describe(enc.error()));
  auto back = decode_value<std::vector<bool>>(codec_id::caf_binary, *enc);
  SLACKER_REQUIRE(back, describe(back.error()));
  CAF_CHECK(*back == bits);
}

CAF_TEST(a boost boolean byte other than 0 or 1 is a codec_error) {
  // Found by fuzzing (fuzz/corpus/envelope/regression-boost-bool): Boost
  // copied the byte into a bool as it was, which is undefined behaviour.
  auto good = encode_value(codec_id::boost_binary, true);
  SLACKER_REQUIRE(good, describe(good.error()));
  auto bad = *good;
  SLACKER_REQUIRE(bad.back() == 1, "the bool is not the last byte");
  bad.back() = 7;
  auto res = decode_value<bool>(codec_id::boost_binary, bad);
  SLACKER_REQUIRE(!res, "a bool of 7 was accepted");
  CAF_CHECK_EQUAL(code_of(res.error()), sc::codec_error);
  auto back = decode_value<bool>(codec_id::boost_binary, *good);
  SLACKER_REQUIRE(back, describe(back.error()));
  CAF_CHECK_EQUAL(*back, true);
}

CAF_TEST(json nested 70000 deep is a codec_error naming the limit) {
  std::string deep = "[" + std::string(70000, '[') + std::string(70000, ']') + ", 1]";
  check_rejected<std::vector<int>>(codec_id::json, text(deep), "deep json");
  auto res = decode<std::vector<int>, int>(codec_id::json, text(deep));
  SLACKER_REQUIRE(!res, "deep json accepted");
  CAF_CHECK(describe(res.error()).find("max-depth") != std::string::npos);
  // Brackets inside strings do not count.
  auto quoted = "[\"" + std::string(1000, '[') + "\"]";
  auto ok = decode<std::string>(codec_id::json, text(quoted));
  SLACKER_REQUIRE(ok, describe(ok.error()));
  CAF_CHECK_EQUAL(std::get<0>(*ok).size(), 1000u);
}

CAF_TEST(deep json with the wrong arity crashes no namespace) {
  // The input that used to overflow the stack: the wrong-arity message
  // dumped the whole (deep) argument.
  auto api = ns("t").def(
      "one", [](std::vector<int> xs) { return xs.size(); }, "");
  call_request req;
  req.ns = "t";
  req.fn = "one";
  req.codec = codec_id::json;
  req.args = text("[" + std::string(70000, '[') + std::string(70000, ']') + ", 1]");
  auto rep = run_call(api, req);
  CAF_CHECK_EQUAL(code_of(rep.err), sc::codec_error);
  CAF_CHECK_LESS(describe(rep.err).size(), 400u);
}

CAF_TEST(json numbers that do not fit their type are codec_errors) {
  auto bad64 = {"[9223372036854775808]",
                "[-9223372036854775809]",
                "[1e300]",
                "[1.9]",
                "[-1e19]",
                "[\"7\"]"};
  for (auto in : bad64) {
    auto res = decode<int64_t>(codec_id::json, text(in));
    SLACKER_REQUIRE(!res, in << " was accepted as int64");
    CAF_CHECK_EQUAL(code_of(res.error()), sc::codec_error);
  }
  auto big32 = decode<int32_t>(codec_id::json, text("[1099511627776]"));
  CAF_CHECK(!big32);
  auto neg_unsigned = decode<uint32_t>(codec_id::json, text("[-1]"));
  CAF_CHECK(!neg_unsigned);
  auto nested =
      decode<std::vector<int32_t>>(codec_id::json, text("[[1, 2, 1099511627776]]"));
  CAF_CHECK(!nested);
  auto float_overflow = decode<float>(codec_id::json, text("[1e300]"));
  CAF_CHECK(!float_overflow);
  // What fits is taken as it is.
  auto min64 = decode<int64_t>(codec_id::json, text("[-9223372036854775808]"));
  SLACKER_REQUIRE(min64, describe(min64.error()));
  CAF_CHECK_EQUAL(std::get<0>(*min64), INT64_MIN);
  auto max_u64 = decode<uint64_t>(codec_id::json, text("[18446744073709551615]"));
  SLACKER_REQUIRE(max_u64, describe(max_u64.error()));
  CAF_CHECK_EQUAL(std::get<0>(*max_u64), UINT64_MAX);
  auto whole = decode<int32_t>(codec_id::json, text("[2.0]"));
  SLACKER_REQUIRE(whole, describe(whole.error()));
  CAF_CHECK_EQUAL(std::get<0>(*whole), 2);
  auto d = decode<double>(codec_id::json, text("[1e300]"));
  SLACKER_REQUIRE(d, describe(d.error()));
}

CAF_TEST(error messages quote at most a few hundred bytes of their input) {
  std::string big(120 * 1024, 'x');
  auto wrong_arity = decode<int64_t, int64_t>(codec_id::json, text("[\"" + big + "\"]"));
  SLACKER_REQUIRE(!wrong_arity, "accepted");
  CAF_CHECK_LESS(describe(wrong_arity.error()).size(), 400u);
  auto not_json = decode<int64_t>(codec_id::json, text(big));
  SLACKER_REQUIRE(!not_json, "accepted");
  CAF_CHECK_LESS(describe(not_json.error()).size(), 400u);
  auto api = ns("t").def(
      "one", [](int64_t x) { return x; }, "");
  call_request req;
  req.ns = "t";
  req.fn = big;
  req.codec = codec_id::json;
  req.args = text("[1]");
  auto rep = run_call(api, req);
  CAF_CHECK_EQUAL(code_of(rep.err), sc::not_found);
  CAF_CHECK_LESS(describe(rep.err).size(), 400u);
}

CAF_TEST(texts from the wire are printed escaped and bounded) {
  CAF_CHECK_EQUAL(printable("a\nb\x1b[31mc\\d\r\te\x7f"),
                  "a\\nb\\x1b[31mc\\\\d\\r\\te\\x7f");
  CAF_CHECK_EQUAL(printable(std::string(300, 'x'), 10), "xxxxxxxxxx... (300 bytes)");
  CAF_CHECK_EQUAL(printable("caf\xc3\xa9"), "caf\xc3\xa9"); // UTF-8 passes
}
