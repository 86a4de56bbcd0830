// A server process for the integration tests. Prints `port N` once it serves.
//   test-server [--port=N] [--slacker.worker-threads=N] [--slow-ms=N] [--typed]
// SIGTERM (or the manager's shutdown) stops it gracefully (graceful_stop)
// and prints `stopped`.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "slacker/actors/server.hpp"
#include "slacker/cluster/manager.hpp"
#include "slacker/cluster/registration.hpp"
#include "slacker/cluster/server_config.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/signals.hpp"
#include "test_types.hpp"

using namespace slacker_test;

namespace {

struct test_server_config : slacker::cluster_server_config {
  bool manager = false;
  bool typed = false;
  std::string bind = "127.0.0.1";
  size_t slow_ms = 0;
  test_server_config() {
    zk.clear(); // none: do not register
    cluster = "test-cluster";
    node = "127.0.0.1";
    session_timeout = 2000;
    opt_group{custom_options_, "global"}
        .add(manager, "manager", "serve the manager namespace")
        .add(typed, "typed", "serve the typed actor namespace test.typed")
        .add(bind, "bind", "address to listen on (127.0.0.1)")
        .add(slow_ms, "slow-ms", "test.api/maybe_slow sleeps this long here (0)");
    add_message_type<point>("slacker_test::point");
    add_message_type<server_only>("slacker_test::server_only");
  }
};

/// test.typed: a typed actor served as a namespace.
using typed_doubler = caf::typed_actor<caf::replies_to<int32_t>::with<int32_t>,
                                       caf::replies_to<std::string>::with<server_only>>;

typed_doubler::behavior_type typed_doubler_impl() {
  return {
      [](int32_t x) { return x * 2; },
      [](const std::string& text) { return server_only{text}; },
  };
}

caf::behavior reflector(caf::event_based_actor* self) {
  self->set_default_handler(caf::reflect);
  return {[](int32_t x) {
    return x * 2;
  }};
}

/// Keeps the calling thread's core busy for `d` on the clock (a function
/// that is not marked blocking and costs CPU).
void busy_for(std::chrono::steady_clock::duration d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    // busy
  }
}

void caf_main(caf::actor_system& sys, const test_server_config& cfg) {
  if (auto err = slacker::start_metrics(sys.config())) { // --slacker.metrics
    std::fprintf(stderr, "error: %s\n", slacker::describe(err).c_str());
    std::exit(1);
  }
  slacker::server srv{sys};
  // whoami answers this server's registered address once it is published.
  auto self_addr = std::make_shared<std::string>();
  struct executions {
    std::mutex mtx;
    std::vector<std::string> ids;
  };
  auto executed = std::make_shared<executions>();
  srv.add(
      slacker::ns("test.api")
          .def(
              "whoami", [self_addr] { return *self_addr; }, "this server's host:port")
          .def(
              "echo", [](std::string s) { return s; }, "returns its argument")
          .def(
              "add", [](int64_t a, int64_t b) { return a + b; }, "a + b")
          .def(
              "add-under-a-longer-name", [](int64_t a, int64_t b) { return a + b; },
              "a + b, under a name no std::string keeps inline")
          .def(
              "bytes", [](int64_t n) { return std::string(static_cast<size_t>(n), 'x'); },
              "a string of n bytes")
          .def(
              "fail", [](std::string what) -> int32_t { throw std::runtime_error(what); },
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
          .def(
              "hold",
              [](std::string payload, int64_t ms) {
                std::this_thread::sleep_for(std::chrono::milliseconds{ms});
                return static_cast<int64_t>(payload.size());
              },
              "holds its argument ms milliseconds on the worker pool", slacker::blocking)
          .def(
              "spin",
              [](int64_t ms) {
                busy_for(std::chrono::milliseconds{ms});
                return ms;
              },
              "keeps a core busy for ms milliseconds (not marked blocking)")
          .def(
              "spin_us",
              [](int64_t us) {
                busy_for(std::chrono::microseconds{us});
                return us;
              },
              "keeps a core busy for us microseconds (not marked blocking)")
          .def(
              "nap_us",
              [](int64_t us) {
                std::this_thread::sleep_for(std::chrono::microseconds{us});
                return us;
              },
              "sleeps us microseconds (not marked blocking)")
          .def(
              "wait_ms",
              [](int64_t ms) {
                std::this_thread::sleep_for(std::chrono::milliseconds{ms});
                return ms;
              },
              "sleeps ms milliseconds (not marked blocking, never cheap: on the "
              "workers, handed to them in the order of the calls)")
          .def("nothing", [] {})
          .def(
              "note",
              [notes = std::make_shared<std::atomic<int64_t>>(0)](std::string) {
                return ++*notes;
              },
              "counts its calls (not idempotent)")
          .def(
              "record",
              [executed](std::string id) {
                std::lock_guard<std::mutex> guard{executed->mtx};
                executed->ids.push_back(std::move(id));
                return static_cast<int64_t>(executed->ids.size());
              },
              "records that it ran with this id (not idempotent)")
          .def(
              "recorded",
              [executed] {
                std::lock_guard<std::mutex> guard{executed->mtx};
                return executed->ids;
              },
              "the ids record ran with, in order")
          .def(
              "maybe_slow",
              [self_addr, ms = cfg.slow_ms] {
                std::this_thread::sleep_for(std::chrono::milliseconds{ms});
                return *self_addr;
              },
              "sleeps --slow-ms on this server, then says who it is", slacker::blocking)
          .idempotent("whoami")
          .idempotent("echo")
          .idempotent("maybe_slow"));
  // An operator's function: the manager's authorization rule, without ZooKeeper.
  srv.add(slacker::ns("test.admin")
              .def(
                  "secret", [] { return std::string{"granted"}; }, "guarded")
              .def(
                  "open", [] { return std::string{"open"}; }, "not guarded")
              .def(
                  "lane", [] { return std::string{"operator lane"}; },
                  "guarded, blocking: on the operator lane", slacker::blocking)
              .guard("secret")
              .guard("lane"));
  auto reflect = sys.spawn(reflector);
  srv.expose("test.reflect", reflect);
  if (cfg.typed)
    srv.expose("test.typed", sys.spawn(typed_doubler_impl));
  auto port = srv.publish(cfg.port, cfg.bind);
  if (!port) {
    std::fprintf(stderr, "cannot publish: %s\n", slacker::describe(port.error()).c_str());
    return;
  }
  *self_addr = cfg.node + ":" + std::to_string(*port);
  std::unique_ptr<slacker::registration> reg;
  if (!cfg.zk.empty()) {
    reg = std::make_unique<slacker::registration>(sys, srv, cfg.registration());
    if (cfg.manager) {
      srv.add(slacker::manager_namespace(*reg, [] { kill(getpid(), SIGTERM); }));
      reg->publish(slacker::manager_ns);
    }
  }
  std::printf("port %u\n", *port);
  std::fflush(stdout);
  // A stop signal (blocked in every thread by main): a graceful stop, then exit.
  std::thread{[&srv, &reg] {
    slacker::wait_stop_signal();
    if (reg)
      slacker::graceful_stop(srv, *reg, std::chrono::milliseconds{300},
                             std::chrono::seconds{10});
    else
      srv.stop();
    std::printf("stopped\n");
    std::fflush(stdout);
    std::_Exit(0);
  }}.detach();
  // Commands on stdin, one per line, each answered on stdout; EOF stops.
  std::string line;
  while (std::getline(std::cin, line)) {
    auto space = line.find(' ');
    auto cmd = line.substr(0, space);
    auto arg = space == std::string::npos ? std::string{} : line.substr(space + 1);
    if (cmd == "going-away") {
      srv.going_away();
      std::printf("ok\n");
    } else if (cmd == "data" && reg) {
      reg->set_server_data(arg);
      std::printf("ok\n");
    } else if (cmd == "unpublish" && reg) {
      std::printf(reg->unpublish(arg) ? "ok\n" : "failed\n");
    } else if (cmd == "zk-requests" && reg) {
      // Once registered: what the registration cost.
      auto err = reg->wait_registered(std::chrono::seconds{10});
      auto n = reg->zk_requests();
      if (!err && n)
        std::printf("%llu %llu\n", static_cast<unsigned long long>(n->reads),
                    static_cast<unsigned long long>(n->writes));
      else
        std::printf("failed\n");
    } else if (cmd == "leading" && reg) {
      // What this server leads now: `leading NS=INCARNATION:SEQUENCE ...`.
      std::string out = "leading";
      for (auto& x : reg->leaderships())
        out += " " + x.ns + "=" + std::to_string(x.token.incarnation) + ":" +
               std::to_string(x.token.sequence);
      std::printf("%s\n", out.c_str());
    } else if (cmd == "publish" && reg) {
      std::printf(reg->publish(arg) ? "ok\n" : "failed\n");
    } else {
      std::printf("unknown command: %s\n", line.c_str());
    }
    std::fflush(stdout);
  }
  reg.reset();
  caf::anon_send_exit(reflect, caf::exit_reason::user_shutdown);
}

} // namespace

int main(int argc, char** argv) {
  slacker::block_stop_signals(); // before CAF's threads exist
  return caf::exec_main<>(caf_main, argc, argv);
}
