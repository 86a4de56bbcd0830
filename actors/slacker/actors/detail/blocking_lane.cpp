#include "slacker/actors/detail/blocking_lane.hpp"
#include "slacker/runtime/detail/metrics.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <numeric>

#include "slacker/actors/detail/accrual.hpp"
#include "slacker/messages/detail/protocol.hpp"
#include "slacker/messages/detail/wire.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/runtime/detail/tcp_connect.hpp"
#include "slacker/runtime/detail/tls.hpp"

namespace slacker {

namespace {

using clock = std::chrono::steady_clock;

int millis_until(clock::time_point t) {
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(ms + 1, 0, 60'000));
}

/// How waiting for a reply ended.
enum class outcome {
  replied,
  lost,           // the connection closed or failed
  timed_out,      // the deadline (plus grace) passed
  silent,         // nothing from the server for the peer timeout
  idle_closed,    // the server had closed the connection as idle: safe to retry
  protocol_error, // the server sent something this client cannot take
  pending,        // not yet (within a wait)
};

} // namespace

/// The largest frame buffer a pooled connection keeps for its next call.
constexpr size_t kept_frame = 64 * 1024;

/// How far before the deadline a blocking read may start a wait of a whole
/// ping interval: a read timeout is kept in kernel ticks (4 ms here), and
/// the thread may wake late.
constexpr auto blocking_slack = std::chrono::milliseconds{50};

struct blocking_lane::conn : wire::client_protocol::callee {
  int fd = -1;
  wire::client_protocol proto;
  bool going_away = false;
  bool reused = false;
  uint64_t next_id = 1;
  uint64_t next_nonce = 1;
  clock::time_point last_heard = clock::now();
  std::string why;                  // what the server said when it closed
  std::unique_ptr<tls_session> tls; // with TLS: frames are sealed before they go out
  std::vector<char> sealed, opened; // TLS buffers, reused from call to call
  std::vector<char> frame;          // the call's frame, reused from call to call
  std::shared_ptr<metrics::link_counts> link; // for the portal, or null
  accrual::health* health = nullptr;          // the server's (the lane's), or null
  // The wait under way: the reply it waits for, and whether it came.
  uint64_t awaited = 0;
  call_reply* reply = nullptr;
  bool replied = false;
  // Reads may block (the socket is in blocking mode; every other read and
  // every write says MSG_DONTWAIT), and the read timeout last set on it.
  bool blocking_reads = false;
  caf::timespan read_timeout{0};

  conn(uint32_t max, const std::string& addr) : proto(*this, max, addr) {}

  ~conn() override {
    if (fd >= 0)
      ::close(fd);
  }

  // What the protocol reports. The lane sends no typed messages and no
  // queries: their answers would be a server's mistake, and are ignored.
  void on_greeted() override {
    // nop: `greet` waits for it (proto.greeted())
  }
  void on_reply(call_reply& rep) override {
    // The first answer counts: a second with the same id (a server's
    // mistake, or a hostile one) is ignored.
    if (reply && !replied && rep.id == awaited) {
      *reply = std::move(rep);
      replied = true;
    }
  }
  void on_send_reply(uint64_t, bool, std::vector<char>&, caf::error&) override {
    // nop
  }
  bool on_query_reply(wire::frame_type, wire::reader&) override {
    return true;
  }
  void on_going_away() override {
    going_away = true;
  }

  /// Writes a frame (sealed, with TLS) before `deadline`.
  bool write_all(const std::vector<char>& bytes, clock::time_point deadline) {
    if (!tls)
      return send_raw(bytes.data(), bytes.size(), deadline);
    sealed.clear();
    if (!tls->write(bytes.data(), bytes.size(), sealed)) {
      why = tls->error();
      return false;
    }
    return sealed.empty() || send_raw(sealed.data(), sealed.size(), deadline);
  }

  /// Writes all of `size` bytes to the socket before `deadline`.
  bool send_raw(const char* data, size_t size, clock::time_point deadline) {
    size_t done = 0;
    while (done < size) {
      auto n = ::send(fd, data + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        done += static_cast<size_t>(n);
        if (link)
          link->moved(0, static_cast<uint64_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return false;
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, millis_until(deadline)) <= 0)
        return false;
    }
    return true;
  }

  /// Lets reads block (a read that must not says MSG_DONTWAIT); they stay
  /// non-blocking when the socket cannot be switched.
  void allow_blocking_reads() {
    auto flags = ::fcntl(fd, F_GETFL);
    blocking_reads = flags >= 0 && ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0;
  }

  /// Bounds a blocking read by `t` (SO_RCVTIMEO), set again only when it
  /// changes: false when reads do not block, `t` is under a millisecond (a
  /// zero timeout would block for ever), or the option cannot be set.
  bool bound_reads(caf::timespan t) {
    if (!blocking_reads || t < std::chrono::milliseconds{1})
      return false;
    if (t == read_timeout)
      return true;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(t).count();
    timeval tv{static_cast<time_t>(us / 1'000'000),
               static_cast<suseconds_t>(us % 1'000'000)};
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
      return false;
    read_timeout = t;
    return true;
  }

  /// Reads until the reply with wire id `id` arrives (into `out`) or the wait ends.
  outcome await(uint64_t id, call_reply& out, clock::time_point deadline,
                const wire_options& opts) {
    for (;;) {
      auto now = clock::now();
      if (now >= deadline)
        return outcome::timed_out;
      auto every = opts.ping_every(true);
      // A wait of a whole ping interval well before the deadline is one
      // blocking read bounded by the socket's read timeout (the same on
      // every call: set once), where a poll and a read made two system
      // calls. The kernel keeps that timeout in ticks (4 ms here), so the
      // last wait before the deadline polls, to the millisecond.
      if (deadline - now > every + blocking_slack && bound_reads(every)) {
        bool quiet = false;
        auto res = on_readable(id, out, deadline, &quiet);
        if (quiet)
          res = on_quiet(deadline, opts);
        if (res != outcome::pending)
          return res;
        continue;
      }
      auto wake = std::min(deadline, now + every);
      pollfd p{fd, POLLIN, 0};
      auto rc = ::poll(&p, 1, millis_until(wake));
      if (rc < 0 && errno != EINTR)
        return outcome::lost;
      auto res = rc <= 0 ? on_quiet(deadline, opts) : on_readable(id, out, deadline);
      if (res != outcome::pending)
        return res;
    }
  }

  /// Waits for the server's hello on a new connection, so that a call is
  /// only written to a server that is there: a process dying while we
  /// connect may still complete the handshake from its listen queue, and a
  /// call written then would fail *sent*. `replied` once greeted.
  outcome greet(clock::time_point deadline, const wire_options& opts) {
    call_reply none;
    while (!proto.greeted()) {
      auto now = clock::now();
      if (now >= deadline)
        return outcome::timed_out;
      pollfd p{fd, POLLIN, 0};
      auto rc = ::poll(&p, 1, millis_until(std::min(deadline, now + opts.ping_interval)));
      if (rc < 0 && errno != EINTR)
        return outcome::lost;
      if (rc <= 0)
        continue;
      auto res = on_readable(0, none, deadline);
      if (res != outcome::pending && res != outcome::replied)
        return res;
    }
    return outcome::replied;
  }

  /// Nothing arrived for a while: silent past the peer timeout, or pinged.
  outcome on_quiet(clock::time_point deadline, const wire_options& opts) {
    // A call waits here: the shorter limits (slacker.call-silence).
    if (clock::now() - last_heard > opts.silence_limit(true))
      return outcome::silent;
    if (clock::now() - last_heard < opts.ping_every(true))
      return outcome::pending;
    if (health)
      accrual::went_quiet(*health, opts.silence_limit(true)); // dropped by then
    std::vector<char> ping;
    wire::write_u64(ping, wire::frame_type::ping, next_nonce++);
    return write_all(ping, deadline) ? outcome::pending : outcome::lost;
  }

  /// Takes what arrived; `pending` until the reply with wire id `id` did.
  /// With `quiet`, the read blocks (up to the read timeout, `bound_reads`)
  /// and says whether that passed with nothing.
  outcome on_readable(uint64_t id, call_reply& out, clock::time_point deadline,
                      bool* quiet = nullptr) {
    char buf[wire::read_chunk];
    auto n = ::recv(fd, buf, sizeof(buf), quiet ? 0 : MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (quiet && errno != EINTR)
        *quiet = true;
      return outcome::pending;
    }
    if (n <= 0)
      return outcome::lost;
    last_heard = clock::now();
    if (health)
      accrual::heard(*health);
    if (link)
      link->moved(static_cast<uint64_t>(n), 0);
    const char* data = buf;
    auto size = static_cast<size_t>(n);
    if (tls) {
      opened.clear();
      sealed.clear(); // handshake records for the server, if any
      auto was_established = tls->established();
      if (!tls->feed(buf, size, opened, sealed)) {
        why = tls->error() +
              (was_established ? "" : " (does the server use TLS with the same CA?)");
        return outcome::protocol_error;
      }
      if (!sealed.empty() && !send_raw(sealed.data(), sealed.size(), deadline))
        return outcome::lost;
      data = opened.data();
      size = opened.size();
    }
    std::vector<char> answers; // pongs to pings of the server
    awaited = id;
    reply = &out;
    replied = false;
    auto closed = proto.feed(data, size, answers);
    reply = nullptr;
    if (!answers.empty() && !write_all(answers, deadline) && !replied)
      return outcome::lost;
    if (closed && replied)
      going_away = true; // the reply came first: keep it, not the connection
    if (closed && !replied) {
      if (!closed->by_peer) {
        why = closed->text;
        return outcome::protocol_error;
      }
      if (!proto.greeted()) {
        why = "the server refused it: " + excerpt(closed->text); // e.g. requires TLS
        return outcome::protocol_error;
      }
      why = closed->text;
      return closed->code == wire::close_code::idle_timeout ? outcome::idle_closed
                                                            : outcome::protocol_error;
    }
    return replied ? outcome::replied : outcome::pending;
  }
};

blocking_lane::blocking_lane(std::string host, uint16_t port, wire_options opts,
                             std::string cluster, std::shared_ptr<accrual::health> health)
  : host_(std::move(host)), port_(port), addr_(host_ + ":" + std::to_string(port)),
    opts_(opts), cluster_(std::move(cluster)), health_(std::move(health)) {
  // nop
}

blocking_lane::~blocking_lane() {
  // nop: the pooled connections close with their `conn`
}

std::unique_ptr<blocking_lane::conn> blocking_lane::take_idle() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_ || idle_.empty())
    return nullptr;
  auto c = std::move(idle_.back());
  idle_.pop_back();
  return c;
}

std::vector<std::unique_ptr<blocking_lane::conn>>
blocking_lane::take_checked(std::vector<fan_call>& calls) {
  std::vector<std::unique_ptr<conn>> taken(calls.size());
  std::vector<pollfd> fds;
  fds.reserve(calls.size());
  for (size_t i = 0; i < calls.size(); ++i)
    if ((taken[i] = calls[i].lane->take_idle()))
      fds.push_back(pollfd{taken[i]->fd, POLLIN, 0});
  if (fds.empty())
    return taken;
  // As in borrow(): anything that arrived while one sat in the pool is an
  // end. A failed poll proves nothing: each is then checked on its own.
  bool failed = ::poll(fds.data(), fds.size(), 0) < 0;
  for (size_t i = 0, k = 0; i < calls.size(); ++i) {
    if (!taken[i])
      continue;
    if (failed) // back in the pool, for borrow() to check
      calls[i].lane->give_back(std::move(taken[i]));
    else if (fds[k].revents != 0)
      taken[i].reset();
    ++k;
  }
  return taken;
}

caf::expected<std::unique_ptr<blocking_lane::conn>>
blocking_lane::borrow(const call_name& what, clock::time_point until,
                      std::unique_ptr<conn> checked) {
  if (checked) {
    checked->reused = true;
    return checked;
  }
  while (auto c = take_idle()) {
    // Anything that arrived while it sat in the pool is an end: the server
    // closed it as idle, is going away, or is gone. Take the next one.
    pollfd p{c->fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) {
      c->reused = true;
      return c;
    }
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_)
      return make_error(sc::connection_broken,
                        what + ": the connection to " + addr_ + " was closed");
  }
  if (opts_.problem)
    return make_error(sc::invalid_request, what + ": " + describe(opts_.problem));
  // Whole milliseconds, rounded up: a connect that times out ends at `until`
  // or after it (open() tells a timeout from a refusal by that).
  auto fd = connect_within(
      host_, port_,
      std::max(std::chrono::ceil<std::chrono::milliseconds>(until - clock::now()),
               std::chrono::milliseconds{1}));
  if (!fd)
    return make_error(sc::connection_broken, what + ": cannot connect to " + addr_ +
                                                 ": " + describe(fd.error()));
  auto c = std::make_unique<conn>(opts_.max_message_size, addr_);
  c->fd = *fd;
  c->allow_blocking_reads(); // else every wait polls
  c->health = health_.get();
  c->link = metrics::track_link("out", addr_, cluster_, opts_.tls != nullptr);
  if (opts_.tls) {
    // The client's first handshake flight; the hello below waits, sealed,
    // until the handshake is done (while the call awaits its reply).
    c->tls = std::make_unique<tls_session>(*opts_.tls, false);
    std::vector<char> flight;
    if (!c->tls->start(flight) || !c->send_raw(flight.data(), flight.size(), until))
      return make_error(sc::connection_broken,
                        what + ": TLS with " + addr_ + " failed: " + c->tls->error());
  }
  std::vector<char> hello;
  c->proto.start(hello);
  if (!c->write_all(hello, until))
    return make_error(sc::connection_broken, what + ": connection to " + addr_ + " lost");
  return c;
}

void blocking_lane::give_back(std::unique_ptr<conn> c) {
  if (c->link)
    c->link->in_flight.store(0, std::memory_order_relaxed);
  if (c->going_away)
    return; // closes it
  std::lock_guard<std::mutex> guard{mtx_};
  if (!closed_)
    idle_.push_back(std::move(c));
}

void blocking_lane::drop_idle() {
  std::vector<std::unique_ptr<conn>> idle;
  std::lock_guard<std::mutex> guard{mtx_};
  idle.swap(idle_);
}

void blocking_lane::close() {
  std::vector<std::unique_ptr<conn>> idle;
  std::lock_guard<std::mutex> guard{mtx_};
  closed_ = true;
  idle.swap(idle_);
}

/// The result of a call whose wait ended with `res` on connection `cn`
/// (`replied`: its reply, in `rep`).
caf::expected<call_reply> blocking_lane::settle(int res, conn& cn, call_reply& rep,
                                                const call_name& what,
                                                std::chrono::nanoseconds left,
                                                attempt& how) {
  switch (static_cast<outcome>(res)) {
    case outcome::replied:
      how.answered = true;
      if (rep.err)
        return with_origin(rep.err, addr_);
      return std::move(rep);
    case outcome::idle_closed:
      how.sent = false; // the server had closed it: the call never ran
      return make_error(sc::connection_broken, what + ": connection to " + addr_ +
                                                   " closed by the server: " + cn.why);
    case outcome::timed_out: {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(
                    how.timeout.count() > 0 ? how.timeout : left)
                    .count();
      return make_error(sc::timeout, what + " on " + addr_ + ": no reply within " +
                                         std::to_string(std::max<int64_t>(ms, 0)) +
                                         " ms");
    }
    case outcome::silent:
      return connection_failed(
          how.sent,
          what + ": connection to " + addr_ + " dropped: nothing heard for " +
              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 opts_.silence_limit(true))
                                 .count()) +
              " ms");
    case outcome::protocol_error:
      return connection_failed(
          how.sent,
          what + ": connection to " + addr_ + " closed: " +
              (cn.why.empty() ? "the server sent a frame this client cannot take"
                              : cn.why));
    case outcome::lost:
    case outcome::pending:
      break;
  }
  return connection_failed(how.sent, what + ": connection to " + addr_ + " lost");
}

caf::error blocking_lane::not_greeted(conn& cn, int res, const call_name& what,
                                      attempt& how) {
  how.sent = false; // nothing was sent: the call may go elsewhere (retry::after)
  if (static_cast<outcome>(res) == outcome::timed_out)
    return make_error(
        sc::connection_broken,
        what + ": " + addr_ + " did not greet within " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::milliseconds>(greet_timeout())
                    .count()) +
            " ms");
  call_reply unused;
  auto err = settle(res, cn, unused, what, {}, how);
  how.sent = false;
  return err.error();
}

std::chrono::nanoseconds blocking_lane::greet_timeout() const {
  // As the connection broker, within slacker.handshake-timeout; and no
  // longer than a connect or a silent peer may take.
  return std::min<std::chrono::nanoseconds>(
      {opts_.handshake_timeout, opts_.connect_timeout, opts_.peer_timeout});
}

caf::error blocking_lane::send_call(std::unique_ptr<conn>& c, call_request& req,
                                    const call_name& what, clock::time_point deadline,
                                    uint64_t& wire_id, attempt& how) {
  auto& cn = *c;
  // The server's own cap, from its hello.
  if (auto err = wire::check_call_size(
          req, std::min(opts_.max_message_size, cn.proto.peer_max()))) {
    give_back(std::move(c));
    return err;
  }
  auto caller_id = req.id;
  wire_id = cn.next_id++;
  cn.frame.clear();
  req.id = wire_id;
  wire::write_call(cn.frame, req);
  req.id = caller_id;
  how.sent = true; // a partial write may have reached the server
  if (cn.link) {
    cn.link->calls.fetch_add(1, std::memory_order_relaxed);
    cn.link->in_flight.store(1, std::memory_order_relaxed); // until given back
  }
  auto written = cn.write_all(cn.frame, deadline);
  if (cn.frame.capacity() > kept_frame)
    std::vector<char>{}.swap(cn.frame); // a large call's buffer is not kept pooled
  if (!written)
    return connection_failed(true, what + ": connection to " + addr_ + " lost");
  return {};
}

caf::expected<std::unique_ptr<blocking_lane::conn>>
blocking_lane::open(const call_request& req, const call_name& what,
                    clock::time_point deadline, attempt& how,
                    std::unique_ptr<conn> checked) {
  if (auto err = wire::check_call_size(req, opts_.max_message_size)) {
    if (checked)
      give_back(std::move(checked));
    return err;
  }
  auto now = clock::now();
  auto bound = std::max(deadline - now, clock::duration::zero()) / 2;
  auto until = now + std::min<clock::duration>(opts_.connect_timeout, bound);
  auto c = borrow(what, until, std::move(checked));
  if (c || bound >= opts_.connect_timeout || clock::now() < until)
    return c; // connected, refused, or given its whole connect-timeout
  // The connect outlasted the call's bound, not slacker.connect-timeout: as
  // the connection broker does, the server is unheard (calls go elsewhere),
  // not reported down: a slow accept (a loaded server) is no proof that it
  // is gone. Whoever watches it (the dispatcher, through its broker) finds
  // out.
  how.connect_cut_short = true;
  if (health_)
    accrual::went_quiet(*health_, opts_.connect_timeout);
  return make_error(sc::connection_broken,
                    what + ": cannot connect to " + addr_ +
                        " in time (half the time the call had left, at most "
                        "slacker.connect-timeout)");
}

caf::expected<std::unique_ptr<blocking_lane::conn>>
blocking_lane::begin(call_request& req, const call_name& what, clock::time_point deadline,
                     uint64_t& wire_id, attempt& how) {
  auto c = open(req, what, deadline, how);
  if (!c)
    return std::move(c.error());
  auto& cn = **c;
  if (!cn.proto.greeted())
    if (auto res = cn.greet(std::min(deadline, clock::now() + greet_timeout()), opts_);
        res != outcome::replied)
      return not_greeted(cn, static_cast<int>(res), what, how);
  if (auto err = send_call(*c, req, what, deadline, wire_id, how))
    return err;
  return c;
}

caf::expected<call_reply> blocking_lane::call(call_request& req, attempt* how) {
  attempt ignored;
  if (!how)
    how = &ignored;
  call_name what{req};
  auto left = time_left(req.deadline_ns);
  auto deadline = clock::now() + std::max(left, decltype(left){0}) + timeout_grace;
  for (int round = 0;; ++round) {
    *how = attempt{};
    uint64_t wire_id = 0;
    auto c = begin(req, what, deadline, wire_id, *how);
    if (!c)
      return std::move(c.error());
    auto& cn = **c;
    call_reply rep;
    auto res = cn.await(wire_id, rep, deadline, opts_);
    // The server had closed it before our call arrived: the call never
    // reached it, which retry::after calls free; once, on a fresh one.
    if (res == outcome::idle_closed && round == 0 && cn.reused)
      continue;
    auto out = settle(static_cast<int>(res), cn, rep, what, left, *how);
    if (res == outcome::replied) {
      give_back(std::move(*c));
      if (out)
        out->id = req.id;
    } else if (res != outcome::timed_out) {
      drop_idle(); // the server's other connections are suspect too
    }
    return out;
  }
}

void blocking_lane::call_all(call_request& req, std::vector<fan_call>& calls,
                             const std::function<bool(size_t)>& done) {
  call_name what{req};
  auto left = time_left(req.deadline_ns);
  auto deadline = clock::now() + std::max(left, decltype(left){0}) + timeout_grace;
  struct open_call {
    std::unique_ptr<conn> c;
    bool greeting = false; // a new connection: the call waits for the hello
    uint64_t wire_id = 0;
    call_reply rep;
  };
  auto greet_until = std::min(
      deadline, clock::now() + (calls.empty() ? std::chrono::nanoseconds{0}
                                              : calls.front().lane->greet_timeout()));
  std::vector<open_call> open(calls.size());
  size_t waiting = 0;
  // Ends call `i` with `res`; true once the caller has its outcome.
  auto finish = [&](size_t i, caf::expected<call_reply> res) {
    calls[i].result = std::move(res);
    open[i].c.reset(); // closes a connection that did not end well
    --waiting;
    return done(i);
  };
  // Every request leaves before any reply is awaited; a new connection's
  // waits for its hello in the loop below, beside the others.
  auto pooled = take_checked(calls);
  struct unused_back { // those not used, when the outcome comes first
    std::vector<fan_call>& calls;
    std::vector<std::unique_ptr<conn>>& pooled;
    ~unused_back() {
      for (size_t i = 0; i < pooled.size(); ++i)
        if (pooled[i])
          calls[i].lane->give_back(std::move(pooled[i]));
    }
  } back{calls, pooled};
  // Those on a checked connection first: no connect between a check and
  // its write (a server gone meanwhile would fail the call "may have run").
  std::vector<size_t> order(calls.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_partition(order.begin(), order.end(),
                        [&](size_t i) { return pooled[i] != nullptr; });
  for (auto i : order) {
    ++waiting;
    auto& lane = *calls[i].lane;
    auto c = lane.open(req, what, deadline, calls[i].how, std::move(pooled[i]));
    if (!c) {
      if (finish(i, std::move(c.error())))
        return;
      continue;
    }
    open[i].c = std::move(*c);
    if (!open[i].c->proto.greeted()) {
      open[i].greeting = true;
      continue;
    }
    if (auto err =
            lane.send_call(open[i].c, req, what, deadline, open[i].wire_id, calls[i].how))
      if (finish(i, std::move(err)))
        return;
  }
  std::vector<pollfd> fds;
  std::vector<size_t> of; // fds[k] is the connection of call of[k]
  while (waiting > 0) {
    auto now = clock::now();
    fds.clear();
    of.clear();
    for (size_t i = 0; i < open.size(); ++i)
      if (open[i].c) {
        fds.push_back(pollfd{open[i].c->fd, POLLIN, 0});
        of.push_back(i);
      }
    // The lanes of one client share their options.
    auto wake = std::min(deadline, now + calls.front().lane->opts_.ping_every(true));
    if (std::any_of(open.begin(), open.end(), [](auto& x) { return x.c && x.greeting; }))
      wake = std::min(wake, greet_until);
    auto rc = now >= deadline ? 0 : ::poll(fds.data(), fds.size(), millis_until(wake));
    if (rc < 0 && errno != EINTR)
      rc = 0;
    for (size_t k = 0; k < fds.size(); ++k) {
      auto i = of[k];
      auto& oc = open[i];
      auto& lane = *calls[i].lane;
      if (oc.greeting) {
        auto res = outcome::pending;
        if (fds[k].revents != 0)
          res = oc.c->on_readable(0, oc.rep, deadline);
        if (oc.c->proto.greeted()) {
          oc.greeting = false;
          if (auto err =
                  lane.send_call(oc.c, req, what, deadline, oc.wire_id, calls[i].how))
            if (finish(i, std::move(err)))
              return;
          continue;
        }
        if (res == outcome::pending && clock::now() >= greet_until)
          res = outcome::timed_out;
        if (res != outcome::pending &&
            finish(i, lane.not_greeted(*oc.c, static_cast<int>(res), what, calls[i].how)))
          return;
        continue;
      }
      outcome res;
      if (clock::now() >= deadline)
        res = outcome::timed_out;
      else if (fds[k].revents != 0)
        res = oc.c->on_readable(oc.wire_id, oc.rep, deadline);
      else if (rc == 0)
        res = oc.c->on_quiet(deadline, lane.opts_);
      else
        continue;
      if (res == outcome::pending)
        continue;
      auto out =
          lane.settle(static_cast<int>(res), *oc.c, oc.rep, what, left, calls[i].how);
      if (res == outcome::replied) {
        lane.give_back(std::move(oc.c));
        if (out)
          out->id = req.id;
      } else if (res != outcome::timed_out) {
        lane.drop_idle();
      }
      if (finish(i, std::move(out)))
        return; // decided: the calls still open are let go (connections closed)
    }
  }
}

} // namespace slacker
