// Writes the seed corpus: valid encodings of each fuzzed argument list, so
// that the fuzzers start from inputs that get past the first checks.
//   make-seeds DIR   (writes DIR/<target>/seed-N)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "slacker/messages/codec.hpp"
#include "slacker/messages/detail/wire.hpp"

namespace {

using namespace slacker;

void write(const std::filesystem::path& dir, int& n, const bytes& data) {
  std::filesystem::create_directories(dir);
  std::ofstream out{dir / ("seed-" + std::to_string(n++)), std::ios::binary};
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

template <class... Ts>
void seeds(const std::filesystem::path& dir, int& n, codec_id c, const Ts&... xs) {
  if (auto enc = encode(c, xs...))
    write(dir, n, *enc);
}

void codec_seeds(const std::filesystem::path& dir, codec_id c) {
  int n = 0;
  seeds(dir, n, c, std::string{"hello"}, int64_t{-42});
  seeds(dir, n, c, int32_t{7}, uint8_t{255}, 2.5, true);
  seeds(dir, n, c, std::vector<std::string>{"a", "bc", ""});
  seeds(dir, n, c, std::vector<char>{'x', 'y'}, std::optional<int32_t>{3});
  seeds(dir, n, c, std::map<std::string, std::vector<int64_t>>{{"k", {1, 2, 3}}});
  seeds(dir, n, c, std::vector<std::vector<std::string>>{{"a"}, {}});
  seeds(dir, n, c, std::optional<std::map<std::string, std::string>>{{{"a", "b"}}});
  if (auto v = encode_value(c, std::vector<double>{1.5, -2}))
    write(dir, n, *v);
  if (auto v = encode_value(c, uint64_t{18446744073709551615ull}))
    write(dir, n, *v);
}

void envelope_seeds(const std::filesystem::path& dir) {
  int n = 0;
  std::vector<char> buf;
  wire::write_hello(buf, wire::default_max_message_size);
  write(dir, n, buf);
  auto call = [&](const std::string& fn, codec_id c, bytes args) {
    call_request req;
    req.id = 1;
    req.ns = "fuzz.api";
    req.fn = fn;
    req.codec = c;
    req.args = std::move(args);
    req.ext["slacker.manager-token"] = bytes{'t'};
    std::vector<char> frame;
    wire::write_hello(frame, wire::default_max_message_size);
    wire::write_call(frame, req);
    write(dir, n, frame);
  };
  call("add", codec_id::json, bytes{'[', '1', ',', '2', ']'});
  call("add", codec_id::caf_binary,
       *encode(codec_id::caf_binary, int64_t{1}, int64_t{2}));
  call("echo", codec_id::boost_binary,
       *encode(codec_id::boost_binary, std::string{"hi"}));
  call("sizes", codec_id::json,
       *encode(codec_id::json, std::map<std::string, std::vector<int32_t>>{{"a", {1}}}));
  call("bits", codec_id::caf_binary,
       *encode(codec_id::caf_binary, std::vector<bool>{true, false}));
  call("maybe", codec_id::json, bytes{'[', 'n', 'u', 'l', 'l', ']'});
  call("nothing", codec_id::json, bytes{'[', ']'});
  call_reply rep;
  rep.id = 1;
  rep.result = bytes{'4', '2'};
  std::vector<char> frame;
  wire::write_reply(frame, rep);
  write(dir, n, frame);
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make-seeds DIR\n");
    return 2;
  }
  std::filesystem::path dir{argv[1]};
  codec_seeds(dir / "caf_binary", codec_id::caf_binary);
  codec_seeds(dir / "json", codec_id::json);
  codec_seeds(dir / "boost", codec_id::boost_binary);
  envelope_seeds(dir / "envelope");
  return 0;
}
