#define CAF_SUITE codec
#include <caf/test/unit_test.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "slacker/messages/codec.hpp"
#include "slacker/messages/membership.hpp"
#include "slacker/runtime/config.hpp"
#include "tests/require.hpp"
#include "tests/test_types.hpp"

using namespace slacker;
using slacker_test::caf_only;
using slacker_test::point;

namespace {

constexpr codec_id all_codecs[] = {codec_id::caf_binary, codec_id::json,
                                   codec_id::boost_binary};

template <class T> void check_roundtrip(const T& value) {
  for (auto c : all_codecs) {
    auto bytes = encode_value(c, value);
    SLACKER_REQUIRE(bytes, "encode in " << std::string{to_string(c)} << ": "
                                        << describe(bytes.error()));
    auto back = decode_value<T>(c, *bytes);
    SLACKER_REQUIRE(back, "decode in " << std::string{to_string(c)} << ": "
                                       << describe(back.error()));
    CAF_CHECK(*back == value);
  }
}

// Detection at compile time: what each codec supports.
static_assert(supports<int64_t>(codec_id::caf_binary));
static_assert(supports<int64_t>(codec_id::json));
static_assert(supports<int64_t>(codec_id::boost_binary));
static_assert(supports<point>(codec_id::caf_binary));
static_assert(supports<point>(codec_id::json));
static_assert(supports<point>(codec_id::boost_binary));
static_assert(supports<std::optional<point>>(codec_id::boost_binary));
static_assert(supports<std::map<std::string, std::vector<point>>>(codec_id::json));
static_assert(supports<caf_only>(codec_id::caf_binary));
static_assert(!supports<caf_only>(codec_id::json));
static_assert(!supports<caf_only>(codec_id::boost_binary));
static_assert(!supports<std::vector<caf_only>>(codec_id::boost_binary));

} // namespace

CAF_TEST(integers doubles bools and strings round trip in every codec) {
  check_roundtrip(int8_t{-8});
  check_roundtrip(int32_t{-123456});
  check_roundtrip(int64_t{1} << 60);
  check_roundtrip(uint16_t{65535});
  check_roundtrip(3.25);
  check_roundtrip(true);
  check_roundtrip(false);
  check_roundtrip(std::string{"hello, world"});
  check_roundtrip(std::string{});
}

CAF_TEST(vectors maps and optionals round trip in every codec) {
  check_roundtrip(std::vector<int32_t>{1, 2, 3});
  check_roundtrip(std::vector<std::string>{"a", "", "c"});
  check_roundtrip(std::map<std::string, double>{{"a", 1.5}, {"b", -2}});
  check_roundtrip(std::map<int32_t, std::string>{{1, "one"}, {2, "two"}});
  check_roundtrip(std::optional<int64_t>{42});
  check_roundtrip(std::optional<int64_t>{});
  check_roundtrip(std::optional<std::string>{"x"});
}

CAF_TEST(user structs round trip through inspect to_json and serialize) {
  check_roundtrip(point{1, -2, "p"});
  check_roundtrip(std::vector<point>{{1, 2, "a"}, {3, 4, "b"}});
  check_roundtrip(std::optional<point>{point{5, 6, "c"}});
}

CAF_TEST(argument sequences round trip in every codec) {
  for (auto c : all_codecs) {
    auto bytes = encode(c, std::string{"x"}, int64_t{7}, point{1, 2, "q"});
    CAF_REQUIRE(bytes);
    auto back = decode<std::string, int64_t, point>(c, *bytes);
    CAF_REQUIRE(back);
    CAF_CHECK_EQUAL(std::get<0>(*back), "x");
    CAF_CHECK_EQUAL(std::get<1>(*back), 7);
    CAF_CHECK(std::get<2>(*back) == (point{1, 2, "q"}));
  }
}

CAF_TEST(json arguments are an array) {
  auto bytes = encode(codec_id::json, int64_t{1}, std::string{"a"});
  CAF_REQUIRE(bytes);
  CAF_CHECK_EQUAL(std::string(bytes->begin(), bytes->end()), R"([1,"a"])");
}

CAF_TEST(a type a codec cannot carry gives codec_error not a crash) {
  auto bytes = encode(codec_id::json, caf_only{3});
  CAF_REQUIRE(!bytes);
  CAF_CHECK_EQUAL(code_of(bytes.error()), sc::codec_error);
  auto back = decode<caf_only>(codec_id::boost_binary, slacker::bytes{});
  CAF_REQUIRE(!back);
  CAF_CHECK_EQUAL(code_of(back.error()), sc::codec_error);
}

CAF_TEST(garbage bytes give codec_error in every codec) {
  const slacker::bytes garbage{'\xff', '\x13', '\x00', '\x7f', 'z',    '\x80',
                               '\x01', '\xfe', '\xff', '\xff', '\xff', '\xff',
                               '\xff', '\xff', '\xff', '\x7f'};
  for (auto c : all_codecs) {
    auto a = decode<std::string, int64_t>(c, garbage);
    CAF_CHECK(!a);
    if (!a)
      CAF_CHECK_EQUAL(code_of(a.error()), sc::codec_error);
    auto b = decode<std::vector<point>>(c, garbage);
    CAF_CHECK(!b);
    auto d = decode_value<std::map<std::string, int32_t>>(c, garbage);
    CAF_CHECK(!d);
  }
}

CAF_TEST(trailing bytes after the arguments are rejected) {
  for (auto c : {codec_id::caf_binary, codec_id::boost_binary}) {
    auto bytes = encode(c, int64_t{1}, int64_t{2});
    CAF_REQUIRE(bytes);
    auto back = decode<int64_t>(c, *bytes);
    CAF_CHECK(!back);
  }
  auto json = encode(codec_id::json, int64_t{1}, int64_t{2});
  CAF_REQUIRE(json);
  CAF_CHECK(!decode<int64_t>(codec_id::json, *json));
}

CAF_TEST(boolean switches take true and false on the command line) {
  std::vector<std::string> args{"app", "--slacker.log-calls=true", "--insecure=true",
                                "--test.switch=false", "--unavailable-value=false"};
  slacker::expand_option_aliases(args, {"test.switch"});
  CAF_CHECK(args ==
            (std::vector<std::string>{"app", "--slacker.log-calls", "--slacker.insecure",
                                      "--unavailable-value=false"}));
  caf::actor_system_config cfg;
  CAF_CHECK(!slacker::switch_on(cfg, "test.switch", true)); // the command line said false
  CAF_CHECK(slacker::switch_on(cfg, "test.other", true));
}

CAF_TEST(fencing tokens compare by incarnation then sequence) {
  using slacker::fencing_token;
  fencing_token old_leader{7, 29, 1000}; // session 7, sequence 29
  fencing_token next{8, 30, 1000};
  fencing_token after_a_wipe{9, 0, 2000}; // the election made anew: sequences restart
  CAF_CHECK(old_leader < next);
  CAF_CHECK(next < after_a_wipe);
  CAF_CHECK(old_leader < after_a_wipe);
  CAF_CHECK(!(after_a_wipe < next));
  CAF_CHECK(!(next < next));
}
