// A server process for the integration tests. Prints `port N` once it serves.
//   test-server [--port=N] [--slacker.worker-threads=N]
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "slacker/actors/server.hpp"
#include "slacker/runtime/config.hpp"
#include "test_types.hpp"

using namespace slacker_test;

namespace {

struct test_server_config : slacker::config {
  uint16_t port = 0;
  test_server_config() {
    opt_group{custom_options_, "global"}.add(port, "port", "port to publish on (0: any)");
    add_message_type<point>("slacker_test::point");
  }
};

caf::behavior reflector(caf::event_based_actor* self) {
  self->set_default_handler(caf::reflect);
  return {[](int32_t x) {
    return x * 2;
  }};
}

void caf_main(caf::actor_system& sys, const test_server_config& cfg) {
  slacker::server srv{sys};
  srv.add(slacker::ns("test.api")
              .def(
                  "echo", [](std::string s) { return s; }, "returns its argument")
              .def(
                  "add", [](int64_t a, int64_t b) { return a + b; }, "a + b")
              .def(
                  "fail",
                  [](std::string what) -> int32_t { throw std::runtime_error(what); },
                  "throws its argument")
              .def(
                  "slow",
                  [](int64_t ms) {
                    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
                    return ms;
                  },
                  "sleeps ms milliseconds on the worker pool", slacker::blocking)
              .def("move",
                   [](point p, int32_t dx) {
                     p.x += dx;
                     return p;
                   })
              .def("doubles",
                   [](std::vector<double> xs) {
                     for (auto& x : xs)
                       x *= 2;
                     return xs;
                   })
              .def("lookup",
                   [](std::map<std::string, int32_t> m,
                      std::string key) -> std::optional<int32_t> {
                     auto i = m.find(key);
                     if (i == m.end())
                       return std::nullopt;
                     return i->second;
                   })
              .def("negate", [](bool b) { return !b; })
              .def("caf_only",
                   [](caf_only x) {
                     x.value += 1;
                     return x;
                   })
              .def("nothing", [] {}));
  auto reflect = sys.spawn(reflector);
  srv.expose("test.reflect", reflect);
  auto port = srv.publish(cfg.port, "127.0.0.1");
  if (!port) {
    std::fprintf(stderr, "cannot publish: %s\n", slacker::describe(port.error()).c_str());
    return;
  }
  std::printf("port %u\n", *port);
  std::fflush(stdout);
  // Serve until stdin closes (the test ends) or the process is killed.
  char buf[64];
  while (std::fread(buf, 1, sizeof(buf), stdin) > 0) {
  }
  caf::anon_send_exit(reflect, caf::exit_reason::user_shutdown);
}

} // namespace

CAF_MAIN()
