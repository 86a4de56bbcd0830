#define CAF_SUITE protocol
#include <caf/test/unit_test.hpp>

// A protocol probe: raw sockets against a real test-server process, sending
// what a careless or hostile peer would (docs/protocol.md).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "apps/support/proc_status.hpp"
#include "apps/support/process.hpp"
#include "slacker/actors/client.hpp"
#include "slacker/messages/codec.hpp"
#include "slacker/messages/detail/wire.hpp"
#include "slacker/runtime/config.hpp"
#include "tests/binaries.hpp"
#include "tests/raw_conn.hpp"
#include "tests/require.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using slacker_test::close_code_of;
using slacker_test::echo_call;
using slacker_test::hello_frame;
using slacker_test::raw_conn;
using slacker_test::reply_of;

namespace {

/// The resident memory in KiB of /proc/`pid` (a number or `self`).
long rss_kib_of(const std::string& pid) {
  return slacker_test::status_kib(pid, "VmRSS:");
}

/// A test-server with short protocol timers, so that the probe runs quickly.
struct probed_server {
  slacker_test::process proc;
  uint16_t port = 0;

  explicit probed_server(uint32_t max_message_size = 65536)
    : proc({slacker_test::binary_path("test-server"), "--port=0",
            "--slacker.handshake-timeout=500ms", "--slacker.idle-timeout=1s",
            "--slacker.max-message-size=" + std::to_string(max_message_size)}) {
    auto line = proc.wait_for("port ", 15000);
    SLACKER_REQUIRE(line, "test-server did not start");
    port = static_cast<uint16_t>(std::stoi(*line));
  }

  std::string address() const {
    return "127.0.0.1:" + std::to_string(port);
  }

  /// Waits (bounded) until the server's state in /proc/PID/stat is `state`.
  bool wait_state(char state, std::chrono::milliseconds limit) const {
    return slacker_test::wait_proc_state(proc.pid(), state, limit);
  }

  /// The server's resident memory in KiB.
  long rss_kib() const {
    return rss_kib_of(std::to_string(proc.pid()));
  }
};

struct fixture {
  slacker::config cfg;
  caf::actor_system sys{cfg};
  probed_server server;

  /// The server still serves a well-behaved client.
  void check_still_serving() {
    slacker::client c{sys, server.address()};
    auto r = c.call<std::string>("test.api/echo", "alive");
    SLACKER_REQUIRE(r, describe(r.error()));
    CAF_CHECK_EQUAL(*r, "alive");
  }

  /// A call through `c` (warmed up first) while the server is frozen: its
  /// result and how long it took. The server is thawed afterwards.
  std::pair<caf::expected<std::string>, clock_type::duration>
  call_while_frozen(slacker::client& c, const call_options& opts = {}) {
    CAF_REQUIRE(c.call<std::string>("test.api/echo", "warm"));
    server.proc.signal(SIGSTOP);
    // The signal takes effect when the kernel next schedules the server: wait
    // until /proc says it is stopped, or it could still answer.
    SLACKER_REQUIRE(server.wait_state('T', 5s), "the server did not stop");
    auto start = clock_type::now();
    auto r = c.call<std::string>(opts, "test.api/echo", "frozen"); // 10 s by default
    auto took = clock_type::now() - start;
    server.proc.signal(SIGCONT);
    return {std::move(r), took};
  }
};

} // namespace

/// Calls `f(line, local_port, remote_port, tx_queue)` for each socket of
/// /proc/net/tcp (`sl local_address rem_address st tx_queue:rx_queue ...`).
template <class F> void each_tcp_socket(F f) {
  std::ifstream in{"/proc/net/tcp"};
  std::string line;
  std::getline(in, line); // the header
  while (std::getline(in, line)) {
    unsigned local_port = 0, rem_port = 0, st = 0;
    unsigned long long tx = 0;
    if (std::sscanf(line.c_str(), " %*u: %*x:%x %*x:%x %x %llx", &local_port, &rem_port,
                    &st, &tx) == 4)
      f(line, local_port, rem_port, static_cast<uint64_t>(tx));
  }
}

/// The bytes the kernel holds unacknowledged in the send queues of this
/// machine's TCP sockets towards port `port` on 127.0.0.1.
uint64_t send_queue_towards(uint16_t port) {
  uint64_t most = 0;
  each_tcp_socket([&](const std::string&, unsigned, unsigned rem_port, uint64_t tx) {
    if (rem_port == port)
      most = std::max(most, tx);
  });
  return most;
}

/// The lines of /proc/net/tcp of the sockets on either end of `port`.
std::string tcp_lines_of(uint16_t port) {
  auto out = "/proc/net/tcp lines of port " + std::to_string(port) + ":";
  each_tcp_socket(
      [&](const std::string& line, unsigned local_port, unsigned rem_port, uint64_t) {
        if (local_port == port || rem_port == port)
          out += "\n" + line;
      });
  return out;
}

CAF_TEST_FIXTURE_SCOPE(protocol_tests, fixture)

CAF_TEST(a hello and a call sent byte by byte are answered) {
  raw_conn c{server.port};
  CAF_REQUIRE(c.connected());
  auto bytes = hello_frame();
  auto call = echo_call(42, "one byte at a time");
  bytes.insert(bytes.end(), call.begin(), call.end());
  for (auto b : bytes)
    CAF_REQUIRE(c.send(&b, 1));
  auto got = c.frames(2);
  CAF_REQUIRE_EQUAL(got.size(), 2u);
  CAF_CHECK(got[0].first == wire::frame_type::hello);
  CAF_REQUIRE(got[1].first == wire::frame_type::reply);
  auto rep = reply_of(got[1].second);
  CAF_CHECK_EQUAL(rep.id, 42u);
  auto text = decode_value<std::string>(rep.codec, rep.result);
  CAF_REQUIRE(text);
  CAF_CHECK_EQUAL(*text, "one byte at a time");
}

CAF_TEST(a hundred frames coalesced in one send get a hundred replies) {
  raw_conn c{server.port};
  auto bytes = hello_frame();
  for (uint64_t i = 0; i < 100; ++i) {
    auto call = echo_call(i, "call " + std::to_string(i));
    bytes.insert(bytes.end(), call.begin(), call.end());
  }
  CAF_REQUIRE(c.send(bytes));
  auto got = c.frames(101);
  CAF_REQUIRE_EQUAL(got.size(), 101u);
  // In any order (docs/protocol.md): a function not yet measured cheap runs
  // on the workers, later calls of it inline.
  std::set<uint64_t> ids;
  for (uint64_t i = 0; i < 100; ++i) {
    auto rep = reply_of(got[i + 1].second);
    ids.insert(rep.id);
    auto text = decode_value<std::string>(rep.codec, rep.result);
    SLACKER_REQUIRE(text, describe(text.error()));
    CAF_CHECK_EQUAL(*text, "call " + std::to_string(rep.id));
  }
  CAF_CHECK_EQUAL(ids.size(), 100u);
  CAF_CHECK_EQUAL(*ids.rbegin(), 99u);
}

CAF_TEST(an oversized length is refused and closed without allocating it) {
  auto before = server.rss_kib();
  for (int i = 0; i < 20; ++i) {
    // Before and after the hello: a header declaring 4 GiB, then some bytes.
    raw_conn c{server.port};
    std::vector<char> bytes = i % 2 == 0 ? std::vector<char>{} : hello_frame();
    std::vector<char> huge{'\xff', '\xff', '\xff', '\xf0', 1, 2, 3, 4};
    bytes.insert(bytes.end(), huge.begin(), huge.end());
    CAF_REQUIRE(c.send(bytes));
    auto got = c.frames(SIZE_MAX);
    CAF_CHECK(c.closed);
    CAF_REQUIRE(!got.empty());
    CAF_CHECK(got.back().first == wire::frame_type::error);
    CAF_CHECK(close_code_of(got.back().second) == wire::close_code::frame_too_large);
  }
  // One frame just above this server's cap of 64 KiB, sent in full.
  raw_conn c{server.port};
  auto bytes = hello_frame();
  std::vector<char> big(4 + 65537, 'x');
  big[0] = 0;
  big[1] = 1;
  big[2] = 0;
  big[3] = 1; // 65537
  bytes.insert(bytes.end(), big.begin(), big.end());
  c.send(bytes); // the server may close before all of it is written
  CAF_CHECK(c.wait_closed());
  auto after = server.rss_kib();
  CAF_MESSAGE("server RSS " << before << " KiB before, " << after << " KiB after");
  CAF_CHECK(after - before < 4 * 1024);
  check_still_serving();
}

CAF_TEST(a peer that never reads its replies cannot make the server buffer them) {
  // Calls with 32 KiB arguments, as fast as the sockets take them, and no
  // read: without backpressure the server would read all 128 MiB and keep
  // every reply. With it, it stops reading once one frame cap (64 KiB here)
  // of replies is unwritten, and the kernel's buffers fill.
  auto before = server.rss_kib();
  raw_conn c{server.port};
  CAF_REQUIRE(c.send(hello_frame()));
  auto call = echo_call(1, std::string(32 * 1024, 'x'));
  int fd = c.fd();
  size_t sent = 0;
  constexpr size_t budget = 128u * 1024u * 1024u;
  std::vector<char> burst;
  for (int i = 0; i < 32; ++i)
    burst.insert(burst.end(), call.begin(), call.end());
  size_t off = 0;
  while (sent < budget) {
    auto n =
        ::send(fd, burst.data() + off, burst.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      off = (off + static_cast<size_t>(n)) % burst.size();
      continue;
    }
    if (n < 0 && errno != EAGAIN)
      break;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 1000) == 0)
      break; // blocked for a second: the server stopped reading
  }
  auto after = server.rss_kib();
  CAF_MESSAGE("sent " << sent / 1024 << " KiB before blocking; server RSS " << before
                      << " KiB before, " << after << " KiB after");
  CAF_CHECK(sent < budget / 2);
  CAF_CHECK(after - before < 32 * 1024);
  check_still_serving();
}

CAF_TEST(big replies to one small read stop at one frame cap until the peer reads) {
  // 200 calls of test.api/bytes(1000000) in one 9 KiB write, then no read:
  // about 180 MB of replies from the first 8 KiB read if the server handled
  // every frame of a read before looking at its output; with backpressure
  // between frames it stops after the reply that passes its cap (1 MiB here)
  // and keeps the rest of the read unparsed.
  constexpr int calls = 200;
  probed_server big{1024 * 1024};
  auto before = big.rss_kib();
  raw_conn c{big.port};
  auto bytes = hello_frame();
  for (int i = 0; i < calls; ++i) {
    call_request req;
    req.id = static_cast<uint64_t>(i);
    req.ns = "test.api";
    req.fn = "bytes";
    req.args = *encode<int64_t>(codec_id::caf_binary, int64_t{1000000});
    wire::write_call(bytes, req);
  }
  CAF_REQUIRE(c.send(bytes));
  // A reply goes out once the server has handled the frames it takes from a
  // read (it flushes after): then it holds what it made of them.
  auto first = c.frames(1);
  CAF_REQUIRE(!first.empty());
  auto after = big.rss_kib();
  CAF_MESSAGE("server RSS " << before << " KiB before, " << after << " KiB after");
  CAF_CHECK(after - before < 16 * 1024); // a cap or two, and the allocator's slack
  // Nothing was lost: reading on, the peer gets every reply (in any order).
  std::set<uint64_t> ids;
  for (auto got = std::move(first);
       !got.empty() && ids.size() < static_cast<size_t>(calls); got = c.frames(1)) {
    for (auto& frame : got) {
      if (frame.first != wire::frame_type::reply)
        continue;
      auto rep = reply_of(frame.second);
      CAF_CHECK(!rep.err);
      ids.insert(rep.id);
    }
  }
  CAF_CHECK_EQUAL(ids.size(), static_cast<size_t>(calls));
  check_still_serving();
}

CAF_TEST(a peer that reads its replies is never throttled) {
  // 2,000 calls of 1 KiB, 64 in flight: 30 times the 64 KiB cap of output in
  // all, which must flow as long as the peer reads.
  raw_conn c{server.port};
  auto call = echo_call(1, std::string(1024, 'y'));
  auto bytes = hello_frame();
  for (int i = 0; i < 64; ++i)
    bytes.insert(bytes.end(), call.begin(), call.end());
  CAF_REQUIRE(c.send(bytes));
  size_t sent = 64;
  size_t replies = 0;
  while (replies < 2000) {
    auto got = c.frames(1); // at least one, all that arrived
    if (got.empty())
      break; // the 5 s receive timeout: throttled or closed
    for (auto& frame : got) {
      if (frame.first != wire::frame_type::reply)
        continue;
      ++replies;
      if (sent < 2000) {
        CAF_REQUIRE(c.send(call));
        ++sent;
      }
    }
  }
  CAF_CHECK_EQUAL(replies, 2000u);
}

CAF_TEST(a disconnect in the middle of a frame costs nothing) {
  for (int i = 0; i < 10; ++i) {
    raw_conn c{server.port};
    auto bytes = hello_frame();
    auto call = echo_call(1, "never finished");
    bytes.insert(bytes.end(), call.begin(), call.begin() + call.size() / 2);
    CAF_REQUIRE(c.send(bytes));
  } // closed here, mid-frame
  check_still_serving();
}

CAF_TEST(a handshake that never comes is closed at the timeout) {
  raw_conn c{server.port};
  auto start = clock_type::now();
  auto got = c.frames(SIZE_MAX);
  auto took = clock_type::now() - start;
  CAF_CHECK(c.closed);
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK(got[0].first == wire::frame_type::error);
  CAF_CHECK(close_code_of(got[0].second) == wire::close_code::handshake_timeout);
  CAF_CHECK(took >= 400ms); // the server's handshake timeout is 500 ms
  CAF_CHECK(took < 3s);
}

CAF_TEST(a frame before the hello is refused) {
  raw_conn c{server.port};
  CAF_REQUIRE(c.send(echo_call(1, "too early")));
  auto got = c.frames(SIZE_MAX);
  CAF_CHECK(c.closed);
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK(close_code_of(got[0].second) == wire::close_code::unexpected_frame);
}

CAF_TEST(random bytes close the connection and the server keeps serving) {
  std::mt19937 rng{20261127};
  for (int i = 0; i < 20; ++i) {
    raw_conn c{server.port};
    std::vector<char> junk(1 + rng() % 4096);
    for (auto& b : junk)
      b = static_cast<char>(rng());
    c.send(junk); // the server may close before all of it is written
    CAF_CHECK(c.wait_closed());
  }
  check_still_serving();
}

CAF_TEST(a thousand idle connections are closed by the idle limit) {
  // The test process and the server both need more than 1024 descriptors;
  // the server started before this raise, so it gets its own below.
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 4096);
  setrlimit(RLIMIT_NOFILE, &lim);
  SLACKER_REQUIRE(lim.rlim_cur >= 2100, "descriptor limit too low: " << lim.rlim_cur);
  probed_server many;
  std::vector<std::unique_ptr<raw_conn>> conns;
  for (int i = 0; i < 1000; ++i) {
    conns.push_back(std::make_unique<raw_conn>(many.port));
    CAF_REQUIRE(conns.back()->connected());
    CAF_REQUIRE(conns.back()->send(hello_frame()));
  }
  auto start = clock_type::now();
  size_t greeted = 0;
  size_t closed_idle = 0;
  for (auto& c : conns) {
    auto got = c->frames(SIZE_MAX); // until closed (receive timeout 5 s)
    if (!got.empty() && got.front().first == wire::frame_type::hello)
      ++greeted;
    if (c->closed && got.back().first == wire::frame_type::error &&
        close_code_of(got.back().second) == wire::close_code::idle_timeout)
      ++closed_idle;
  }
  auto took = clock_type::now() - start;
  CAF_CHECK_EQUAL(greeted, 1000u);
  CAF_CHECK_EQUAL(closed_idle, 1000u);
  CAF_CHECK(took < 5s); // idle limit 1 s
  slacker::client c{sys, many.address()};
  auto r = c.call<std::string>("test.api/echo", "after a thousand");
  SLACKER_REQUIRE(r, describe(r.error()));
}

namespace {

/// Whether a client pinging every `interval` loses its connection to a server
/// with a 1 s idle limit within 2.5 s: the stand-in of a remote namespace
/// goes down exactly when its connection does.
bool loses_connection(const std::string& address, caf::timespan interval) {
  slacker::config cfg;
  cfg.set("slacker.ping-interval", interval);
  caf::actor_system sys{cfg};
  slacker::client c{sys, address};
  auto proxy = c.lookup("test.reflect");
  SLACKER_REQUIRE(proxy, describe(proxy.error()));
  caf::scoped_actor self{sys};
  self->monitor(*proxy);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; }, caf::after(2500ms) >> [] {});
  return down;
}

} // namespace

CAF_TEST(a client that pings keeps its connection and one that does not loses it) {
  // A stand-in of a remote namespace keeps its connection watched: pinged.
  CAF_CHECK(!loses_connection(server.address(), caf::timespan{500ms}));
  CAF_CHECK(loses_connection(server.address(), caf::timespan{10s}));
  check_still_serving();
}

CAF_TEST(a frozen server is dropped after the peer timeout and not at the call deadline) {
  slacker::config cfg2;
  cfg2.set("slacker.ping-interval", caf::timespan{200ms});
  cfg2.set("slacker.peer-timeout", caf::timespan{1s});
  caf::actor_system sys2{cfg2};
  slacker::client c{sys2, server.address()};
  auto [r, took] = call_while_frozen(c);
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(code_of(r.error()), sc::outcome_unknown); // sent: it may have run
  CAF_MESSAGE("failed after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
              << " ms: " << describe(r.error()));
  CAF_CHECK(took < 2500ms);
  // Thawed, it is reconnected by the next call.
  auto again = c.call<std::string>("test.api/echo", "thawed");
  SLACKER_REQUIRE(again, describe(again.error()));
}

CAF_TEST(with default settings a silent server costs a waiting call about a second) {
  // slacker.call-silence (1 s): while a call waits, the server is pinged every
  // 250 ms and dropped once silent for 1 s; idle connections keep the 2 s.
  for (auto mode : {"lane", "broker"}) {
    slacker::config cfg2;
    cfg2.set("slacker.blocking-calls", mode);
    caf::actor_system sys2{cfg2};
    slacker::client c{sys2, server.address()};
    auto [r, took] = call_while_frozen(c);
    CAF_REQUIRE(!r);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
    CAF_MESSAGE(mode << ": failed after " << ms << " ms: " << describe(r.error()));
    CAF_CHECK_EQUAL(code_of(r.error()), sc::outcome_unknown);
    CAF_CHECK(took < 1500ms);
    auto again = c.call<std::string>("test.api/echo", "thawed");
    SLACKER_REQUIRE(again, describe(again.error()));
  }
}

CAF_TEST(a blocking call waiting through several ping intervals gets its answer on time) {
  // The lane waits in blocking reads bounded by the ping interval (250 ms
  // while a call waits, by default), pinging after each, and polls for the
  // last wait before the deadline: a call longer than four intervals gets
  // its answer, and a call to a frozen server (nothing comes, not even its
  // timeout) fails at its deadline plus the 100 ms grace, not at the end of
  // the interval under way.
  slacker::config cfg2;
  cfg2.set("slacker.blocking-calls", "lane");
  caf::actor_system sys2{cfg2};
  slacker::client c{sys2, server.address()};
  auto t0 = clock_type::now();
  auto r = c.call<int64_t>("test.api/slow", int64_t{1200});
  auto took = clock_type::now() - t0;
  SLACKER_REQUIRE(r, describe(r.error()));
  CAF_CHECK_EQUAL(*r, 1200);
  CAF_CHECK(took >= 1200ms);
  CAF_CHECK(took < 2000ms);
  call_options short_timeout;
  // 330 ms with the grace: after the first interval 80 ms are left, less
  // than another interval plus the 50 ms a blocking read keeps before the
  // deadline, so the last wait polls.
  short_timeout.timeout = 230ms;
  auto [late, frozen_took] = call_while_frozen(c, short_timeout);
  took = frozen_took;
  CAF_MESSAGE("timed out after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
              << " ms");
  CAF_REQUIRE(!late);
  CAF_CHECK_EQUAL(code_of(late.error()), sc::timeout);
  CAF_CHECK(took >= 320ms);
  CAF_CHECK(took < 450ms); // 500 ms were every wait a whole interval
  auto again = c.call<std::string>("test.api/echo", "after the wait");
  SLACKER_REQUIRE(again, describe(again.error()));
  CAF_CHECK_EQUAL(*again, "after the wait");
}

CAF_TEST(an idle connection nobody watches sends no pings and closes at the idle limit) {
  // Through the connection broker: it pings while the call waits, then
  // nothing; the server's 1 s idle limit closes the connection, which is no
  // failure, and the next call opens another.
  slacker::config cfg2;
  cfg2.set("slacker.blocking-calls", "broker");
  caf::actor_system sys2{cfg2};
  slacker::client c{sys2, server.address()};
  CAF_REQUIRE(c.call<std::string>("test.api/echo", "first"));
  CAF_CHECK_EQUAL(slacker_test::established_to(server.port), 1);
  auto start = clock_type::now();
  CAF_CHECK(slacker_test::wait_no_connection_to(server.port, 5s));
  CAF_MESSAGE("closed as idle after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() -
                                                                       start)
                     .count()
              << " ms");
  auto again = c.call<std::string>("test.api/echo", "second");
  SLACKER_REQUIRE(again, describe(again.error()));
  CAF_CHECK_EQUAL(*again, "second");
}

namespace {

/// Sends one ping; true when the next frame is its pong.
bool answers_ping(raw_conn& c, uint64_t nonce) {
  std::vector<char> ping;
  wire::write_u64(ping, wire::frame_type::ping, nonce);
  if (!c.send(ping))
    return false;
  auto got = c.frames(1);
  return got.size() == 1 && got[0].first == wire::frame_type::pong;
}

} // namespace

CAF_TEST(a peer pinging more often than the minimum interval is closed) {
  // No call in flight, slacker.min-ping-interval 400 ms: a burst of 5 is
  // answered (pings that queued while the server was busy), the sixth
  // closes the connection.
  raw_conn c{server.port};
  auto bytes = hello_frame();
  for (uint64_t nonce = 1; nonce <= 8; ++nonce)
    wire::write_u64(bytes, wire::frame_type::ping, nonce);
  CAF_REQUIRE(c.send(bytes));
  auto got = c.frames(SIZE_MAX);
  CAF_CHECK(c.closed);
  CAF_REQUIRE_EQUAL(got.size(), 7u); // hello, five pongs, the error
  for (size_t i = 1; i < 6; ++i)
    CAF_CHECK(got[i].first == wire::frame_type::pong);
  CAF_CHECK(got[6].first == wire::frame_type::error);
  CAF_CHECK(close_code_of(got[6].second) == wire::close_code::too_many_pings);
}

CAF_TEST(pings between calls are no strikes however often they come) {
  // One call at a time, each answered before the ping that follows it
  // arrives (no call in flight then): a client calling steadily pings while
  // its calls wait, and was closed after ~3 s (the bench saw it).
  raw_conn c{server.port};
  CAF_REQUIRE(c.send(hello_frame()));
  CAF_REQUIRE_EQUAL(c.frames(1).size(), 1u);
  for (uint64_t id = 1; id <= 20; ++id) {
    CAF_REQUIRE(c.send(slacker_test::echo_call(id, "x")));
    auto rep = c.frames(1);
    CAF_REQUIRE_EQUAL(rep.size(), 1u);
    CAF_REQUIRE(rep[0].first == wire::frame_type::reply);
    CAF_CHECK(answers_ping(c, id));
  }
  // The strikes count again from a full bucket once the calls stop.
  std::vector<char> pings;
  for (uint64_t nonce = 1; nonce <= 7; ++nonce)
    wire::write_u64(pings, wire::frame_type::ping, nonce);
  CAF_REQUIRE(c.send(pings));
  auto got = c.frames(SIZE_MAX);
  CAF_CHECK(c.closed);
  CAF_REQUIRE_EQUAL(got.size(), 6u); // a burst of five pongs, the error
  CAF_CHECK(got[5].first == wire::frame_type::error);
  CAF_CHECK(close_code_of(got[5].second) == wire::close_code::too_many_pings);
}

CAF_TEST(pings at the interval of a watching client are all answered) {
  // An idle connection of a client with subscribers to reachability pings
  // every slacker.ping-interval (500 ms): never a strike.
  raw_conn c{server.port};
  CAF_REQUIRE(c.send(hello_frame()));
  CAF_REQUIRE_EQUAL(c.frames(1).size(), 1u);
  for (uint64_t nonce = 1; nonce <= 5; ++nonce) {
    CAF_CHECK(answers_ping(c, nonce));
    std::this_thread::sleep_for(500ms); // the spacing under test, not a wait
  }
  CAF_CHECK(!c.closed);
}

CAF_TEST(a blocking call after the server closed its idle connection connects again) {
  // Blocking calls use pooled connections that nobody pings while idle.
  slacker::client c{sys, server.address()};
  CAF_REQUIRE(c.call<std::string>("test.api/echo", "first"));
  caf::scoped_actor self{sys};
  self->receive(caf::after(1500ms) >> [] {}); // past the server's 1 s idle limit
  auto again = c.call<std::string>("test.api/echo", "second");
  SLACKER_REQUIRE(again, describe(again.error()));
  CAF_CHECK_EQUAL(*again, "second");
}

namespace {

long own_rss_kib() {
  return rss_kib_of("self");
}

/// A fake server: accepts `n` connections and answers each with a header
/// declaring an almost-4 GiB frame, then a few bytes, and keeps it open.
struct hostile_server {
  int listener = -1;
  uint16_t port = 0;
  std::vector<int> accepted;
  std::thread runner;

  explicit hostile_server(int n) {
    std::tie(listener, port) = slacker_test::loopback_listener(8);
    runner = std::thread{[this, n] {
      for (int i = 0; i < n; ++i) {
        int c = ::accept(listener, nullptr, nullptr);
        if (c < 0)
          return;
        accepted.push_back(c);
        const char evil[] = {'\xff', '\xff', '\xff', '\xf0', 1, 2, 3, 4};
        ::send(c, evil, sizeof(evil), MSG_NOSIGNAL);
      }
    }};
  }

  ~hostile_server() {
    ::shutdown(listener, SHUT_RDWR);
    runner.join();
    for (auto c : accepted)
      ::close(c);
    ::close(listener);
  }
};

} // namespace

CAF_TEST(a hostile server cannot make a client allocate what it declares) {
  hostile_server evil{2};
  auto before = own_rss_kib();
  auto address = "127.0.0.1:" + std::to_string(evil.port);
  for (auto mode : {"lane", "broker"}) {
    slacker::config cfg2;
    cfg2.set("slacker.blocking-calls", mode);
    caf::actor_system sys2{cfg2};
    slacker::client c{sys2, address};
    auto start = clock_type::now();
    auto r = c.call<std::string>("test.api/echo", "to a liar");
    auto took = clock_type::now() - start;
    CAF_REQUIRE(!r);
    CAF_MESSAGE(mode << ": " << describe(r.error()));
    // Refused before it was written, or after (it may have run there).
    CAF_CHECK(code_of(r.error()) == sc::connection_broken ||
              code_of(r.error()) == sc::outcome_unknown);
    CAF_CHECK(took < 2s); // closed at once, not at the call's 10 s deadline
  }
  auto after = own_rss_kib();
  CAF_MESSAGE("client RSS " << before << " KiB before, " << after << " KiB after");
  CAF_CHECK(after - before < 16 * 1024);
}

CAF_TEST(calls written while a large call is still being sent follow it intact) {
  // A connection broker sends what its turn wrote at once and leaves to CAF
  // what the socket does not take; calls written while CAF still holds bytes
  // must go behind them, or they would cut into the large frame.
  probed_server big_server{16u << 20};
  slacker::client c{sys, big_server.address()};
  caf::scoped_actor self{sys};
  auto send = [&](uint64_t id, const std::string& arg) {
    auto req = make_call(call_options{}, "test.api/echo", arg);
    CAF_REQUIRE(req);
    req->id = id;
    self->send(c.actor(), std::move(*req)); // answered with a call_reply
  };
  // The connection broker's own connection open and greeted before the
  // server stops (a blocking call would take a pooled connection of its own).
  send(100, "warm");
  self->receive([&](call_reply& rep) { SLACKER_REQUIRE(!rep.err, describe(rep.err)); },
                caf::after(10s) >> [] { CAF_FAIL("the warm-up call was not answered"); });
  big_server.proc.signal(SIGSTOP); // nothing is read: the socket fills
  SLACKER_REQUIRE(big_server.wait_state('T', 5s), "the server did not stop");
  const std::string large(8u << 20, 'L'); // more than the socket buffers take
  send(0, large);
  // Sent in part: the kernel holds some of it, CAF the rest.
  auto until = clock_type::now() + 5s;
  while (send_queue_towards(big_server.port) == 0 && clock_type::now() < until)
    std::this_thread::sleep_for(1ms);
  if (send_queue_towards(big_server.port) == 0) {
    // Say why: an answer already (the call failed), or the sockets' states.
    self->receive(
        [&](call_reply& rep) { CAF_MESSAGE("answered: " << describe(rep.err)); },
        caf::after(0ms) >> [] { CAF_MESSAGE("no answer yet"); });
    CAF_MESSAGE(tcp_lines_of(big_server.port));
  }
  CAF_REQUIRE_GREATER(send_queue_towards(big_server.port), 0u);
  for (uint64_t id = 1; id <= 20; ++id)
    send(id, "small " + std::to_string(id));
  big_server.proc.signal(SIGCONT);
  std::map<uint64_t, std::string> got;
  bool timed_out = false;
  for (int i = 0; i < 21 && !timed_out; ++i)
    self->receive(
        [&](call_reply& rep) {
          auto v = result_of<std::string>(rep);
          got[rep.id] = v ? *v : "error: " + describe(v.error());
        },
        caf::after(30s) >> [&] { timed_out = true; });
  CAF_REQUIRE(!timed_out);
  CAF_REQUIRE_EQUAL(got.size(), 21u);
  CAF_CHECK(got[0] == large);
  for (uint64_t id = 1; id <= 20; ++id)
    CAF_CHECK_EQUAL(got[id], "small " + std::to_string(id));
}

CAF_TEST_FIXTURE_SCOPE_END()
