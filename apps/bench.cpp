// Round-trip benchmark on 127.0.0.1, all systems in one run, same duration:
// the TCP floor (and its fan-out to 3 servers), raw CAF request/response, the
// slacker direct client (async and blocking), and the slacker cluster client
// (random over 2 servers, first over 2, all over 3), each with 1 call in
// flight (latency) and 64 (throughput), for an int64 and for a 1 KiB string.
//   bench [--seconds=N | --millis=N] [--rounds=N] [--json=FILE] [--no-cluster]
//         [--only=TEXT]
// Each measurement is split into rounds (5): every system runs once per
// round, in turn, and each row reports its median round.
//   bench --scale=2,8,32,64 [--seconds=N]   the scale bench (bench_scale.cpp)
//         [--latency-only | --throughput-only] [--tls-cert=F --tls-key=F --tls-ca=F]
//         [CAF or slacker options, passed on to the servers too]
// The TLS rows use a fourth server and a client system of their own, with the
// given certificates or ones made for the run (the `openssl` command).
// It starts its own servers (itself, `--role=server`) and, for the cluster
// rows, a ZooKeeper (example-zk from the same build).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/broker.hpp>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apps/support/certs.hpp"
#include "apps/support/process.hpp"
#include "bench_scale.hpp"
#include "slacker/actors/client.hpp"
#include "slacker/actors/server.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/cluster/registration.hpp"
#include "slacker/messages/detail/wire.hpp"
#include "slacker/registry/registry.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/signals.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

/// CAF options given to the bench (scheduler, work stealing, middleman): the
/// servers it starts get them too, so that a setting is measured on both ends.
std::vector<std::string> forwarded;

/// The client's --tls-* options: for the TLS rows only.
std::vector<std::string> tls_args;

struct bench_config : slacker::config {
  std::string role = "client";
  size_t seconds = 3;
  size_t millis = 0; // overrides seconds (the smoke test runs tiny measurements)
  std::string json;
  bool no_cluster = false;
  std::string zk;
  std::string clusters; // server role: comma-separated clusters to join
  std::string only;     // measure only the systems whose name contains this
  bool latency_only = false;
  bool throughput_only = false;
  size_t rounds = 5;      // each measurement split into rounds, the systems interleaved
  std::string scale;      // comma-separated cluster sizes: the scale bench
  size_t servers = 0;     // scale-client role: servers to wait for
  std::string membership; // S,C: the membership simulation
  std::string idle;       // N,C: the idle bench
  bench_config() {
    opt_group{custom_options_, "global"}
        .add(role, "role", "client (default), server, scale-client or idle-client")
        .add(servers, "servers", "scale-client role: servers to wait for")
        .add(idle, "idle", "N,C: N servers and C idle cluster clients, their wakeups")
        .add(membership, "membership",
             "S,C: S light registrations and C watching clients against ZooKeeper")
        .add(seconds, "seconds", "duration of each measurement")
        .add(millis, "millis", "duration of each measurement in ms (overrides seconds)")
        .add(json, "json", "also write the results as JSON to this file")
        .add(no_cluster, "no-cluster", "skip the cluster rows (and their ZooKeeper)")
        .add(zk, "zk", "server role: ZooKeeper to register in")
        .add(clusters, "clusters", "server role: clusters to join")
        .add(only, "only",
             "measure only systems whose name contains this text (or any of a|b|...; "
             "=NAME: the system of that exact name)")
        .add(latency_only, "latency-only", "1 call in flight only")
        .add(throughput_only, "throughput-only", "64 calls in flight only")
        .add(rounds, "rounds",
             "rounds per measurement (5): every system once per round, medians reported")
        .add(scale, "scale", "the scale bench for these cluster sizes (e.g. 2,8,32,64)");
  }
};

struct result {
  std::string name;
  std::string payload;
  size_t in_flight = 0;
  size_t calls = 0;
  size_t errors = 0;
  double seconds = 0;
  std::vector<int64_t> lat_ns;
  std::map<double, double> reported_us; // percentiles measured by another process
  double switches_per_call = -1;        // context switches of this process per call
  double cpu_us_per_call = -1;          // CPU time of this process per call

  double rate() const {
    return seconds > 0 ? calls / seconds : 0;
  }
  double pct(double p) {
    if (auto i = reported_us.find(p); i != reported_us.end())
      return i->second;
    if (lat_ns.empty())
      return 0;
    std::sort(lat_ns.begin(), lat_ns.end());
    auto i = std::min(lat_ns.size() - 1, static_cast<size_t>(p * lat_ns.size()));
    return lat_ns[i] / 1000.0;
  }
};

// -- server role ---------------------------------------------------------------

/// A plain blocking TCP echo of fixed-size messages: the floor.
uint16_t tcp_echo(size_t size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(fd, 16);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread{[fd, size] {
    for (;;) {
      int c = accept(fd, nullptr, nullptr);
      if (c < 0)
        return;
      std::thread{[c, size] {
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        // Echoes whole messages as they come, as many as one read brings.
        std::vector<char> buf(64 * size);
        size_t have = 0;
        for (;;) {
          auto n = read(c, buf.data() + have, buf.size() - have);
          if (n <= 0)
            break;
          have += static_cast<size_t>(n);
          auto whole = have / size * size;
          if (whole == 0)
            continue;
          if (write(c, buf.data(), whole) != static_cast<ssize_t>(whole))
            break;
          std::memmove(buf.data(), buf.data() + whole, have - whole);
          have -= whole;
        }
        close(c);
      }}.detach();
    }
  }}.detach();
  return ntohs(addr.sin_port);
}

/// The cluster calls this server process answered (the scale bench asks
/// each server with `calls` on stdin: how calls spread over servers).
std::atomic<uint64_t> served{0};

void serve(caf::actor_system& sys, const bench_config& cfg) {
  auto echo = sys.spawn([] {
    return caf::behavior{[](int64_t x) { return x; },
                         [](std::string& s) {
                           return s;
                         }};
  });
  auto raw_port = sys.middleman().publish(echo, 0, "127.0.0.1");
  // The same echo as a broker: it runs on the network thread.
  auto broker_echo = sys.middleman().spawn_broker([](caf::io::broker*) -> caf::behavior {
    return {[](int64_t x) { return x; },
            [](std::string& s) {
              return s;
            }};
  });
  auto broker_port = sys.middleman().publish(broker_echo, 0, "127.0.0.1");
  slacker::server srv{sys};
  srv.add(slacker::ns("bench")
              .def("echo",
                   [](int64_t x) {
                     served.fetch_add(1, std::memory_order_relaxed);
                     return x;
                   })
              .def("echo-string", [](std::string s) { return s; }));
  auto port = srv.publish(0, "127.0.0.1");
  if (!raw_port || !port || !broker_port)
    return;
  std::vector<std::unique_ptr<slacker::registration>> regs;
  std::string rest = cfg.clusters;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    slacker::registration_options opts;
    opts.zk.zk = cfg.zk;
    opts.zk.cluster = rest.substr(0, comma);
    opts.node = "127.0.0.1";
    regs.push_back(std::make_unique<slacker::registration>(sys, srv, opts));
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  std::printf("ports %u %u %u %u\n", *raw_port, *port, tcp_echo(8), *broker_port);
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line);)
    if (line == "calls") {
      std::printf("calls %llu\n", static_cast<unsigned long long>(served.load()));
      std::fflush(stdout);
    }
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(broker_echo, caf::exit_reason::user_shutdown);
}

// -- measuring -------------------------------------------------------------------

/// Adds this process's context switches and CPU time per call since `before`.
void account(result& r, const rusage& before) {
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  auto us = [](const timeval& tv) {
    return tv.tv_sec * 1e6 + tv.tv_usec;
  };
  auto calls = static_cast<double>(std::max<size_t>(r.calls, 1));
  r.switches_per_call =
      ((after.ru_nvcsw + after.ru_nivcsw) - (before.ru_nvcsw + before.ru_nivcsw)) / calls;
  r.cpu_us_per_call = ((us(after.ru_utime) + us(after.ru_stime)) -
                       (us(before.ru_utime) + us(before.ru_stime))) /
                      calls;
}

/// Issues one call from actor `Self` and invokes `done(ok)` when it completes.
template <class Self>
using issue_on = std::function<void(Self*, std::function<void(bool)>)>;
using issue_fn = issue_on<caf::event_based_actor>;

/// Keeps `in_flight` calls going for `duration` from one actor that `spawn`
/// starts (a scheduled actor, or a broker on the network thread).
template <class Self, class Spawn>
result measure_on(Spawn spawn, std::string name, std::string payload, size_t in_flight,
                  std::chrono::milliseconds duration, issue_on<Self> issue) {
  auto res = std::make_shared<result>();
  res->name = std::move(name);
  res->payload = std::move(payload);
  res->in_flight = in_flight;
  std::promise<void> finished;
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  spawn([&, res](Self* self) {
    auto start = clock_type::now();
    auto end = start + duration;
    auto active = std::make_shared<size_t>(in_flight);
    auto launch = std::make_shared<std::function<void()>>();
    *launch = [=, &finished] {
      auto t0 = clock_type::now();
      issue(self, [=, &finished](bool ok) {
        auto t1 = clock_type::now();
        ++(ok ? res->calls : res->errors);
        if (in_flight == 1)
          res->lat_ns.push_back((t1 - t0).count());
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
  account(*res, before);
  return *res;
}

result measure(caf::actor_system& sys, std::string name, std::string payload,
               size_t in_flight, std::chrono::milliseconds duration, issue_fn issue) {
  return measure_on<caf::event_based_actor>([&](auto f) { sys.spawn(f); },
                                            std::move(name), std::move(payload),
                                            in_flight, duration, std::move(issue));
}

/// One measurement as a line (`row NAME|PAYLOAD|N|CALLS/S|P50|P99|P99.9|ERRORS`),
/// the format child processes report in.
void print_row(result& r) {
  std::printf("row %s|%s|%zu|%.0f|%.1f|%.1f|%.1f|%zu\n", r.name.c_str(),
              r.payload.c_str(), r.in_flight, r.rate(), r.pct(0.5), r.pct(0.99),
              r.pct(0.999), r.errors);
  std::fflush(stdout);
}

std::optional<result> parse_row(const std::string& line) {
  result r;
  char name[64] = {0}, payload[16] = {0};
  double rate = 0, p50 = 0, p99 = 0, p999 = 0;
  if (std::sscanf(line.c_str(), "%63[^|]|%15[^|]|%zu|%lf|%lf|%lf|%lf|%zu", name, payload,
                  &r.in_flight, &rate, &p50, &p99, &p999, &r.errors) != 8)
    return std::nullopt;
  r.name = name;
  r.payload = payload;
  r.seconds = 1;
  r.calls = static_cast<size_t>(rate);
  if (r.in_flight == 1)
    r.reported_us = {{0.5, p50}, {0.99, p99}, {0.999, p999}};
  return r;
}

/// Runs a server process and a client process of a peer setup, collecting
/// the client's rows; nothing when it does not start.
void run_peer(std::vector<result>& results, std::vector<std::string> server,
              std::vector<std::string> client, std::chrono::milliseconds duration) {
  slacker_test::process srv{server};
  auto port = srv.wait_for("port ", 15000);
  if (!port)
    return;
  client.push_back("--port=" + *port);
  client.push_back("--millis=" + std::to_string(duration.count()));
  slacker_test::process cli{client};
  while (auto line = cli.wait_for("row ", 60000 + 10 * duration.count()))
    if (auto r = parse_row(*line))
      results.push_back(std::move(*r));
}

/// A blocking TCP connection to 127.0.0.1:`port` with TCP_NODELAY; -1 on failure.
int connect_loopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

/// The TCP floor: 1 in flight is ping-pong; 64 in flight are pipelined on one
/// connection (the same number of calls in the pipe as for the others), each
/// read taking what has arrived and one write sending as many new messages:
/// what one connection does at best, not what a thread per call does.
result tcp_floor(uint16_t port, size_t in_flight, std::chrono::milliseconds duration) {
  result r;
  r.name = "TCP floor (blocking sockets)";
  r.payload = "int64";
  r.in_flight = in_flight;
  int fd = connect_loopback(port);
  if (fd < 0)
    return r;
  char buf[8] = {};
  auto send_one = [&] {
    return write(fd, buf, 8) == 8;
  };
  auto recv_one = [&] {
    size_t got = 0;
    while (got < 8) {
      auto n = read(fd, buf + got, 8 - got);
      if (n <= 0)
        return false;
      got += static_cast<size_t>(n);
    }
    return true;
  };
  std::vector<clock_type::time_point> sent;
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  auto start = clock_type::now();
  auto end = start + duration;
  if (in_flight > 1) {
    std::vector<char> out(8 * in_flight), in(8 * in_flight);
    if (write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size()))
      return r;
    size_t outstanding = in_flight;
    size_t partial = 0; // bytes of a message not complete yet
    while (outstanding > 0) {
      auto n = read(fd, in.data(), in.size());
      if (n <= 0)
        break;
      auto bytes = partial + static_cast<size_t>(n);
      auto done = bytes / 8;
      partial = bytes % 8;
      r.calls += done;
      if (done > 0 && clock_type::now() < end) {
        if (write(fd, out.data(), 8 * done) != static_cast<ssize_t>(8 * done))
          break;
      } else {
        outstanding -= std::min(outstanding, done);
      }
    }
    r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    account(r, before);
    close(fd);
    return r;
  }
  for (size_t i = 0; i < in_flight; ++i) {
    sent.push_back(clock_type::now());
    send_one();
  }
  size_t outstanding = in_flight;
  size_t next = 0;
  while (outstanding > 0) {
    if (!recv_one())
      break;
    auto now = clock_type::now();
    ++r.calls;
    if (in_flight == 1)
      r.lat_ns.push_back((now - sent[next]).count());
    if (now < end) {
      sent[next] = clock_type::now();
      send_one();
    } else {
      --outstanding;
    }
    next = (next + 1) % in_flight;
  }
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  account(r, before);
  close(fd);
  return r;
}

/// One call after the other from this thread for `duration`, each timed: a
/// row at 1 in flight (`call` says whether it succeeded).
result one_at_a_time(std::string name, std::chrono::milliseconds duration,
                     const std::function<bool()>& call) {
  result r;
  r.name = std::move(name);
  r.payload = "int64";
  r.in_flight = 1;
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  auto start = clock_type::now();
  for (auto t0 = start; t0 < start + duration;) {
    auto ok = call();
    auto t1 = clock_type::now();
    ++(ok ? r.calls : r.errors);
    r.lat_ns.push_back((t1 - t0).count());
    t0 = t1;
  }
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  account(r, before);
  return r;
}

/// The TCP floor of a fan-out: one blocking thread writes 8 bytes to the echo
/// of each server in `ports` (each its own process), then reads every answer;
/// 1 in flight. What sockets alone need on this machine to hear from all.
result tcp_fan_out_floor(const std::vector<uint16_t>& ports,
                         std::chrono::milliseconds duration) {
  auto name = "TCP floor, fan-out to " + std::to_string(ports.size());
  std::vector<int> fds;
  for (auto port : ports)
    if (auto fd = connect_loopback(port); fd >= 0)
      fds.push_back(fd);
  result r;
  if (fds.size() == ports.size()) {
    r = one_at_a_time(name, duration, [&fds] {
      char buf[8] = {};
      for (auto fd : fds)
        if (write(fd, buf, 8) != 8)
          return false;
      for (auto fd : fds)
        for (size_t got = 0; got < 8;) {
          auto n = read(fd, buf + got, 8 - got);
          if (n <= 0)
            return false;
          got += static_cast<size_t>(n);
        }
      return true;
    });
  } else {
    r.name = name;
    r.payload = "int64";
    r.in_flight = 1;
  }
  for (auto fd : fds)
    close(fd);
  return r;
}

/// slacker's wire protocol at its floor: a plain blocking socket client that
/// speaks the protocol (hello, then call frames) to the slacker server, so
/// that only the server side and the framing are measured.
result wire_floor(uint16_t port, size_t in_flight, std::chrono::milliseconds duration) {
  result r;
  r.name = "slacker wire, socket client";
  r.payload = "int64";
  r.in_flight = in_flight;
  int fd = connect_loopback(port);
  if (fd < 0)
    return r;
  auto req = slacker::make_call(slacker::call_options{}, "bench/echo", int64_t{42});
  req->deadline_ns = 0;
  std::vector<char> out;
  slacker::wire::write_hello(out, slacker::wire::default_max_message_size);
  std::vector<char> frame;
  slacker::wire::write_call(frame, *req);
  slacker::wire::frame_buffer in{slacker::wire::default_max_message_size};
  std::vector<char> buf(64 * 1024);
  size_t replies = 0;
  bool broken = false;
  // Reads until at least one reply arrived; counts the replies (the hello is not one).
  auto recv_some = [&] {
    replies = 0;
    while (replies == 0) {
      auto n = read(fd, buf.data(), buf.size());
      if (n <= 0)
        return false;
      in.feed(buf.data(), static_cast<size_t>(n),
              [&](slacker::wire::frame_type t, auto&) {
                replies += t == slacker::wire::frame_type::reply ? 1 : 0;
                broken |= t == slacker::wire::frame_type::error;
                return true;
              });
      if (broken)
        return false;
    }
    return true;
  };
  std::deque<clock_type::time_point> sent;
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  auto start = clock_type::now();
  auto end = start + duration;
  for (size_t i = 0; i < in_flight; ++i) {
    sent.push_back(clock_type::now());
    out.insert(out.end(), frame.begin(), frame.end());
  }
  (void)!write(fd, out.data(), out.size());
  while (!sent.empty()) {
    if (!recv_some())
      break;
    auto now = clock_type::now();
    out.clear();
    for (size_t i = 0; i < replies && !sent.empty(); ++i) {
      ++r.calls;
      if (in_flight == 1)
        r.lat_ns.push_back((now - sent.front()).count());
      sent.pop_front();
      if (now < end) {
        sent.push_back(clock_type::now());
        out.insert(out.end(), frame.begin(), frame.end());
      }
    }
    if (!out.empty())
      (void)!write(fd, out.data(), out.size());
  }
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  account(r, before);
  close(fd);
  return r;
}

/// The project's targets as ratios of rows measured in this run; a row that
/// was not measured (e.g. `--only`, no gRPC) leaves its ratios out.
void print_ratios(std::vector<result>& results) {
  // "gRPC best": the gRPC row with the lowest p50 (1 in flight) or the most
  // calls/s (64 in flight), whichever pair of client and server it is.
  auto find = [&](const std::string& name, size_t in_flight) -> result* {
    result* best = nullptr;
    for (auto& r : results) {
      if (r.payload != "int64" || r.in_flight != in_flight || r.calls == 0)
        continue;
      if (name != "gRPC best") {
        if (r.name == name)
          return &r;
        continue;
      }
      if (r.name.rfind("gRPC", 0) != 0)
        continue;
      if (!best ||
          (in_flight == 1 ? r.pct(0.5) < best->pct(0.5) : r.rate() > best->rate()))
        best = &r;
    }
    return best;
  };
  struct ratio {
    const char* what;
    std::string a;
    std::string b;
    size_t in_flight;
    bool latency; // p50 a / p50 b, else calls/s a / calls/s b
    const char* target;
    double bound;
    bool at_most;
  };
  const std::string tcp = "TCP floor (blocking sockets)";
  const std::string direct = "slacker direct client";
  const std::string blocking = "slacker direct, blocking call";
  const std::string random2 = "slacker cluster, random over 2";
  const std::string all3 = "slacker cluster, all over 3";
  const std::string blocking2 = "slacker cluster, blocking call, random over 2";
  const std::string blocking3 = "slacker cluster, blocking call, all over 3";
  const std::string first2 = "slacker cluster, blocking call, first over 2";
  const std::string actor_first2 = "slacker cluster, first over 2";
  const std::string fan3 = "TCP floor, fan-out to 3";
  const std::string direct2 = "slacker direct clients, 2 servers in turn";
  const std::string direct3 = "slacker direct clients, 3 servers at once";
  const std::string blocking_turn = "slacker direct, blocking call, 2 servers in turn";
  const std::string raw = "raw CAF request/response";
  const std::string brokers = "raw CAF, broker endpoints";
  const std::string grpc = "gRPC best";
  std::vector<ratio> ratios{
      {"direct blocking p50 / TCP floor p50", blocking, tcp, 1, true, "<= 1.4", 1.4,
       true},
      {"direct / raw CAF, 64 in flight", direct, raw, 64, false, ">= 2", 2, false},
      {"direct / TCP floor (pipelined), 64 in flight", direct, tcp, 64, false, ">= 0.2",
       0.2, false},
      {"cluster blocking random/2 p50 / direct blocking", blocking2, blocking, 1, true,
       "<= 1.1", 1.1, true},
      {"cluster blocking first/2 p50 / direct blocking", first2, blocking, 1, true,
       "<= 1.1", 1.1, true},
      {"cluster blocking random/2 p50 / gRPC best p50", blocking2, grpc, 1, true,
       "<= 0.8", 0.8, true},
      {"cluster random/2 p50 / raw CAF brokers p50", random2, brokers, 1, true, "<= 1.1",
       1.1, true},
      {"cluster random/2 / direct, 64 in flight", random2, direct, 64, false, ">= 0.9",
       0.9, false},
      {"cluster random/2 / gRPC best, 64 in flight", random2, grpc, 64, false, ">= 4", 4,
       false},
      {"cluster all/3 p50 / random/2 p50", all3, random2, 1, true, "<= 1.5", 1.5, true},
      {"cluster blocking all/3 p50 / random/2 p50", blocking3, blocking2, 1, true,
       "<= 1.5", 1.5, true},
      // What this machine allows, for the targets above (no target of their
      // own): the same call path to one server, and sockets alone.
      {"cluster first/2 / direct, 64 in flight", actor_first2, direct, 64, false, "", 0,
       false},
      {"TCP fan-out to 3 p50 / TCP floor p50", fan3, tcp, 1, true, "", 0, true},
      {"direct, 2 servers in turn / direct, 64 in flight", direct2, direct, 64, false, "",
       0, false},
      // A fan-out from an actor without the cluster: its cost against
      // random/2 (the floor of the all/3 target), and the cluster's over it.
      {"direct, 3 servers at once p50 / random/2 p50", direct3, random2, 1, true, "", 0,
       true},
      {"cluster all/3 p50 / direct, 3 servers at once", all3, direct3, 1, true, "", 0,
       true},
      // The blocking rows on the same servers: the cluster path's own cost,
      // and sockets alone to all three against the blocking random/2 (the
      // floor of the blocking all/3 target).
      {"cluster blocking random/2 / direct blocking in turn", blocking2, blocking_turn, 1,
       true, "", 0, true},
      {"TCP fan-out to 3 p50 / cluster blocking random/2", fan3, blocking2, 1, true, "",
       0, true},
  };
  std::printf("\n%-50s %8s %8s  %s\n", "ratio (int64, this run)", "value", "target", "");
  for (auto& x : ratios) {
    auto a = find(x.a, x.in_flight);
    auto b = find(x.b, x.in_flight);
    if (!a || !b)
      continue;
    auto value = x.latency ? a->pct(0.5) / b->pct(0.5) : a->rate() / b->rate();
    auto met = x.at_most ? value <= x.bound : value >= x.bound;
    std::printf("%-50s %8.2f %8s  %s\n", x.what, value, x.target,
                x.bound == 0 ? "(reference)"
                : met        ? "met"
                             : "MISSED");
  }
}

/// Each row's median round: rows are matched by system, payload and calls in
/// flight; the round with the median p50 (1 in flight) or calls/s (more) is
/// the row's, in the order of the first round.
std::vector<result> median_rounds(std::vector<std::vector<result>>& rounds) {
  std::vector<result> out;
  if (rounds.empty())
    return out;
  for (auto& first : rounds.front()) {
    std::vector<result*> same;
    for (auto& round : rounds)
      for (auto& r : round)
        if (r.name == first.name && r.payload == first.payload &&
            r.in_flight == first.in_flight)
          same.push_back(&r);
    auto key = [](result* r) {
      return r->in_flight == 1 ? r->pct(0.5) : r->rate();
    };
    std::sort(same.begin(), same.end(),
              [&](result* a, result* b) { return key(a) < key(b); });
    auto errors = size_t{0};
    for (auto r : same)
      errors += r->errors;
    out.push_back(*same[same.size() / 2]);
    out.back().errors = errors; // every round's
  }
  return out;
}

std::string dir_of_self() {
  char path[1024];
  auto n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  path[n > 0 ? n : 0] = '\0';
  std::string p{path};
  return p.substr(0, p.rfind('/'));
}

void run(caf::actor_system& sys, const bench_config& cfg) {
  auto self_path = dir_of_self() + "/bench";
  auto duration =
      std::chrono::milliseconds{cfg.millis > 0 ? cfg.millis : cfg.seconds * 1000};
  // --latency-only: 1 in flight only (for profiling one call at a time).
  // --throughput-only: 64 in flight only (for profiling the throughput rows).
  std::vector<size_t> depths;
  if (!cfg.throughput_only)
    depths.push_back(1);
  if (!cfg.latency_only)
    depths.push_back(64);
  auto want = [&](const std::string& system) { // any of `a|b|...`
    if (cfg.only.empty())
      return true;
    for (size_t from = 0; from <= cfg.only.size();) {
      auto to = std::min(cfg.only.find('|', from), cfg.only.size());
      auto term = cfg.only.substr(from, to - from); // =NAME: that name exactly
      if (!term.empty() && (term[0] == '=' ? system == term.substr(1)
                                           : system.find(term) != std::string::npos))
        return true;
      from = to + 1;
    }
    return false;
  };
  std::unique_ptr<slacker_test::process> zk;
  std::string zk_addr;
  // A ZooKeeper for the cluster rows; a taken port makes it exit: try another.
  for (int attempt = 0; !cfg.no_cluster && attempt < 5 && zk_addr.empty(); ++attempt) {
    auto zk_port = std::to_string(20000 + (getpid() * 7 + attempt * 4099) % 20000);
    zk = std::make_unique<slacker_test::process>(
        std::vector<std::string>{dir_of_self() + "/example-zk", "--port=" + zk_port});
    if (zk->wait_for("ZooKeeper serving", 30000))
      zk_addr = "127.0.0.1:" + zk_port;
  }
  if (!cfg.no_cluster && zk_addr.empty())
    std::fprintf(stderr, "bench: no ZooKeeper; skipping the cluster rows\n");
  // Three servers: the first two in both clusters, the third in bench-3 only.
  std::vector<std::unique_ptr<slacker_test::process>> servers;
  std::vector<std::array<uint16_t, 4>> ports;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> args{self_path, "--role=server"};
    args.insert(args.end(), forwarded.begin(), forwarded.end());
    if (!zk_addr.empty()) {
      args.push_back("--zk=" + zk_addr);
      args.push_back(i < 2 ? "--clusters=bench-2,bench-3" : "--clusters=bench-3");
    }
    servers.push_back(std::make_unique<slacker_test::process>(args));
    auto line = servers.back()->wait_for("ports ", 15000);
    if (!line) {
      std::fprintf(stderr, "error: a bench server did not start\n");
      return;
    }
    std::array<uint16_t, 4> p{};
    std::sscanf(line->c_str(), "%hu %hu %hu %hu", &p[0], &p[1], &p[2], &p[3]);
    ports.push_back(p);
  }
  auto raw = sys.middleman().remote_actor("127.0.0.1", ports[0][0]);
  if (!raw) {
    std::fprintf(stderr, "error: %s\n", slacker::describe(raw.error()).c_str());
    return;
  }
  slacker::client direct{sys, "127.0.0.1", ports[0][1]};
  direct.call<int64_t>("bench/echo", int64_t{1}); // connect and look up
  slacker::client direct2{sys, "127.0.0.1", ports[1][1]};
  direct2.call<int64_t>("bench/echo", int64_t{1});
  slacker::client direct3{sys, "127.0.0.1", ports[2][1]};
  direct3.call<int64_t>("bench/echo", int64_t{1});
  const std::string kib(1024, 'x');
  // One round: every system once, each for `duration`. Rounds interleave the
  // systems so that drift during a run (the machine is shared) favours none.
  auto one_round = [&](std::chrono::milliseconds duration) {
    std::vector<result> results;
    std::vector<std::unique_ptr<slacker::cluster_client>> clients;
    for (size_t n : depths)
      if (want("TCP floor (blocking sockets)"))
        results.push_back(tcp_floor(ports[0][2], n, duration));
    if (want("TCP floor, fan-out to 3") && !depths.empty() && depths.front() == 1)
      results.push_back(
          tcp_fan_out_floor({ports[0][2], ports[1][2], ports[2][2]}, duration));
    for (size_t n : depths)
      if (want("slacker wire, socket client"))
        results.push_back(wire_floor(ports[0][1], n, duration));
    auto raw_call = [&](auto value) -> issue_fn {
      return [&, value](caf::event_based_actor* self, std::function<void(bool)> done) {
        self->request(*raw, caf::infinite, value)
            .then([done](decltype(value)&) { done(true); },
                  [done](caf::error&) { done(false); });
      };
    };
    // Calls from an actor to the direct client's broker; with `to`, to each
    // of those clients in turn.
    auto direct_call = [&](std::string fn, auto value,
                           std::vector<slacker::client*> to = {}) -> issue_fn {
      if (to.empty())
        to.push_back(&direct);
      auto turn = std::make_shared<size_t>(0);
      return [fn, value, to, turn](caf::event_based_actor* self,
                                   std::function<void(bool)> done) {
        auto req = slacker::make_call(slacker::call_options{}, fn, value);
        auto& client = *to[(*turn)++ % to.size()];
        // The answer decoded and checked, as the cluster rows do.
        self->request(client.actor(), caf::infinite, std::move(*req))
            .then(
                [done, value](slacker::call_reply& rep) {
                  auto r = slacker::result_of<decltype(value)>(rep);
                  done(r && *r == value);
                },
                [done](caf::error&) { done(false); });
      };
    };
    // The blocking facade from plain code, one call after the other.
    auto blocking_row = [&](const std::string& name, const std::function<bool()>& call) {
      if (depths.empty() || depths.front() != 1)
        return; // --throughput-only
      results.push_back(one_at_a_time(name, duration, call));
    };
    if (want("slacker direct, blocking call"))
      blocking_row("slacker direct, blocking call", [&] {
        return direct.call<int64_t>("bench/echo", int64_t{42}) == int64_t{42};
      });
    // The same to bench-2's two servers in turn: what the blocking call costs
    // on the servers "random over 2" reaches (where the kernel puts a server
    // decides a call's cost at 1 in flight on these two cores).
    if (want("slacker direct, blocking call, 2 servers in turn")) {
      size_t turn = 0;
      blocking_row("slacker direct, blocking call, 2 servers in turn", [&] {
        auto& to = turn++ % 2 == 0 ? direct : direct2;
        return to.call<int64_t>("bench/echo", int64_t{42}) == int64_t{42};
      });
    }
    for (size_t n : depths) {
      if (want("raw CAF request/response"))
        results.push_back(measure(sys, "raw CAF request/response", "int64", n, duration,
                                  raw_call(int64_t{42})));
      if (want("slacker direct client"))
        results.push_back(measure(sys, "slacker direct client", "int64", n, duration,
                                  direct_call("bench/echo", int64_t{42})));
    }
    // Two direct clients, one per server of bench-2, taken in turn: what a
    // call to one of two servers costs this machine without the cluster (the
    // floor of "random over 2"; every other call, not a coin).
    if (want("slacker direct clients, 2 servers in turn"))
      for (size_t n : depths)
        results.push_back(measure(
            sys, "slacker direct clients, 2 servers in turn", "int64", n, duration,
            direct_call("bench/echo", int64_t{42}, {&direct, &direct2})));
    // The three servers of bench-3 at once from one actor, through a direct
    // client each, done when all three answered: a fan-out from an actor
    // without the cluster (the floor of "all over 3").
    if (want("slacker direct clients, 3 servers at once"))
      for (size_t n : depths)
        results.push_back(measure(
            sys, "slacker direct clients, 3 servers at once", "int64", n, duration,
            [each =
                 direct_call("bench/echo", int64_t{42}, {&direct, &direct2, &direct3})](
                caf::event_based_actor* self, std::function<void(bool)> done) {
              // `each` takes the three clients in turn: one call to each.
              struct gather {
                size_t left;
                bool ok;
                std::function<void(bool)> done;
              };
              auto g = std::make_shared<gather>(gather{3, true, std::move(done)});
              for (int i = 0; i < 3; ++i)
                each(self, [g](bool ok) {
                  g->ok = g->ok && ok;
                  if (--g->left == 0)
                    g->done(g->ok);
                });
            }));
    // The direct client with its caller on the network thread too: no scheduler
    // hop on the client (the counterpart of raw CAF's broker endpoints below).
    if (want("slacker direct client, caller on network thread")) {
      for (size_t n : depths) {
        issue_on<caf::io::broker> call = [&](caf::io::broker* self,
                                             std::function<void(bool)> done) {
          auto req =
              slacker::make_call(slacker::call_options{}, "bench/echo", int64_t{42});
          self->request(direct.actor(), caf::infinite, std::move(*req))
              .then([done](slacker::call_reply& rep) { done(!rep.err); },
                    [done](caf::error&) { done(false); });
        };
        results.push_back(
            measure_on<caf::io::broker>([&](auto f) { sys.middleman().spawn_broker(f); },
                                        "slacker direct client, caller on network thread",
                                        "int64", n, duration, call));
      }
    }
    // Raw CAF at its best: both endpoints are brokers (the network thread).
    auto broker = sys.middleman().remote_actor("127.0.0.1", ports[0][3]);
    if (broker && want("raw CAF, broker endpoints")) {
      for (size_t n : depths) {
        issue_on<caf::io::broker> call = [&](caf::io::broker* self,
                                             std::function<void(bool)> done) {
          self->request(*broker, caf::infinite, int64_t{42})
              .then([done](int64_t) { done(true); },
                    [done](caf::error&) { done(false); });
        };
        results.push_back(measure_on<caf::io::broker>(
            [&](auto f) { sys.middleman().spawn_broker(f); }, "raw CAF, broker endpoints",
            "int64", n, duration, call));
      }
    }
    for (size_t n : depths) {
      if (want("raw CAF request/response"))
        results.push_back(measure(sys, "raw CAF request/response", "1 KiB", n, duration,
                                  raw_call(kib)));
      if (want("slacker direct client"))
        results.push_back(measure(sys, "slacker direct client", "1 KiB", n, duration,
                                  direct_call("bench/echo-string", kib)));
    }
    const std::string tls_blocking = "slacker direct, TLS, blocking call";
    const std::string tls_actor = "slacker direct client, TLS";
    if (want(tls_blocking) || want(tls_actor)) {
      // Mutual TLS: a server and a client system of their own.
      std::unique_ptr<slacker_test::test_certs> made;
      std::vector<std::string> tls_opts;
      if (tls_args.empty()) {
        made = std::make_unique<slacker_test::test_certs>();
        tls_opts = made->options();
      } else {
        tls_opts = tls_args;
      }
      std::vector<std::string> args{self_path, "--role=server"};
      args.insert(args.end(), forwarded.begin(), forwarded.end());
      args.insert(args.end(), tls_opts.begin(), tls_opts.end());
      slacker_test::process tls_server{args};
      auto line = tls_server.wait_for("ports ", 15000);
      std::array<uint16_t, 4> p{};
      if (line)
        std::sscanf(line->c_str(), "%hu %hu %hu %hu", &p[0], &p[1], &p[2], &p[3]);
      slacker::config tls_cfg;
      std::vector<std::string> argv_strings{"bench"};
      argv_strings.insert(argv_strings.end(), forwarded.begin(), forwarded.end());
      argv_strings.insert(argv_strings.end(), tls_opts.begin(), tls_opts.end());
      std::vector<char*> tls_argv;
      for (auto& a : argv_strings)
        tls_argv.push_back(a.data());
      auto err = tls_cfg.parse(static_cast<int>(tls_argv.size()), tls_argv.data());
      if (!line || err) {
        std::fprintf(stderr,
                     "bench: the TLS server did not start; skipping the TLS rows\n");
      } else {
        caf::actor_system tls_sys{tls_cfg};
        slacker::client tls_direct{tls_sys, "127.0.0.1", p[1]};
        auto warm = tls_direct.call<int64_t>("bench/echo", int64_t{1});
        if (!warm)
          std::fprintf(stderr, "bench: TLS: %s\n",
                       slacker::describe(warm.error()).c_str());
        if (want(tls_blocking))
          blocking_row(tls_blocking, [&] {
            return tls_direct.call<int64_t>("bench/echo", int64_t{42}) == int64_t{42};
          });
        for (size_t n : depths)
          if (want(tls_actor))
            results.push_back(measure(
                tls_sys, tls_actor, "int64", n, duration,
                [&](caf::event_based_actor* self, std::function<void(bool)> done) {
                  auto req = slacker::make_call(slacker::call_options{}, "bench/echo",
                                                int64_t{42});
                  self->request(tls_direct.actor(), caf::infinite, std::move(*req))
                      .then([done](slacker::call_reply& rep) { done(!rep.err); },
                            [done](caf::error&) { done(false); });
                }));
      }
      tls_server.stop();
    }
    if (!zk_addr.empty()) {
      struct cluster_row {
        std::string cluster;
        slacker::grouping_kind grouping;
        std::string name;
        size_t servers;
      };
      for (auto& row : {cluster_row{"bench-2", slacker::grouping_kind::random,
                                    "slacker cluster, random over 2", 2},
                        cluster_row{"bench-2", slacker::grouping_kind::first,
                                    "slacker cluster, first over 2", 2},
                        cluster_row{"bench-3", slacker::grouping_kind::all,
                                    "slacker cluster, all over 3", 3}}) {
        auto blocking_name = "slacker cluster, blocking call, " + row.name.substr(17);
        if (!want(row.name) && !want(blocking_name))
          continue;
        slacker::cluster_options opts;
        opts.grouping = row.grouping;
        opts.results = slacker::results_kind::vector;
        clients.push_back(
            std::make_unique<slacker::cluster_client>(sys, row.cluster, zk_addr, opts));
        auto& sc = *clients.back();
        for (int i = 0; i < 300; ++i) { // until every server is known (bounded)
          // Listed in the namespace and as a server: callable (a server's
          // own node is written after its namespaces).
          auto v = sc.members();
          size_t callable = 0;
          if (v)
            for (auto& addr : v->namespaces["bench"])
              callable += v->servers.count(addr);
          if (callable >= row.servers)
            break;
          std::this_thread::sleep_for(std::chrono::milliseconds{50});
        }
        if (auto warm = sc.call<std::vector<int64_t>>("bench/echo", int64_t{1}); !warm)
          std::fprintf(stderr, "bench: %s: the first call failed: %s\n",
                       row.cluster.c_str(), slacker::describe(warm.error()).c_str());
        // The dispatcher publishes a namespace's routes after its first call,
        // in its own time: until then calls go through it. Measured once
        // callers choose their servers themselves (bounded: 3 s).
        for (int i = 0; i < 300 && !sc.chooses_servers("bench"); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds{10});
          (void)sc.call<std::vector<int64_t>>("bench/echo", int64_t{1});
        }
        if (!sc.chooses_servers("bench"))
          std::fprintf(stderr, "bench: %s: callers do not choose their servers yet\n",
                       row.cluster.c_str());
        auto cluster_call = [&sc](std::string fn, auto value) -> issue_fn {
          return [&sc, fn, value](caf::event_based_actor* self,
                                  std::function<void(bool)> done) {
            auto call = sc.prepare(slacker::cluster_options{}, slacker::cluster_options{},
                                   fn, value);
            // As actors call (`request`): one server's broker, or a fan-out
            // sent to each chosen broker and aggregated in this actor.
            using element = decltype(value);
            sc.request<std::vector<element>>(
                self, std::move(*call),
                [done, value](caf::expected<std::vector<element>> r) {
                  done(r && !r->empty() && r->front() == value);
                });
          };
        };
        // From plain code: the calling thread chooses the server and calls it.
        // First over two calls the same server every call, as the direct
        // client does: random over two lets each server rest every other
        // call, which this machine rewards (docs/benchmarks.md).
        if (want(blocking_name))
          blocking_row(blocking_name, [&sc] {
            auto r = sc.call<std::vector<int64_t>>("bench/echo", int64_t{42});
            return r && !r->empty() && r->front() == 42; // the answer, not only one
          });
        if (!want(row.name))
          continue;
        for (size_t n : depths)
          results.push_back(measure(sys, row.name, "int64", n, duration,
                                    cluster_call("bench/echo", int64_t{42})));
        for (size_t n : depths)
          if (row.grouping != slacker::grouping_kind::first) // int64 tells it
            results.push_back(measure(sys, row.name, "1 KiB", n, duration,
                                      cluster_call("bench/echo-string", kib)));
      }
    }
    // Raw CAF with CAF's defaults on both sides (processes of their own).
    if (want("raw CAF, CAF defaults"))
      run_peer(results, {self_path, "--role=server", "--caf-defaults"},
               {self_path, "--role=defaults-client", "--caf-defaults"}, duration);
    // The peer: gRPC C++ (apps/bench_grpc), when it was built.
    auto grpc_path = dir_of_self() + "/bench-grpc";
    if (access(grpc_path.c_str(), X_OK) == 0)
      for (std::string server : {"sync", "callback"}) {
        // Its rows are named by the peer: those --only does not want go.
        auto row = [&](const std::string& client) {
          return "gRPC C++ " + client + " client, " + server + " server";
        };
        if (!want(row("sync")) && !want(row("callback")))
          continue;
        auto from = results.size();
        run_peer(results, {grpc_path, "--role=server", "--server=" + server},
                 {grpc_path, "--role=client", "--server=" + server}, duration);
        results.erase(std::remove_if(results.begin() + static_cast<std::ptrdiff_t>(from),
                                     results.end(),
                                     [&](const result& r) { return !want(r.name); }),
                      results.end());
      }
    clients.clear();
    return results;
  };
  auto rounds = std::max<size_t>(cfg.rounds, 1);
  auto per_round =
      std::max(duration / static_cast<int>(rounds), std::chrono::milliseconds{50});
  std::vector<std::vector<result>> all;
  for (size_t k = 0; k < rounds; ++k)
    all.push_back(one_round(per_round));
  auto results = median_rounds(all);
  if (rounds > 1)
    std::printf("each row: the median of %zu rounds of %lld ms (by p50 at 1 in flight, "
                "by calls/s at 64)\n",
                rounds, static_cast<long long>(per_round.count()));
  std::printf("%-48s %-7s %9s %12s %9s %9s %9s %7s %8s %8s\n", "system", "payload",
              "in flight", "calls/s", "p50 us", "p99 us", "p99.9 us", "errors", "cs/call",
              "cpu us");
  for (auto& r : results) {
    std::printf("%-48s %-7s %9zu %12.0f %9.1f %9.1f %9.1f %7zu", r.name.c_str(),
                r.payload.c_str(), r.in_flight, r.rate(), r.pct(0.5), r.pct(0.99),
                r.pct(0.999), r.errors);
    if (r.cpu_us_per_call >= 0)
      std::printf(" %8.2f %8.1f", r.switches_per_call, r.cpu_us_per_call);
    std::printf("\n");
  }
  print_ratios(results);
  if (!cfg.json.empty()) {
    std::ofstream out{cfg.json};
    out << "[\n";
    for (size_t i = 0; i < results.size(); ++i) {
      auto& r = results[i];
      out << "  {\"system\": \"" << r.name << "\", \"payload\": \"" << r.payload
          << "\", \"in_flight\": " << r.in_flight << ", \"calls_per_s\": " << r.rate();
      if (r.in_flight == 1)
        out << ", \"p50_us\": " << r.pct(0.5) << ", \"p99_us\": " << r.pct(0.99)
            << ", \"p999_us\": " << r.pct(0.999);
      out << ", \"errors\": " << r.errors << "}" << (i + 1 < results.size() ? "," : "")
          << "\n";
    }
    out << "]\n";
  }
  for (auto& s : servers)
    s->stop();
  if (zk) {
    // Let example-zk stop its JVM and remove its folder (SIGKILLed by the
    // process helper's destructor, its JVM would die with it, but its folder
    // would stay until the next example-zk starts).
    zk->signal(SIGTERM);
    zk->stop();
  }
}

void caf_main(caf::actor_system& sys, const bench_config& cfg) {
  if (cfg.role == "server") {
    serve(sys, cfg);
  } else if (!cfg.membership.empty()) {
    auto comma = cfg.membership.find(',');
    run_membership(
        sys, dir_of_self() + "/example-zk", std::stoul(cfg.membership.substr(0, comma)),
        comma == std::string::npos ? 0 : std::stoul(cfg.membership.substr(comma + 1)));
  } else if (!cfg.idle.empty()) {
    auto comma = cfg.idle.find(',');
    run_idle(sys, dir_of_self() + "/bench", dir_of_self() + "/example-zk",
             std::stoul(cfg.idle.substr(0, comma)),
             comma == std::string::npos ? 1 : std::stoul(cfg.idle.substr(comma + 1)),
             std::chrono::milliseconds{cfg.millis > 0 ? cfg.millis : cfg.seconds * 1000},
             forwarded);
  } else if (cfg.role == "idle-client") {
    idle_client(sys, cfg.zk, cfg.clusters, cfg.servers);
  } else if (cfg.role == "scale-client") {
    scale_client(
        sys, cfg.zk, cfg.clusters, cfg.servers,
        std::chrono::milliseconds{cfg.millis > 0 ? cfg.millis : cfg.seconds * 1000});
  } else if (!cfg.scale.empty()) {
    std::vector<size_t> sizes;
    std::string rest = cfg.scale;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      sizes.push_back(std::stoul(rest.substr(0, comma)));
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
    auto duration =
        std::chrono::milliseconds{cfg.millis > 0 ? cfg.millis : cfg.seconds * 1000};
    run_scale(sys, dir_of_self() + "/bench", dir_of_self() + "/example-zk", sizes,
              duration);
  } else {
    run(sys, cfg);
  }
}

/// Raw CAF as it comes: CAF's own defaults (no slacker tuning), finite
/// request timeouts as CAF's examples use them.
struct defaults_config : caf::actor_system_config {
  std::string role;
  uint16_t port = 0;
  size_t millis = 3000;
  bool caf_defaults = true;
  defaults_config() {
    load<caf::io::middleman>();
    opt_group{custom_options_, "global"}
        .add(role, "role", "server or defaults-client")
        .add(port, "port", "client: the server's port")
        .add(millis, "millis", "duration of each measurement in ms")
        .add(caf_defaults, "caf-defaults", "run with CAF's defaults");
  }
};

void caf_main_defaults(caf::actor_system& sys, const defaults_config& cfg) {
  if (cfg.role == "server") {
    auto echo = sys.spawn([] {
      return caf::behavior{[](int64_t x) { return x; },
                           [](std::string& s) {
                             return s;
                           }};
    });
    auto port = sys.middleman().publish(echo, 0, "127.0.0.1");
    if (!port)
      return;
    std::printf("port %u\n", *port);
    std::fflush(stdout);
    char buf[16];
    while (read(0, buf, sizeof(buf)) > 0) {
    }
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
    return;
  }
  auto echo = sys.middleman().remote_actor("127.0.0.1", cfg.port);
  if (!echo)
    return;
  std::chrono::milliseconds duration{cfg.millis};
  auto call = [&](auto value) -> issue_fn {
    return [&, value](caf::event_based_actor* self, std::function<void(bool)> done) {
      self->request(*echo, std::chrono::seconds{10}, value)
          .then([done](decltype(value)&) { done(true); },
                [done](caf::error&) { done(false); });
    };
  };
  for (size_t n : {size_t{1}, size_t{64}}) {
    auto r =
        measure(sys, "raw CAF, CAF defaults", "int64", n, duration, call(int64_t{42}));
    print_row(r);
  }
  for (size_t n : {size_t{1}, size_t{64}}) {
    auto r = measure(sys, "raw CAF, CAF defaults", "1 KiB", n, duration,
                     call(std::string(1024, 'x')));
    print_row(r);
  }
}

} // namespace

int main(int argc, char** argv) {
  // Blocked before CAF starts threads; a stop signal ends the bench at once
  // and its child processes with it (they die with their parent).
  slacker::block_stop_signals();
  slacker::exit_on_stop_signal();
  // A line at a time, also into a file or a pipe: the servers this starts
  // log to the same stderr, and a table written in blocks would have their
  // lines cut into its own.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::vector<std::string> args(argv, argv + argc);
  slacker::expand_option_aliases(args);
  bool server_role = std::find(args.begin(), args.end(), "--role=server") != args.end();
  std::vector<std::string> kept;
  for (size_t i = 0; i < args.size(); ++i) {
    auto& arg = args[i];
    if (arg == "--caf-defaults")
      return caf::exec_main<>(caf_main_defaults, argc, argv);
    // The client's TLS settings are for the TLS rows only (their own server
    // and client system); a server started for them takes them as they are.
    if (i > 0 && !server_role && arg.rfind("--slacker.tls.", 0) == 0) {
      tls_args.push_back(arg);
      continue;
    }
    kept.push_back(arg);
    if (i > 0)
      for (auto prefix :
           {"--scheduler.", "--work-stealing.", "--middleman.", "--slacker."})
        if (arg.rfind(prefix, 0) == 0 && arg.rfind("--slacker.tls.", 0) != 0)
          forwarded.push_back(arg);
  }
  std::vector<char*> ptrs;
  for (auto& a : kept)
    ptrs.push_back(a.data());
  ptrs.push_back(nullptr);
  return caf::exec_main<>(caf_main, static_cast<int>(kept.size()), ptrs.data());
}
