#include "slacker/actors/detail/client_connection.hpp"
#include "slacker/actors/detail/eager_flush.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "slacker/messages/bounded.hpp"
#include "slacker/runtime/detail/metrics.hpp"
#include "slacker/runtime/detail/tls.hpp"
#include <caf/binary_serializer.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/receive_policy.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/message_view.hpp>
#include <caf/send.hpp>
#include <caf/typed_response_promise.hpp>
#include <spdlog/spdlog.h>

#include "slacker/actors/cluster_call.hpp"
#include "slacker/actors/detail/accrual.hpp"
#include "slacker/actors/detail/ledger.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/call.hpp"
#include "slacker/messages/detail/protocol.hpp"
#include "slacker/messages/detail/wire.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/policy/detail/aggregator.hpp"
#include "slacker/policy/retry.hpp"
#include "slacker/runtime/detail/tcp_connect.hpp"

namespace slacker {

namespace {

using clock = std::chrono::steady_clock;

constexpr auto default_timeout = std::chrono::seconds{10};

struct conn_state;

/// What the protocol asks of the broker (implemented below).
struct conn_callee : wire::client_protocol::callee {
  caf::io::broker* self;
  conn_state* st;

  conn_callee(caf::io::broker* b, conn_state* s) : self(b), st(s) {}

  void on_greeted() override;
  void on_reply(call_reply& rep) override;
  void on_send_reply(uint64_t id, bool ok, std::vector<char>& bytes,
                     caf::error& err) override;
  bool on_query_reply(wire::frame_type type, wire::reader& in) override;
  void on_going_away() override;
};

struct conn_state {
  enum class phase { idle, connecting, open };

  /// Who gets a call's answer, and how.
  enum class answer_kind : uint8_t {
    request, // a `call_reply`, errors as errors (naming the server)
    send,    // a `call_reply` with errors inside
    cluster, // a `cluster_reply` shaped by the call's policies
    routed,  // as `cluster`, but a success as its `call_reply` (raw_success)
    fan,     // a part of an actor's fan-out: to its aggregator (`fan`)
  };

  struct call {
    uint64_t caller_id;
    caf::response_promise rp;
    answer_kind kind;
    codec_id codec;
    clock::duration timeout;
    std::shared_ptr<const call_policies> policies; // cluster calls only
    // Cluster calls, so that the dispatcher can send the call to another
    // server: the request, the servers tried before, whether it may run twice.
    // Other calls keep the request's `ns` and `fn` only, for their errors'
    // messages (`call_name`).
    call_request req;
    std::vector<std::string> tried;
    bool idempotent = false;
    clock::time_point started;
    // Sent while the server was suspect: a probe, whose answer re-admits it
    // (a late answer to a call sent before does not).
    bool probe = false;
    // Fan-out parts only: the fan-out, and this server's index in it.
    std::shared_ptr<fan_out_call> fan;
    size_t fan_index = 0;
  };

  enum class query_kind { lookup, namespaces, functions };

  struct query {
    query_kind kind;
    std::string ns;
    caf::response_promise rp;
  };

  struct sent {
    caf::actor proxy;
    uint64_t pid;
  };

  std::string host;
  uint16_t port = 0;
  std::string addr;
  wire_options opts;
  // The dispatcher, held weakly: it holds this broker, and a retired broker
  // that outlives it must not keep it (and what it holds) alive.
  caf::weak_actor_ptr observer;

  phase ph = phase::idle;
  uint64_t generation = 0; // one per connection attempt: stale timers and connects
  caf::io::connection_handle hdl;
  bool greeted = false;
  bool going_away = false;
  // The observer was told this server is down (or going away) since it last
  // answered hello: a failed first attempt tells it too, retries do not.
  bool down_told = false;
  std::vector<char> outbox; // frames written before the socket exists (and, with
                            // TLS, the plaintext not yet sealed)
  // Calls written while connecting, kept apart from the other frames (hello,
  // lookups, typed messages): a connect that outlasts a call's bound fails
  // the calls unsent and drops their frames, the rest waits for the connect.
  std::vector<char> call_outbox;
  std::unique_ptr<tls_session> tls;
  eager_flush writer; // this connection's bytes, sent from the broker's turn
  std::vector<char> plain_in;
  uint32_t peer_max = UINT32_MAX; // the server's frame cap, from its hello
  conn_callee callee;
  // The protocol of the current connection (a new one per connection); shared
  // so that a feed in progress keeps its own.
  std::shared_ptr<wire::client_protocol> proto;
  clock::time_point last_heard;

  call_ledger<call> calls;
  std::shared_ptr<in_flight_count> in_flight;   // shared with a dispatcher
  std::shared_ptr<metrics::peer_counts> counts; // for /metrics, or null
  std::string cluster;                          // its client's, or empty
  std::shared_ptr<metrics::link_counts> link;   // for the portal, or null
  std::shared_ptr<std::atomic<bool>> feedback;  // a grouping wants outcomes
  uint32_t accrual = 3; // timeouts in a row that make this server suspect
  std::shared_ptr<accrual::health> health = std::make_shared<accrual::health>();
  bool retiring = false; // end once nothing is in flight
  std::unordered_map<uint64_t, query> queries;
  std::unordered_map<uint64_t, sent> sends;
  std::map<std::string, caf::actor> proxies;
  std::vector<caf::response_promise> connect_waiters;
  uint64_t next_id = 1;
  uint64_t next_nonce = 1;
  // The heartbeat: the one tick armed (older ones are ignored), whether one
  // is armed at all (none while the connection is idle and nobody watches
  // it), and whether it was armed while calls waited (the shorter interval).
  uint64_t tick_id = 0;
  bool tick_on = false;
  bool tick_busy = false;
  // Silence is measured from here or from the last frame heard, whichever
  // is later: an idle connection sends no pings and hears nothing.
  clock::time_point watched_from;
  // True while the dispatcher has subscribers to reachability events: idle
  // connections ping too (null: never).
  std::shared_ptr<std::atomic<bool>> detect;

  conn_state(caf::io::broker* self, wire_options o) : opts(o), callee(self, this) {}

  conn_state(const conn_state&) = delete;
  conn_state& operator=(const conn_state&) = delete;

  bool busy() const {
    return !calls.empty() || !queries.empty() || !sends.empty();
  }

  /// Whether the heartbeat runs: calls wait, stand-ins of remote
  /// namespaces live (they go down with the connection), or someone watches
  /// reachability.
  bool watched() const {
    return busy() || !connect_waiters.empty() || !proxies.empty() ||
           (detect && detect->load(std::memory_order_relaxed));
  }
};

using self_ptr = caf::io::broker*;

/// Where a frame goes: the socket's buffer once connected, the outbox before
/// (and always with TLS, which seals the outbox into the socket's buffer).
std::vector<char>& out_buf(self_ptr self, conn_state& st) {
  if (st.ph == conn_state::phase::open && !st.tls)
    return self->wr_buf(st.hdl);
  return st.outbox;
}

void lose(self_ptr self, conn_state& st, const std::string& cause, bool refused = false,
          bool idle_closed = false);

/// Hands what is written to the socket (counted for the portal).
void flush_counted(self_ptr self, conn_state& st) {
  if (st.link)
    st.link->moved(0, self->wr_buf(st.hdl).size());
  st.writer(self, st.hdl);
}

void flush_out(self_ptr self, conn_state& st) {
  if (st.ph != conn_state::phase::open)
    return;
  if (st.tls && !st.outbox.empty()) {
    auto ok = st.tls->write(st.outbox.data(), st.outbox.size(), self->wr_buf(st.hdl));
    st.outbox.clear();
    if (!ok) {
      lose(self, st, "connection to " + st.addr + " closed: " + st.tls->error());
      return;
    }
  }
  flush_counted(self, st);
}

/// A cluster call's (the dispatcher may send it elsewhere; its policies
/// shape its outcome).
bool is_cluster(conn_state::answer_kind k) {
  return k == conn_state::answer_kind::cluster || k == conn_state::answer_kind::routed;
}

/// Answers call `c` with `rep` (a result or an error), as its caller wants
/// it. An error from the server gets this server's address (`stamp`); the
/// client's own errors name it already.
void answer(conn_state& st, conn_state::call& c, call_reply rep, bool stamp = true) {
  rep.id = c.caller_id;
  if (rep.err && stamp)
    rep.err = with_origin(rep.err, st.addr);
  switch (c.kind) {
    case conn_state::answer_kind::request:
      if (rep.err)
        c.rp.deliver(std::move(rep.err));
      else
        c.rp.deliver(std::move(rep));
      return;
    case conn_state::answer_kind::send:
      c.rp.deliver(std::move(rep));
      return;
    case conn_state::answer_kind::routed:
      if (!rep.err) { // its caller shapes it (cluster_call::raw_success)
        c.rp.deliver(std::move(rep));
        return;
      }
      [[fallthrough]];
    case conn_state::answer_kind::cluster: {
      auto res = aggregator::one(call_name{c.req}, std::move(c.policies), st.addr,
                                 std::move(rep));
      if (res)
        c.rp.deliver(std::move(*res));
      else
        c.rp.deliver(std::move(res.error()));
      return;
    }
    case conn_state::answer_kind::fan:
      if (rep.err)
        c.fan->answer_taken(c.fan_index, std::move(rep.err));
      else
        c.fan->answer_taken(c.fan_index, std::move(rep));
      return;
  }
}

/// Fails call `c` with an error of this client (naming the server already).
void reply_error(conn_state& st, conn_state::call& c, caf::error err) {
  call_reply rep;
  rep.codec = c.codec;
  rep.err = std::move(err);
  answer(st, c, std::move(rep), false);
}

/// Hands a failed cluster call back to the dispatcher (the observer), which
/// sends it to another server within its deadline or answers it with `err`:
/// its caller waits for that answer as for this one (the promise is
/// delegated). `charged`: a retry of a call that may have run (the retry
/// budget decides); uncharged: it certainly did not run here. False when
/// there is nobody to resend it (a direct call).
bool resend(conn_state& st, conn_state::call& c, caf::error err, bool charged) {
  auto observer = caf::actor_cast<caf::actor>(st.observer);
  if (!is_cluster(c.kind) || !observer)
    return false;
  c.tried.push_back(st.addr);
  c.req.id = c.caller_id;
  cluster_call call{std::move(c.req), std::move(c.policies), std::move(c.tried)};
  c.rp.delegate(observer, resend_atom::value, std::move(call), std::move(err), charged,
                c.idempotent);
  return true;
}

/// `n` calls of the dispatcher left this broker (answered, expired, failed
/// or handed back). The dispatcher counts a call in when it routes it here,
/// so that its count is right the moment it routed it.
void count_out(conn_state& st, size_t n = 1) {
  if (st.in_flight && n > 0)
    st.in_flight->fetch_sub(n, std::memory_order_relaxed);
}

/// One call of this server ended: for /metrics, and for a grouping that
/// learns from outcomes.
void counted(conn_state& st, const conn_state::call& c, const caf::error& err) {
  if (st.feedback && is_cluster(c.kind) && st.feedback->load(std::memory_order_relaxed))
    if (auto observer = caf::actor_cast<caf::actor>(st.observer))
      caf::anon_send(observer,
                     call_feedback{c.req.ns, st.addr,
                                   std::chrono::duration_cast<std::chrono::microseconds>(
                                       clock::now() - c.started),
                                   !err});
  if (!st.counts)
    return;
  st.counts->in_flight.fetch_sub(1, std::memory_order_relaxed);
  st.counts->record(
      static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - c.started)
              .count()),
      err);
}

/// A retiring broker ends once it owes no answer.
void maybe_retire(self_ptr self, conn_state& st) {
  if (st.retiring && !st.busy())
    self->quit();
}

void observe(self_ptr self, conn_state& st, bool up) {
  auto observer = caf::actor_cast<caf::actor>(st.observer);
  if (!observer)
    return;
  if (up)
    self->send(observer, conn_up_atom::value, st.addr);
  else
    self->send(observer, conn_down_atom::value, st.addr);
}

/// Fails every call waiting here (`sent`: written to the connection, so
/// it may have run), each resent elsewhere when the retry rule says so.
void fail_calls(conn_state& st, bool sent, const std::string& cause) {
  count_out(st, st.calls.size());
  st.calls.drain([&](uint64_t, conn_state::call& c) {
    auto err = connection_failed(sent, call_name{c.req} + ": " + cause);
    counted(st, c, err);
    auto v = retry::after({code_of(err), sent, false, c.idempotent});
    if (v != retry::verdict::stop && resend(st, c, err, v == retry::verdict::charged))
      return;
    reply_error(st, c, std::move(err));
  });
}

/// Ends the connection (or the attempt) and fails everything that waited on
/// it, at once. `cause` says why, for the errors. `idle_closed`: the server
/// closed it as idle, which is no failure (the observer is not told; a call
/// written meanwhile was not read there).
void lose(self_ptr self, conn_state& st, const std::string& cause, bool refused,
          bool idle_closed) {
  if (st.ph == conn_state::phase::idle)
    return;
  st.link.reset(); // off the portal's list
  auto tell = !st.down_told && !idle_closed;
  // Calls of a connection that never opened were never sent; nor did those
  // of one the server closed with an error before answering hello (`refused`:
  // it reads the calls only after the hello), or as idle.
  auto sent =
      st.ph != conn_state::phase::connecting && !(refused && !st.greeted) && !idle_closed;
  st.tick_on = false;
  if (st.ph == conn_state::phase::open && self->valid(st.hdl))
    self->close(st.hdl);
  st.tls.reset();
  st.ph = conn_state::phase::idle;
  st.greeted = false;
  st.going_away = false;
  st.outbox.clear();
  st.call_outbox.clear();
  if (st.proto)
    st.proto->stop();
  st.proto.reset();
  ++st.generation;
  if (st.busy() || !st.connect_waiters.empty())
    spdlog::debug("slacker: connection to {} ended: {}", st.addr, cause);
  fail_calls(st, sent, cause);
  auto queries = std::move(st.queries);
  st.queries.clear();
  for (auto& kvp : queries)
    kvp.second.rp.deliver(
        make_error(sc::connection_broken, kvp.second.ns + ": " + cause));
  auto sends = std::move(st.sends);
  st.sends.clear();
  for (auto& kvp : sends)
    self->send(kvp.second.proxy, forward_atom::value, kvp.second.pid,
               connection_failed(sent, cause));
  for (auto& kvp : st.proxies)
    self->send_exit(kvp.second, caf::exit_reason::remote_link_unreachable);
  st.proxies.clear();
  auto waiters = std::move(st.connect_waiters);
  st.connect_waiters.clear();
  for (auto& rp : waiters)
    rp.deliver(make_error(sc::connection_broken, cause));
  if (tell) {
    st.down_told = true;
    observe(self, st, false);
  }
  maybe_retire(self, st);
}

void arm_deadline(self_ptr self, conn_state& st, clock::time_point at) {
  if (!st.calls.arm(at))
    return;
  self->delayed_send(self, std::max(at - clock::now(), clock::duration::zero()),
                     deadline_atom::value);
}

void ensure_connection(self_ptr self, conn_state& st);

/// Sends call `req` (its id is the caller's) and keeps it in the ledger until
/// its answer, its deadline or the end of the connection. A call beyond the
/// frame cap is answered here, before anything is sent.
void start_call(self_ptr self, conn_state& st, call_request& req,
                caf::response_promise rp, conn_state::answer_kind kind,
                std::shared_ptr<const call_policies> policies = nullptr,
                std::vector<std::string> tried = {}, bool idempotent = false,
                std::shared_ptr<fan_out_call> fan = nullptr, size_t fan_index = 0) {
  if (req.deadline_ns == 0)
    req.deadline_ns =
        (std::chrono::system_clock::now() + default_timeout).time_since_epoch() /
        std::chrono::nanoseconds{1};
  auto left = time_left(req.deadline_ns);
  auto now = clock::now(); // one reading for the call's start and its deadline
  conn_state::call c{req.id,
                     std::move(rp),
                     kind,
                     req.codec,
                     // What the caller asked for, for the timeout's message
                     // (the time left is less by the wait to get here).
                     policies ? clock::duration{policies->timeout} : left,
                     std::move(policies),
                     {},
                     {},
                     false,
                     now,
                     accrual::suspect(*st.health, st.accrual),
                     std::move(fan),
                     fan_index};
  if (auto err =
          wire::check_call_size(req, std::min(st.opts.max_message_size, st.peer_max))) {
    c.req.ns = req.ns; // for the message, should the policies make one
    c.req.fn = req.fn;
    count_out(st);
    reply_error(st, c, std::move(err));
    return;
  }
  auto deadline = now + std::max(left, decltype(left){0}) + timeout_grace;
  if (st.counts)
    st.counts->in_flight.fetch_add(1, std::memory_order_relaxed);
  auto [id, kept] = st.calls.emplace(std::move(c), deadline);
  if (st.link)
    st.link->calls.fetch_add(1, std::memory_order_relaxed);
  arm_deadline(self, st, deadline);
  ensure_connection(self, st);
  if (st.ph == conn_state::phase::connecting) {
    // As on a blocking lane: a connect takes at most half the time the call
    // has left, so that a server that does not accept (its host cut off)
    // leaves it time to go elsewhere (unsent, free: retry.hpp).
    auto bound = std::min<clock::duration>(st.opts.connect_timeout,
                                           std::max(left, decltype(left){0}) / 2);
    self->delayed_send(self, bound, connect_bound_atom::value, st.generation);
  }
  req.id = id;
  wire::write_call(
      st.ph == conn_state::phase::connecting ? st.call_outbox : out_buf(self, st), req);
  // Written: what the ledger keeps of the request is moved there (no copy of
  // the name on each call).
  if (is_cluster(kind)) {
    kept.req = std::move(req);
    kept.tried = std::move(tried);
    kept.idempotent = idempotent;
  } else {
    kept.req.ns = std::move(req.ns);
    kept.req.fn = std::move(req.fn);
  }
  st.writer.soon(self); // one write for the turn's calls
}

/// Server `i`'s part of an actor's fan-out `fan`, sent here.
void start_fan_part(self_ptr self, conn_state& st,
                    const std::shared_ptr<fan_out_call>& fan, size_t i) {
  auto req = fan->request(i);
  start_call(self, st, req, caf::response_promise{}, conn_state::answer_kind::fan,
             nullptr, {}, false, fan, i);
}

/// Arms the heartbeat: the next tick after the interval for the connection
/// as it is now (busy: calls wait on it).
void arm_tick(self_ptr self, conn_state& st) {
  if (!st.tick_on)
    st.watched_from = clock::now(); // silent since then at most
  st.tick_on = true;
  st.tick_busy = st.busy();
  self->delayed_send(self, st.opts.ping_every(st.tick_busy), tick_atom::value,
                     ++st.tick_id);
}

void ensure_connection(self_ptr self, conn_state& st) {
  // Calls now wait on an open connection that was idle: the heartbeat runs
  // again, the shorter one while calls wait (slacker.call-silence).
  if (st.ph == conn_state::phase::open && (!st.tick_on || (!st.tick_busy && st.busy())) &&
      st.watched())
    arm_tick(self, st);
  if (st.ph != conn_state::phase::idle)
    return;
  st.ph = conn_state::phase::connecting;
  if (st.opts.problem) {
    // Never a plaintext fallback for a TLS setup that does not load.
    auto me = caf::actor_cast<caf::actor>(self);
    self->send(me, connected_atom::value, st.generation, st.opts.problem);
    return;
  }
  st.proto = std::make_shared<wire::client_protocol>(st.callee, st.opts.max_message_size,
                                                     st.addr);
  st.proto->start(st.outbox);
  auto gen = st.generation;
  auto me = caf::actor_cast<caf::actor>(self);
  auto host = st.host;
  auto port = st.port;
  auto timeout = st.opts.connect_timeout;
  // The connect blocks: a helper thread of its own, never the network thread.
  // It answers anonymously: a message that names it would keep it (and its
  // thread) alive for as long as the message waits in a mailbox.
  self->home_system().spawn<caf::detached + caf::hidden>([=](caf::event_based_actor*) {
    auto fd = connect_within(host, port, timeout);
    if (fd)
      caf::anon_send(me, connected_atom::value, gen, static_cast<int64_t>(*fd));
    else
      caf::anon_send(me, connected_atom::value, gen, std::move(fd.error()));
  });
}

void on_connected(self_ptr self, conn_state& st, uint64_t gen, int fd) {
  if (gen != st.generation || st.ph != conn_state::phase::connecting) {
    ::close(fd); // an attempt nobody waits for any more
    return;
  }
  st.hdl = self->add_scribe(static_cast<caf::io::network::native_socket>(fd));
  st.ph = conn_state::phase::open;
  st.outbox.insert(st.outbox.end(), st.call_outbox.begin(), st.call_outbox.end());
  st.call_outbox.clear();
  st.last_heard = clock::now();
  st.link = metrics::track_link("out", st.addr, st.cluster, st.opts.tls != nullptr);
  self->configure_read(st.hdl, caf::io::receive_policy::at_most(wire::read_chunk));
  self->ack_writes(st.hdl, true); // for the writer: when CAF holds nothing
  st.writer.reset();
  if (st.opts.tls) {
    // The outbox (hello first) is sealed once the handshake is done.
    st.tls = std::make_unique<tls_session>(*st.opts.tls, false);
    if (!st.tls->start(self->wr_buf(st.hdl))) {
      lose(self, st, "connection to " + st.addr + " closed: " + st.tls->error());
      return;
    }
    flush_out(self, st);
  } else {
    auto& buf = self->wr_buf(st.hdl);
    buf.insert(buf.end(), st.outbox.begin(), st.outbox.end());
    st.outbox.clear();
    flush_counted(self, st);
  }
  self->delayed_send(self, st.opts.handshake_timeout, handshake_atom::value, gen);
  arm_tick(self, st);
}

void on_reply(self_ptr self, conn_state& st, call_reply& rep) {
  auto c = st.calls.take(rep.id);
  if (!c)
    return; // timed out meanwhile
  count_out(st);
  counted(st, *c, rep.err);
  if (accrual::answered(*st.health, st.accrual, c->probe,
                        std::chrono::duration_cast<std::chrono::microseconds>(
                            clock::now() - c->started),
                        code_of(rep.err), st.opts.overload_backoff))
    observe(self, st, true); // answers again
  if (rep.err) {
    auto v = retry::after({code_of(rep.err), true, true, c->idempotent});
    if (v != retry::verdict::stop &&
        resend(st, *c, with_origin(rep.err, st.addr), v == retry::verdict::charged))
      return;
  }
  answer(st, *c, std::move(rep));
}

void on_send_reply(self_ptr self, conn_state& st, uint64_t id, bool ok,
                   const std::vector<char>& bytes, caf::error& err) {
  auto i = st.sends.find(id);
  if (i == st.sends.end())
    return;
  auto s = i->second;
  st.sends.erase(i);
  if (!ok) {
    self->send(s.proxy, forward_atom::value, s.pid, std::move(err));
  } else {
    caf::message msg;
    if (auto why = load_message(self->home_system(), bytes, msg); !why.empty())
      self->send(s.proxy, forward_atom::value, s.pid,
                 make_error(sc::codec_error,
                            "the answer from " + st.addr + " cannot be read: " + why));
    else
      self->send(s.proxy, forward_atom::value, s.pid, std::move(msg));
  }
}

void on_query_reply(self_ptr self, conn_state& st, wire::frame_type type,
                    wire::reader& in, bool& malformed) {
  uint64_t id = 0;
  uint8_t ok = 0;
  if (!(in.u64(id) && in.u8(ok))) {
    malformed = true;
    return;
  }
  auto i = st.queries.find(id);
  if (i == st.queries.end())
    return;
  auto q = std::move(i->second);
  st.queries.erase(i);
  if (!ok) {
    caf::error err;
    if (!in.err(err)) {
      malformed = true;
      return;
    }
    q.rp.deliver(with_origin(err, st.addr));
  } else if (type == wire::frame_type::lookup_reply) {
    uint8_t kind = 0;
    if (!in.u8(kind)) {
      malformed = true;
      return;
    }
    auto& proxy = st.proxies[q.ns];
    if (!proxy)
      proxy =
          self->spawn(remote_namespace, caf::actor_cast<caf::actor>(self), q.ns, st.addr);
    q.rp.deliver(proxy);
  } else if (q.kind == conn_state::query_kind::namespaces) {
    std::vector<std::string> names;
    if (!in.strings(names)) {
      malformed = true;
      return;
    }
    q.rp.deliver(std::move(names));
  } else {
    std::vector<function_info> fns;
    if (!wire::read_function_infos(in, fns)) {
      malformed = true;
      return;
    }
    q.rp.deliver(std::move(fns));
  }
}

/// Sends a `lookup` or `inspect` frame; `rp` gets the answer.
void send_query(self_ptr self, conn_state& st, conn_state::query_kind kind,
                wire::frame_type type, const std::string& ns, caf::response_promise rp) {
  auto id = st.next_id++;
  st.queries.emplace(id, conn_state::query{kind, ns, std::move(rp)});
  ensure_connection(self, st);
  wire::write_id_str(out_buf(self, st), type, id, ns);
  flush_out(self, st);
}

void conn_callee::on_greeted() {
  st->greeted = true;
  st->peer_max = st->proto->peer_max();
  // Up again after the observer was told it was down; a connection that
  // reopens after an idle close was never down.
  if (st->down_told)
    observe(self, *st, true);
  st->down_told = false;
  auto waiters = std::move(st->connect_waiters);
  st->connect_waiters.clear();
  for (auto& rp : waiters)
    rp.deliver(true);
}

void conn_callee::on_reply(call_reply& rep) {
  slacker::on_reply(self, *st, rep);
}

void conn_callee::on_send_reply(uint64_t id, bool ok, std::vector<char>& bytes,
                                caf::error& err) {
  slacker::on_send_reply(self, *st, id, ok, bytes, err);
}

bool conn_callee::on_query_reply(wire::frame_type type, wire::reader& in) {
  bool malformed = false;
  slacker::on_query_reply(self, *st, type, in, malformed);
  return !malformed;
}

void conn_callee::on_going_away() {
  if (!st->going_away) {
    spdlog::info("slacker: {} is going away", st->addr);
    if (auto observer = caf::actor_cast<caf::actor>(st->observer))
      self->send(observer, going_away_atom::value, st->addr);
    st->going_away = true;
    st->down_told = true;
  }
}

} // namespace

caf::behavior client_connection(caf::io::broker* self, std::string host, uint16_t port,
                                wire_options opts, link_hooks hooks) {
  auto sp = std::make_shared<conn_state>(self, opts);
  sp->host = std::move(host);
  sp->port = port;
  sp->addr = sp->host + ":" + std::to_string(port);
  sp->observer = caf::actor_cast<caf::weak_actor_ptr>(hooks.observer);
  sp->in_flight = std::move(hooks.in_flight);
  sp->counts = std::move(hooks.counts);
  sp->feedback = std::move(hooks.feedback);
  sp->detect = std::move(hooks.detect);
  sp->cluster = std::move(hooks.cluster);
  if (hooks.health)
    sp->health = std::move(hooks.health);
  sp->accrual = std::max<uint32_t>(opts.failure_accrual, 1);
  // Linked to its dispatcher (or told to end): every call in flight gets its
  // answer before the broker goes, so that nobody waits on it.
  // (Calls are only in flight while a connection is, or is being, made.)
  self->set_exit_handler([self, sp](caf::exit_msg& msg) {
    sp->retiring = false;
    sp->observer = nullptr; // its dispatcher is gone: nothing to resend to
    lose(self, *sp, "the client was closed");
    self->quit(msg.reason);
  });
  // Stand-ins end with their connection broker, and nothing waits forever.
  self->attach_functor([sp](const caf::error&) {
    for (auto& kvp : sp->proxies)
      caf::anon_send_exit(kvp.second, caf::exit_reason::user_shutdown);
  });
  return connection_internal_type::behavior_type{
      [self, sp](call_request& req) -> caf::result<call_reply> {
        // The promise is moved into the ledger: a copy costs two reference
        // counts up and down, one on the caller's control block (the typed
        // promise converts to a reference, and so would be copied).
        auto kind = self->current_message_id().is_request()
                        ? conn_state::answer_kind::request
                        : conn_state::answer_kind::send;
        start_call(self, *sp, req, self->make_response_promise(), kind);
        return caf::delegated<call_reply>{};
      },
      // A cluster call that goes to this server only (delegated by a
      // dispatcher): answered with the call's outcome under its policies.
      [self, sp](cluster_call& call) -> caf::result<cluster_reply> {
        start_call(self, *sp, call.req, self->make_response_promise(),
                   call.raw_success ? conn_state::answer_kind::routed
                                    : conn_state::answer_kind::cluster,
                   std::move(call.policies), std::move(call.tried), call.idempotent);
        return caf::delegated<cluster_reply>{};
      },
      // An actor's fan-out: this server's part sent here, the others' to
      // their brokers (on this thread: no wake-up of the network thread per
      // server), the outcome to the actor once the aggregator decided.
      [self, sp](fan_out_atom,
                 std::shared_ptr<fan_out_call>& fan) -> caf::result<cluster_reply> {
        fan->take(self->make_response_promise());
        for (size_t i = 0; i < fan->size(); ++i) {
          auto conn = fan->conn(i);
          if (conn.address() == self->address()) {
            start_fan_part(self, *sp, fan, i);
            continue;
          }
          self->request(conn, caf::infinite, fan_out_atom::value, fan, uint64_t{i})
              .then([] {},
                    [fan, i](caf::error& err) { fan->answer_taken(i, std::move(err)); });
        }
        return caf::delegated<cluster_reply>{};
      },
      [self, sp](fan_out_atom, std::shared_ptr<fan_out_call>& fan, uint64_t i) {
        start_fan_part(self, *sp, fan, static_cast<size_t>(i));
      },
      [self, sp](retire_atom) {
        sp->retiring = true;
        maybe_retire(self, *sp);
      },
      [self, sp](lookup_atom, std::string& ns) -> caf::result<caf::actor> {
        auto& st = *sp;
        if (auto i = st.proxies.find(ns); i != st.proxies.end())
          return i->second;
        send_query(self, st, conn_state::query_kind::lookup, wire::frame_type::lookup, ns,
                   self->make_response_promise());
        return caf::delegated<caf::actor>{};
      },
      [self, sp](inspect_atom) -> caf::result<std::vector<std::string>> {
        auto& st = *sp;
        send_query(self, st, conn_state::query_kind::namespaces,
                   wire::frame_type::inspect, std::string{},
                   self->make_response_promise());
        return caf::delegated<std::vector<std::string>>{};
      },
      [self, sp](inspect_atom,
                 std::string& ns) -> caf::result<std::vector<function_info>> {
        auto& st = *sp;
        send_query(self, st, conn_state::query_kind::functions, wire::frame_type::inspect,
                   ns, self->make_response_promise());
        return caf::delegated<std::vector<function_info>>{};
      },
      [self, sp](caf::connect_atom) -> caf::result<bool> {
        auto& st = *sp;
        if (st.going_away)
          return make_error(sc::connection_broken, st.addr + " is going away");
        ensure_connection(self, st); // and the heartbeat, for a watcher
        // Connected and heard from lately; a connection silent for longer
        // may be one that is about to be dropped (a frozen server): it
        // answers once the server says something (a pong to a ping now).
        auto fresh = clock::now() - st.last_heard < st.opts.ping_every(true);
        if (st.greeted && fresh)
          return true;
        auto rp = self->make_response_promise();
        st.connect_waiters.push_back(rp);
        if (st.greeted) {
          wire::write_u64(out_buf(self, st), wire::frame_type::ping, st.next_nonce++);
          flush_out(self, st);
        }
        ensure_connection(self, st);
        return caf::delegated<bool>{};
      },
      // A typed message from a stand-in.
      [self, sp](forward_atom, std::string& ns, uint64_t pid, caf::message& msg) {
        auto& st = *sp;
        auto proxy = caf::actor_cast<caf::actor>(self->current_sender());
        std::vector<char> bytes;
        if (auto why = save_message(self->home_system(), msg, bytes); !why.empty()) {
          self->send(proxy, forward_atom::value, pid,
                     make_error(sc::codec_error,
                                "a message to " + ns + " cannot be sent: " + why));
          return;
        }
        auto id = st.next_id++;
        st.sends.emplace(id, conn_state::sent{proxy, pid});
        ensure_connection(self, st);
        wire::write_send(out_buf(self, st), id, ns, bytes);
        flush_out(self, st);
      },
      [self, sp](connected_atom, uint64_t gen, int64_t fd) {
        on_connected(self, *sp, gen, static_cast<int>(fd));
      },
      [self, sp](connected_atom, uint64_t gen, caf::error& err) {
        auto& st = *sp;
        if (gen != st.generation)
          return;
        lose(self, st, "cannot connect to " + st.addr + ": " + describe(err));
      },
      [self, sp](caf::io::new_data_msg& msg) {
        auto& st = *sp;
        if (st.ph != conn_state::phase::open || msg.handle != st.hdl)
          return;
        st.last_heard = clock::now();
        accrual::heard(*st.health);
        if (st.link) {
          st.link->moved(msg.buf.size(), 0);
          st.link->in_flight.store(static_cast<int64_t>(st.calls.size()),
                                   std::memory_order_relaxed);
        }
        if (st.greeted && !st.connect_waiters.empty()) {
          // The server spoke: those who asked whether it is there hear yes.
          auto waiters = std::move(st.connect_waiters);
          st.connect_waiters.clear();
          for (auto& rp : waiters)
            rp.deliver(true);
        }
        const char* data = msg.buf.data();
        size_t size = msg.buf.size();
        if (st.tls) {
          st.plain_in.clear();
          auto was_established = st.tls->established();
          if (!st.tls->feed(data, size, st.plain_in, self->wr_buf(st.hdl))) {
            st.writer(self, st.hdl); // the alert first
            lose(self, st,
                 "connection to " + st.addr + " closed: " + st.tls->error() +
                     (was_established ? ""
                                      : " (does the server use TLS with the same CA?)"));
            return;
          }
          if (!was_established && st.tls->established()) {
            flush_out(self, st); // the frames written meanwhile, hello first
            if (st.ph != conn_state::phase::open)
              return;
          }
          data = st.plain_in.data();
          size = st.plain_in.size();
        }
        auto proto = st.proto; // this connection's, through the feed
        auto res = proto->feed(data, size, out_buf(self, st));
        if (!res || !res->by_peer)
          flush_out(self, st); // with a close, the error frame for the server
        if (res && proto == st.proto)
          lose(self, st,
               res->by_peer ? "connection to " + st.addr +
                                  " closed by the server: " + excerpt(res->text)
                            : "connection to " + st.addr + " closed: " + res->text,
               res->by_peer, res->by_peer && res->code == wire::close_code::idle_timeout);
        maybe_retire(self, st);
      },
      [self, sp](flush_atom) {
        sp->writer.arrived();
        flush_out(self, *sp);
      },
      [sp](caf::io::data_transferred_msg& msg) {
        if (msg.handle == sp->hdl)
          sp->writer.transferred(msg.remaining);
      },
      [self, sp](caf::io::connection_closed_msg& msg) {
        auto& st = *sp;
        if (st.ph == conn_state::phase::open && msg.handle == st.hdl)
          lose(self, st, "connection to " + st.addr + " lost");
      },
      [self, sp](connect_bound_atom, uint64_t gen) {
        auto& st = *sp;
        if (gen != st.generation || st.ph != conn_state::phase::connecting ||
            st.calls.size() == 0)
          return;
        std::string cause = "cannot connect to " + st.addr +
                            " in time (half the time a call had left, at most "
                            "slacker.connect-timeout)";
        // The calls go elsewhere, unsent (their frames are dropped). The
        // connect goes on for the calls to come and for what else waits on
        // it (lookups, typed messages: they have no such bound): a connect
        // slower than half of a short call's time is no proof that the
        // server is gone (a loaded machine), so the server is not reported
        // down, only unheard until the connect ends (calls go elsewhere
        // meanwhile); a connect that fails reports it down as always.
        st.call_outbox.clear();
        accrual::went_quiet(*st.health, st.opts.connect_timeout);
        fail_calls(st, false, cause);
        maybe_retire(self, st);
      },
      [self, sp](handshake_atom, uint64_t gen) {
        auto& st = *sp;
        if (gen == st.generation && !st.greeted)
          lose(self, st, st.addr + " did not answer hello in time");
      },
      [self, sp](tick_atom, uint64_t id) {
        auto& st = *sp;
        if (id != st.tick_id || st.ph != conn_state::phase::open)
          return;
        // Nothing at stake (no call waits, nobody watches): no pings; the
        // server closes the connection after its idle timeout, the next
        // call opens a new one.
        if (!st.watched()) {
          st.tick_on = false;
          return;
        }
        // Calls waiting: silent for slacker.call-silence is too long; idle:
        // slacker.peer-timeout.
        auto silent = clock::now() - std::max(st.last_heard, st.watched_from);
        if (silent > st.opts.silence_limit(st.busy())) {
          lose(self, st,
               "connection to " + st.addr + " dropped: nothing heard for " +
                   std::to_string(
                       std::chrono::duration_cast<std::chrono::milliseconds>(silent)
                           .count()) +
                   " ms");
          return;
        }
        if (st.busy() && silent >= st.opts.ping_every(true))
          // Calls go elsewhere meanwhile; dropped by then at the latest.
          accrual::went_quiet(*st.health, st.opts.silence_limit(true));
        wire::write_u64(out_buf(self, st), wire::frame_type::ping, st.next_nonce++);
        flush_out(self, st);
        arm_tick(self, st);
      },
      [self, sp](deadline_atom) {
        auto& st = *sp;
        st.calls.fired(); // a wake-up that came early re-arms below
        st.calls.expire(clock::now(), [&](uint64_t, conn_state::call& c) {
          count_out(st);
          counted(st, c, make_error(sc::timeout, call_name{c.req}.str()));
          // Failure accrual: timeouts in a row make the server suspect.
          if (accrual::timed_out(*st.health, st.accrual)) {
            spdlog::warn(
                "slacker: {} did not answer {} calls in a row; routing around it",
                st.addr, st.accrual);
            if (auto observer = caf::actor_cast<caf::actor>(st.observer))
              self->send(observer, suspect_atom::value, st.addr);
          }
          auto ms = std::chrono::ceil<std::chrono::milliseconds>(c.timeout); // as given
          reply_error(st, c,
                      make_error(sc::timeout, call_name{c.req} + " on " + st.addr +
                                                  ": no reply within " +
                                                  std::to_string(ms.count()) + " ms"));
        });
        if (auto at = st.calls.earliest())
          arm_deadline(self, st, *at);
        maybe_retire(self, st);
      },
  }
      .unbox();
}

caf::behavior remote_namespace(caf::event_based_actor* self, caf::actor conn,
                               std::string ns, std::string addr) {
  struct state {
    std::unordered_map<uint64_t, caf::response_promise> waiting;
    uint64_t next = 1;
  };
  auto st = std::make_shared<state>();
  self->set_default_handler(
      [=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
        auto pid = st->next++;
        st->waiting.emplace(pid, self->make_response_promise());
        self->send(conn, forward_atom::value, ns, pid, x.move_content_to_message());
        return caf::delegated<caf::message>{};
      });
  self->set_exit_handler([=](caf::scheduled_actor*, caf::exit_msg& x) {
    for (auto& kvp : st->waiting)
      kvp.second.deliver(
          make_error(sc::connection_broken, ns + ": connection to " + addr + " lost"));
    st->waiting.clear();
    self->quit(x.reason);
  });
  return {
      [=](forward_atom, uint64_t pid, caf::message& reply) {
        auto i = st->waiting.find(pid);
        if (i == st->waiting.end())
          return;
        i->second.deliver(std::move(reply));
        st->waiting.erase(i);
      },
      [=](forward_atom, uint64_t pid, caf::error& err) {
        auto i = st->waiting.find(pid);
        if (i == st->waiting.end())
          return;
        i->second.deliver(std::move(err));
        st->waiting.erase(i);
      },
  };
}

} // namespace slacker
