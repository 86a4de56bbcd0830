// The example client, direct to one server: calls each example function and
// says what it does.
//   example-client [--server=HOST:PORT]
#include <cstdio>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "slacker/actors/client.hpp"
#include "slacker/runtime/config.hpp"

namespace {

struct client_config : slacker::config {
  std::string server = "127.0.0.1:2104";
  client_config() {
    opt_group{custom_options_, "global"}.add(server, "server", "HOST:PORT of the server");
  }
};

int failures = 0;

template <class T> void show(const char* what, const caf::expected<T>& res) {
  if (res)
    std::printf("%-40s -> %s\n", what, caf::deep_to_string(*res).c_str());
  else {
    std::printf("%-40s -> error: %s\n", what, slacker::describe(res.error()).c_str());
    ++failures;
  }
}

void caf_main(caf::actor_system& sys, const client_config& cfg) {
  slacker::client c{sys, cfg.server};
  std::printf("calling %s\n", cfg.server.c_str());
  show("timestamp", c.call<int64_t>("slacker.example.api/timestamp"));
  show("inc-m 10", c.call<int64_t>("slacker.example.api/inc-m", int64_t{10}));
  show("rand-ints 5",
       c.call<std::vector<int32_t>>("slacker.example.api/rand-ints", int32_t{5}));
  slacker::call_options json;
  json.codec = slacker::codec_id::json;
  show("echo (json codec)",
       c.call<std::string>(json, "slacker.example.api/echo", "hello"));
  show("whoami", c.call<std::string>("slacker.example.api/whoami"));
  show("api2/echo2", c.call<std::string>("slacker.example.api2/echo2", "world"));
  int ok = 0;
  for (int i = 0; i < 100; ++i)
    if (c.call<int64_t>("slacker.example.api/timestamp"))
      ++ok;
  std::printf("%-40s -> %d of 100 succeeded\n", "100 timestamp calls", ok);
  if (ok != 100)
    ++failures;
  auto err = c.call<int64_t>("slacker.example.api/make-error");
  if (!err && slacker::code_of(err.error()) == slacker::sc::exception)
    std::printf("%-40s -> caught as expected: %s\n", "make-error",
                slacker::describe(err.error()).c_str());
  else {
    std::printf("make-error did not fail as expected\n");
    ++failures;
  }
  if (failures > 0) {
    std::printf("%d step(s) failed\n", failures);
    std::exit(1);
  }
  std::printf("all steps succeeded\n");
}

} // namespace

CAF_MAIN()
