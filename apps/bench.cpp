// Round-trip benchmark on 127.0.0.1, one int64 in and out: raw CAF
// request/response next to the slacker direct client, in one run.
//   bench [--seconds=N] [--json=FILE]
// It starts itself as the server process (`--role=server`).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slacker/actors/client.hpp"
#include "slacker/actors/server.hpp"
#include "slacker/runtime/config.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct bench_config : slacker::config {
  std::string role = "client";
  size_t seconds = 3;
  std::string json;
  bench_config() {
    opt_group{custom_options_, "global"}
        .add(role, "role", "client (default) or server")
        .add(seconds, "seconds", "duration of each measurement")
        .add(json, "json", "also write the results as JSON to this file");
  }
};

struct result {
  std::string name;
  size_t in_flight = 0;
  size_t calls = 0;
  size_t errors = 0;
  double seconds = 0;
  std::vector<int64_t> lat_ns;

  double rate() const {
    return calls / seconds;
  }
  double pct(double p) {
    if (lat_ns.empty())
      return 0;
    std::sort(lat_ns.begin(), lat_ns.end());
    auto i = std::min(lat_ns.size() - 1, static_cast<size_t>(p * lat_ns.size()));
    return lat_ns[i] / 1000.0;
  }
};

/// Issues one call and invokes `done(ok)` when it completes.
using issue_fn = std::function<void(caf::event_based_actor*, std::function<void(bool)>)>;

result measure(caf::actor_system& sys, std::string name, size_t in_flight,
               std::chrono::seconds duration, issue_fn issue) {
  auto res = std::make_shared<result>();
  res->name = std::move(name);
  res->in_flight = in_flight;
  std::promise<void> finished;
  sys.spawn([&, res](caf::event_based_actor* self) {
    auto start = clock_type::now();
    auto end = start + duration;
    auto active = std::make_shared<size_t>(in_flight);
    auto launch = std::make_shared<std::function<void()>>();
    *launch = [=, &finished] {
      auto t0 = clock_type::now();
      issue(self, [=, &finished](bool ok) {
        auto t1 = clock_type::now();
        if (ok) {
          ++res->calls;
          if (in_flight == 1)
            res->lat_ns.push_back((t1 - t0).count());
        } else {
          ++res->errors;
        }
        if (t1 < end) {
          (*launch)();
        } else if (--*active == 0) {
          res->seconds = std::chrono::duration<double>(t1 - start).count();
          finished.set_value();
          self->quit();
        }
      });
    };
    for (size_t i = 0; i < in_flight; ++i)
      (*launch)();
  });
  finished.get_future().wait();
  return *res;
}

void serve(caf::actor_system& sys) {
  auto echo = sys.spawn([] {
    return caf::behavior{[](int64_t x) {
      return x;
    }};
  });
  auto raw_port = sys.middleman().publish(echo, 0, "127.0.0.1");
  slacker::server srv{sys};
  srv.add(slacker::ns("bench").def("echo", [](int64_t x) { return x; }));
  auto port = srv.publish(0, "127.0.0.1");
  if (!raw_port || !port)
    return;
  std::printf("%u %u\n", *raw_port, *port);
  std::fflush(stdout);
  char buf[16];
  while (read(0, buf, sizeof(buf)) > 0) {
  }
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
}

void caf_main(caf::actor_system& sys, const bench_config& cfg) {
  if (cfg.role == "server") {
    serve(sys);
    return;
  }
  // Start the server as a child process, talking through two pipes.
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0)
    return;
  auto pid = fork();
  if (pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    close(to_child[1]);
    close(from_child[0]);
    char self_path[512];
    auto n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
    self_path[n > 0 ? n : 0] = '\0';
    execl(self_path, self_path, "--role=server", nullptr);
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  unsigned raw_port = 0, port = 0;
  auto in = fdopen(from_child[0], "r");
  if (std::fscanf(in, "%u %u", &raw_port, &port) != 2) {
    std::fprintf(stderr, "error: the bench server did not start\n");
    return;
  }
  auto raw = sys.middleman().remote_actor("127.0.0.1", static_cast<uint16_t>(raw_port));
  if (!raw) {
    std::fprintf(stderr, "error: %s\n", slacker::describe(raw.error()).c_str());
    return;
  }
  slacker::client direct{sys, "127.0.0.1", static_cast<uint16_t>(port)};
  // Warm up: connect and look up the namespace.
  direct.call<int64_t>("bench/echo", int64_t{1});
  auto duration = std::chrono::seconds{cfg.seconds};
  issue_fn raw_call = [&](caf::event_based_actor* self, std::function<void(bool)> done) {
    self->request(*raw, caf::infinite, int64_t{42})
        .then([done](int64_t) { done(true); }, [done](caf::error&) { done(false); });
  };
  issue_fn slacker_call = [&](caf::event_based_actor* self,
                              std::function<void(bool)> done) {
    auto req = slacker::make_call(slacker::call_options{}, "bench/echo", int64_t{42});
    self->request(direct.actor(), caf::infinite, std::move(*req))
        .then(
            [done](slacker::call_reply& rep) {
              done(slacker::result_of<int64_t>(rep).engaged());
            },
            [done](caf::error&) { done(false); });
  };
  std::vector<result> results;
  {
    // The blocking facade from plain code, one call after the other.
    result r;
    r.name = "slacker direct, blocking call";
    r.in_flight = 1;
    auto start = clock_type::now();
    auto end = start + duration;
    for (auto t0 = start; t0 < end;) {
      auto ok = direct.call<int64_t>("bench/echo", int64_t{42}).engaged();
      auto t1 = clock_type::now();
      ++(ok ? r.calls : r.errors);
      r.lat_ns.push_back((t1 - t0).count());
      t0 = t1;
    }
    r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    results.push_back(std::move(r));
  }
  for (size_t in_flight : {size_t{1}, size_t{64}}) {
    results.push_back(
        measure(sys, "raw CAF request/response", in_flight, duration, raw_call));
    results.push_back(
        measure(sys, "slacker direct client", in_flight, duration, slacker_call));
  }
  std::printf("%-28s %9s %12s %9s %9s %9s %7s\n", "system", "in flight", "calls/s",
              "p50 us", "p99 us", "p99.9 us", "errors");
  for (auto& r : results)
    std::printf("%-28s %9zu %12.0f %9.1f %9.1f %9.1f %7zu\n", r.name.c_str(), r.in_flight,
                r.rate(), r.pct(0.5), r.pct(0.99), r.pct(0.999), r.errors);
  if (!cfg.json.empty()) {
    std::ofstream out{cfg.json};
    out << "[\n";
    for (size_t i = 0; i < results.size(); ++i) {
      auto& r = results[i];
      out << "  {\"system\": \"" << r.name << "\", \"in_flight\": " << r.in_flight
          << ", \"calls_per_s\": " << r.rate() << ", \"p50_us\": " << r.pct(0.5)
          << ", \"p99_us\": " << r.pct(0.99) << ", \"p999_us\": " << r.pct(0.999)
          << ", \"errors\": " << r.errors << "}" << (i + 1 < results.size() ? "," : "")
          << "\n";
    }
    out << "]\n";
  }
  close(to_child[1]);
  waitpid(pid, nullptr, 0);
}

} // namespace

CAF_MAIN()
