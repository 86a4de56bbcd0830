#include "slacker/actors/detail/server_connection.hpp"
#include "slacker/actors/detail/eager_flush.hpp"
#include "slacker/actors/detail/run_delay.hpp"
#include "slacker/actors/interfaces.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <chrono>
#include <set>

#include "slacker/messages/bounded.hpp"
#include "slacker/runtime/detail/metrics.hpp"
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/doorman.hpp>
#include <caf/io/receive_policy.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/message_view.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "slacker/actors/detail/namespace_actor.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/messages/detail/protocol.hpp"
#include "slacker/messages/detail/wire.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/runtime/detail/tls.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace slacker {

namespace {

using clock = std::chrono::steady_clock;

/// The frame deadline's timer (slacker.frame-timeout).
using frame_timer_atom = caf::atom_constant<caf::atom("frametmr")>;
/// A non-blocking call that ran on the pool: its reply and how long it ran.
using offloaded_atom = caf::atom_constant<caf::atom("offloaded")>;
/// The connection's turn ended: the next frames after the others had theirs.
using next_turn_atom = caf::atom_constant<caf::atom("nextturn")>;

/// A turn of one connection on the network thread: at most this many frames
/// or this long, then the others (docs/security.md).
constexpr size_t frames_per_turn = 1024;
constexpr std::chrono::microseconds turn_length{2000};

/// Calls of one connection running off the network thread at once (their
/// replies are not written yet: backpressure cannot see them); past it, the
/// connection takes no frames until one returns.
constexpr size_t max_offloaded = 4;
/// Results from this size on are framed on the worker that made them.
constexpr size_t large_reply = size_t{1} << 20;

/// The acceptor's look for free descriptors, and how many it keeps free.
using fd_check_atom = caf::atom_constant<caf::atom("fdcheck")>;
constexpr int64_t fd_reserve = 16;

/// Wrong manager tokens a connection may send before it is closed.
constexpr int max_wrong_tokens = 3;

struct connection_state;

/// What the protocol asks of the connection (implemented below).
struct connection_callee : wire::server_protocol::callee {
  caf::io::broker* self;
  connection_state* st;
  std::weak_ptr<connection_state> weak;

  explicit connection_callee(caf::io::broker* b) : self(b), st(nullptr) {}

  void on_call(call_request& req, std::vector<char>& out) override;
  void on_send(uint64_t id, const std::string& ns, const std::vector<char>& msg,
               std::vector<char>& out) override;
  void on_query(wire::frame_type type, uint64_t id, const std::string& ns,
                std::vector<char>& out) override;
  bool on_ping() override;
};

struct connection_state : std::enable_shared_from_this<connection_state> {
  caf::io::connection_handle hdl;
  std::shared_ptr<catalog> cat;
  std::shared_ptr<const catalog::table> table;
  uint64_t table_version = 0;
  wire_options opts;
  bool log_calls = false;
  std::string peer;      // host:port of the client, for logs
  std::string peer_host; // its address alone
  connection_callee callee;
  wire::server_protocol proto; // frames in, frames out: the protocol itself
  bool closing = false;
  // Backpressure: bytes handed to the socket and bytes it wrote. Past one
  // frame cap still unwritten, the connection stops reading until the peer
  // has read half of it: a peer that never reads its replies cannot make the
  // server buffer more.
  uint64_t queued = 0;
  uint64_t written = 0;
  bool halted = false;
  eager_flush writer;    // sends from this broker's turn (eager_flush.hpp)
  size_t read_start = 0; // the output buffer's size when the current read began
  clock::time_point last_heard = clock::now();
  // TLS: frames are written to `plain_out` and sealed into the socket's
  // buffer; what arrives is opened into `plain_in` before it is framed.
  std::unique_ptr<tls_session> tls;
  std::vector<char> plain_out;
  std::vector<char> plain_in;
  bool first_bytes = true;
  int wrong_tokens = 0; // a connection sending more than a few is closed
  int64_t owed = 0;     // answers this connection still owes (the catalog's count)
  // Pings without calls in flight: a bucket of `ping_burst` that refills
  // one per slacker.min-ping-interval, as of `ping_refill`.
  double ping_tokens = 5;
  clock::time_point ping_refill = clock::now();
  // A call or a message arrived since the last ping: that ping is no
  // strike and the bucket is full again (gRPC resets its strikes on data).
  bool data_since_ping = false;
  std::shared_ptr<metrics::link_counts> link; // for the portal, or null
  // Budgets: what this connection charged to the server's count of buffered
  // bytes; when the frame under way began (or last made progress); whether
  // its TLS handshake is still counted.
  int64_t charged = 0;
  // Calls on the pool: set once this connection is gone (they are dropped);
  // their functions' cost records by sequence number.
  std::shared_ptr<std::atomic<bool>> gone = std::make_shared<std::atomic<bool>>(false);
  struct offloaded_call {
    inline_cost* cost;
    metrics::call_counts* counts; // null without metrics
    std::string ns;
    std::string fn;
    clock::time_point start;
  };
  std::unordered_map<uint64_t, offloaded_call> offloaded;
  uint64_t next_offload = 0;
  // This turn: when it began, frames taken; `yielded` once it gave way.
  clock::time_point turn_start{};
  clock::time_point last_now{}; // when the last inline call ended (or earlier)
  size_t turn_frames = 0;
  const function_entry* last_fn = nullptr; // the cost record of the last function
  inline_cost* last_cost = nullptr;
  bool yielded = false;
  clock::time_point frame_since{};
  uint64_t frame_mark = 0;
  bool frame_timer = false;
  bool handshaking = false;

  connection_state(caf::io::broker* self, caf::io::connection_handle h,
                   std::shared_ptr<catalog> c, wire_options o, bool log)
    : hdl(h), cat(std::move(c)), opts(o), log_calls(log), callee(self),
      proto(callee, o.max_message_size) {
    callee.st = this;
  }

  connection_state(const connection_state&) = delete;
  connection_state& operator=(const connection_state&) = delete;

  const catalog::table& current() {
    auto v = cat->version();
    if (v != table_version) {
      table = cat->get();
      table_version = v;
    }
    return *table;
  }
};

using state_ptr = std::shared_ptr<connection_state>;

/// Counts an answer owed (+1) or given (-1), here and in the catalog's total.
void owe(connection_state& st, int64_t n) {
  st.owed += n;
  if (st.link)
    st.link->in_flight.store(st.owed, std::memory_order_relaxed);
  st.cat->owed.fetch_add(n, std::memory_order_relaxed);
}

/// Compares the digests, in constant time: neither the content nor the
/// length of the token leaks through timing.
bool tokens_equal(const std::vector<char>& given, const std::string& expected) {
  unsigned char a[SHA256_DIGEST_LENGTH];
  unsigned char b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), b);
  return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

/// Where frames are written: the socket's buffer, or the plaintext that TLS
/// seals into it.
std::vector<char>& out(caf::io::broker* self, connection_state& st) {
  return st.tls ? st.plain_out : self->wr_buf(st.hdl);
}

/// Encrypts the frames written since the last call (TLS only); a TLS
/// session that cannot write any more ends the connection.
bool seal(caf::io::broker* self, connection_state& st) {
  if (!st.tls || st.plain_out.empty())
    return true;
  auto ok = st.tls->write(st.plain_out.data(), st.plain_out.size(), self->wr_buf(st.hdl));
  st.plain_out.clear();
  if (!ok && !st.closing) {
    spdlog::debug("slacker server: connection from {}: {}", st.peer, st.tls->error());
    st.closing = true;
    self->close(st.hdl);
    self->quit();
  }
  return ok;
}

/// Ends the connection for `why`: the protocol has written the error frame
/// for the peer (unless the peer closed it), which goes out first.
void end_with(caf::io::broker* self, connection_state& st,
              const wire::close_reason& why) {
  if (st.closing)
    return;
  if (why.by_peer)
    spdlog::debug("slacker server: {} closed the connection: {}", st.peer,
                  excerpt(why.text));
  else
    spdlog::debug("slacker server: closing connection from {}: {}: {}", st.peer,
                  wire::to_string(why.code), why.text);
  if (self->valid(st.hdl)) {
    if (!why.by_peer)
      seal(self, st);
    st.closing = true;
    self->flush(st.hdl);
    self->close(st.hdl); // unwritten data is still sent
  }
  st.closing = true;
  self->quit();
}

/// Where the frame that closes a connection goes: to the peer, unless a TLS
/// handshake is still under way (nothing can be said to it then).
std::vector<char>& closing_buf(caf::io::broker* self, connection_state& st) {
  static thread_local std::vector<char> unsaid;
  if (st.tls && !st.tls->established()) {
    unsaid.clear();
    return unsaid;
  }
  return out(self, st);
}

/// Closes for a reason of this side (idle, handshake): tells the peer why.
void close_with(caf::io::broker* self, connection_state& st, wire::close_code code,
                const std::string& text) {
  if (st.closing)
    return;
  end_with(self, st, st.proto.close(closing_buf(self, st), code, text));
}

/// `n` bytes of this connection left for the peer: sent from the turn, or
/// written by CAF.
void sent(connection_state& st, size_t n) {
  st.written += n;
  if (st.link && n > 0)
    st.link->moved(0, n);
}

/// A connection whose frames wait for its output (paused between frames of
/// a read) and whose output went out without halting its reads: nothing
/// else would resume it, so the rest of its frames follow after the other
/// connections' turns.
void output_sent(caf::io::broker* self, connection_state& st) {
  if (st.closing || st.halted || st.yielded || !st.proto.paused() ||
      st.offloaded.size() >= max_offloaded)
    return;
  st.yielded = true;
  self->send(self, next_turn_atom::value);
}

/// Counts the bytes written into the socket's buffer since it held `before`
/// (CAF keeps unflushed bytes there while a write is under way), sends them
/// (now, or with the turn's other replies: `soon`) and stops reading when
/// too many are still unwritten.
void account_output(caf::io::broker* self, connection_state& st, size_t before,
                    bool soon = false) {
  st.queued += self->wr_buf(st.hdl).size() - before;
  if (soon)
    st.writer.soon(self); // one write for the turn's replies
  else
    sent(st, st.writer(self, st.hdl));
  if (!st.halted && st.queued - st.written > st.opts.max_message_size) {
    st.halted = true;
    self->halt(st.hdl);
  }
  if (!soon)
    output_sent(self, st);
}

/// Writes a frame produced outside the data handler, where CAF flushes by
/// itself; writes to a closed handle would only grow a buffer nobody drains.
template <class F> void write_now(caf::io::broker* self, connection_state& st, F f) {
  if (st.closing || !self->valid(st.hdl))
    return;
  auto before = self->wr_buf(st.hdl).size();
  f(out(self, st));
  if (!seal(self, st))
    return;
  account_output(self, st, before, true);
}

void write_reply_frame(caf::io::broker* self, connection_state& st,
                       const call_reply& rep) {
  write_now(self, st, [&](std::vector<char>& buf) { st.proto.write_reply(buf, rep); });
}

void write_send_reply(caf::io::broker* self, connection_state& st, uint64_t id,
                      const caf::message* msg, const caf::error& err) {
  write_now(self, st, [&](std::vector<char>& buf) {
    std::vector<char> bytes;
    std::string why;
    if (msg)
      why = save_message(self->home_system(), *msg, bytes);
    auto cap = st.proto.cap();
    if (msg && why.empty() && bytes.size() + 64 > cap)
      wire::write_send_error(
          buf, id,
          make_error(sc::too_large, "a reply of " + std::to_string(bytes.size()) +
                                        " bytes is larger than the limit of " +
                                        std::to_string(cap) +
                                        " bytes (slacker.max-message-size)"));
    else if (msg && why.empty())
      wire::write_send_reply(buf, id, bytes);
    else
      wire::write_send_error(
          buf, id,
          msg ? make_error(sc::codec_error, "the reply cannot be sent: " + why) : err);
  });
}

/// Delivers one typed message to the actor serving a namespace and carries
/// what it answers back to the connection. A plain send, so the actor answers
/// as it would to a remote sender; the answer is whatever arrives from it.
caf::behavior send_helper(caf::event_based_actor* self, caf::actor handler,
                          caf::message msg, caf::actor conn, uint64_t id,
                          std::string ns) {
  self->monitor(handler);
  self->monitor(conn); // nobody waits for the answer once the connection is gone
  self->send(handler, std::move(msg));
  auto from_handler = [self, handler] {
    return self->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(handler);
  };
  self->set_default_handler(
      [=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
        if (from_handler()) {
          self->send(conn, forward_atom::value, id, x.move_content_to_message());
          self->quit();
        }
        return caf::delegated<caf::message>{};
      });
  self->set_error_handler([=](caf::scheduled_actor*, caf::error& err) {
    // The actor's own errors, in slacker's words: it ran (not a broken
    // connection, which would invite a retry).
    if (code_of(err) == sc::none)
      err = err == caf::sec::unexpected_message
                ? make_error(sc::not_found,
                             "the actor serving " + ns + " takes no such message")
                : make_error(sc::exception,
                             "the actor serving " + ns + " answered " + describe(err));
    self->send(conn, forward_atom::value, id, std::move(err));
    self->quit();
  });
  self->set_down_handler([=](caf::scheduled_actor*, caf::down_msg& down) {
    if (down.source == conn.address()) {
      self->quit();
      return;
    }
    self->send(
        conn, forward_atom::value, id,
        make_error(sc::connection_broken, "the actor serving " + ns + " went down"));
    self->quit();
  });
  return {
      [](tick_atom) {
        // never sent: a behavior keeps the helper alive until the answer
      },
  };
}

/// Whether the caller may run a guarded (operator's) function: it carries the
/// manager token, compared in constant time, or (no token configured) it
/// calls from this host.
int64_t steady_ns();

caf::error authorize(connection_state& st, const call_request& req) {
  auto what = req.ns + "/" + req.fn;
  if (st.opts.manager_token.empty()) {
    if (is_loopback(st.peer_host))
      return {};
    return make_error(sc::forbidden, what +
                                         " is only open to callers on the server's host "
                                         "(the server has no slacker.manager.token)");
  }
  auto i = req.ext.find(manager_token_ext);
  if (i == req.ext.end())
    return make_error(sc::forbidden, what +
                                         " needs the manager token (--manager-token or "
                                         "SLACKER_MANAGER_TOKEN)");
  if (!tokens_equal(i->second, st.opts.manager_token)) {
    ++st.wrong_tokens;
    // One line a second at most, process-wide: guessing must not flood the log.
    static std::atomic<int64_t> last_line{0};
    static std::atomic<uint64_t> unsaid{0};
    auto now = steady_ns();
    auto last = last_line.load(std::memory_order_relaxed);
    if (now - last >= 1'000'000'000 &&
        last_line.compare_exchange_strong(last, now, std::memory_order_relaxed))
      spdlog::warn("slacker server: {} sent a wrong manager token for {} ({} more since "
                   "the last line)",
                   st.peer, printable(what), unsaid.exchange(0));
    else
      unsaid.fetch_add(1, std::memory_order_relaxed);
    return make_error(sc::forbidden, what + ": wrong manager token");
  }
  return {};
}

/// The server is stopping: the call is answered `draining`, not run, so that
/// its client sends it to another server.
call_reply draining_reply(const call_request& req) {
  return error_reply(
      req, make_error(sc::draining, excerpt(req.ns + "/" + req.fn) +
                                        " was not run: the server is stopping"));
}

std::string mib(size_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

/// After each read: charges what the frame reader holds to the server's
/// budget for incomplete frames (closing this connection when it grows past
/// it), counts a finished TLS handshake, and watches the frame deadline.
void after_read(caf::io::broker* self, connection_state& st) {
  if (st.handshaking && st.tls && st.tls->established()) {
    st.handshaking = false;
    st.cat->handshakes.fetch_sub(1, std::memory_order_relaxed);
  }
  auto held = static_cast<int64_t>(st.proto.held());
  auto total = st.cat->buffered.fetch_add(held - st.charged, std::memory_order_relaxed) +
               held - st.charged;
  st.charged = held;
  auto incomplete = st.proto.buffered() > 0 && !st.proto.paused();
  if (incomplete && total > static_cast<int64_t>(st.opts.max_buffered_bytes)) {
    spdlog::warn("slacker server: closing {}: incomplete frames of all connections hold "
                 "{}, past slacker.max-buffered-bytes ({}); it held {}",
                 st.peer, mib(static_cast<size_t>(total)),
                 mib(st.opts.max_buffered_bytes), mib(static_cast<size_t>(held)));
    close_with(self, st, wire::close_code::overloaded,
               "the server's memory for incomplete frames is spent "
               "(slacker.max-buffered-bytes); try again later");
    return;
  }
  if (!incomplete) {
    st.frame_since = clock::time_point{};
    return;
  }
  if (st.frame_since == clock::time_point{} || st.proto.frames() != st.frame_mark) {
    st.frame_since = clock::now();
    st.frame_mark = st.proto.frames();
    if (!st.frame_timer) {
      st.frame_timer = true;
      self->delayed_send(self, st.opts.frame_timeout, frame_timer_atom::value);
    }
  }
}

uint64_t micros_since(clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start)
          .count());
}

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             clock::now().time_since_epoch())
      .count();
}

/// Runs a non-blocking call on the worker pool (not measured cheap yet, or
/// large arguments): the network thread stays free for everyone else. The
/// reply comes back as `offloaded_atom` with the run time.
void offload(caf::io::broker* self, const state_ptr& sp, const catalog::entry& entry,
             call_request& req, inline_cost& cost) {
  auto& st = *sp;
  auto seq = st.next_offload++;
  auto me = caf::actor_cast<caf::actor>(self);
  auto shell = error_reply(req, caf::error{});
  auto what = entry.functions->name() + "/" + req.fn;
  pool_job job;
  job.bytes = req.args.size();
  job.deadline_ns = req.deadline_ns;
  job.gone = st.gone;
  job.drop = [me, seq, shell, what](job_refusal why) mutable {
    shell.err = refusal_error(what, why);
    caf::anon_send(me, offloaded_atom::value, seq, std::move(shell), int64_t{-1},
                   uint64_t{0}, std::vector<char>{});
  };
  auto args = req.args.size();
  auto counts =
      metrics::enabled() ? &metrics::served(entry.functions->name(), req.fn) : nullptr;
  connection_state::offloaded_call kept{&cost, counts, entry.functions->name(),
                                        st.log_calls ? req.fn : std::string{},
                                        clock::now()};
  job.run = [me, seq, fns = entry.functions, req = std::move(req), args,
             cap = st.proto.cap()]() mutable {
    auto& delay = this_thread_run_delay();
    auto start = clock::now();
    delay.mark(start);
    auto rep = run_call(*fns, req);
    auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(
        delay.charged(start, clock::now(), inline_cost::cheap));
    // A large result is framed here, on the worker: the network thread only
    // hands the frame to the socket (no copy into fresh pages there).
    std::vector<char> frame;
    if (rep.result.size() >= large_reply) {
      wire::write_reply_within(frame, rep, cap);
      rep.result.clear();
    }
    worker_pool::answering();
    caf::anon_send(me, offloaded_atom::value, seq, std::move(rep),
                   static_cast<int64_t>(took.count()), uint64_t{args}, std::move(frame));
  };
  auto why = st.cat->pool->submit(std::move(job));
  if (why != job_refusal::none) {
    shell.err = refusal_error(what, why);
    st.proto.write_reply(out(self, st), shell);
    return;
  }
  if (counts)
    counts->in_flight.fetch_add(1, std::memory_order_relaxed);
  st.offloaded.emplace(seq, std::move(kept));
  owe(st, +1);
}

void on_call(caf::io::broker* self, const state_ptr& sp, call_request& req) {
  auto& st = *sp;
  st.cat->last_arrival.store(steady_ns(), std::memory_order_relaxed);
  if (st.cat->draining()) {
    st.proto.write_reply(out(self, st), draining_reply(req));
    return;
  }
  auto& table = st.current();
  auto i = table.find(req.ns);
  if (i == table.end()) {
    st.proto.write_reply(
        out(self, st),
        error_reply(req, make_error(sc::not_found, "no namespace " + excerpt(req.ns))));
    return;
  }
  auto& entry = i->second;
  if (entry.functions) {
    auto f = entry.functions->functions().find(req.fn);
    if (f != entry.functions->functions().end() && f->second.guarded) {
      if (auto err = authorize(st, req)) {
        st.proto.write_reply(out(self, st), error_reply(req, std::move(err)));
        if (st.wrong_tokens >= max_wrong_tokens)
          st.proto.close(out(self, st), wire::close_code::unauthorized,
                         std::to_string(st.wrong_tokens) + " wrong manager tokens");
        return;
      }
    }
    if (f == entry.functions->functions().end()) {
      st.proto.write_reply(out(self, st), run_call(*entry.functions, req)); // not_found
      return;
    }
    if (!f->second.info.blocking) {
      if (st.last_fn != &f->second) { // most calls repeat the last function
        st.last_fn = &f->second;
        st.last_cost = &st.cat->costs[&f->second];
      }
      auto& cost = *st.last_cost;
      auto mode = st.cat->inlining;
      auto args = req.args.size();
      if (mode == catalog::inline_mode::never ||
          (mode == catalog::inline_mode::automatic && !cost.runs_inline(args)))
        return offload(self, sp, entry, req, cost);
      // The fast path: run inline, reply from the data handler.
      auto counts = metrics::enabled() ? &metrics::served(entry.functions->name(), req.fn)
                                       : nullptr;
      auto& delay = this_thread_run_delay();
      auto start = clock::now();
      delay.mark(start, cost.recheck);
      auto rep = run_call(*entry.functions, req);
      auto end = clock::now();
      st.last_now = end;
      auto took = delay.charged(start, end, inline_cost::cheap);
      if (cost.ran(took, true, args, end)) { // once per penalty
        if (counts)
          counts->sent_to_workers.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn(
            "slacker server: {}/{} held the network thread {} us; it runs on the "
            "workers for the next {} s (not marked blocking)",
            entry.functions->name(), req.fn,
            std::chrono::duration_cast<std::chrono::microseconds>(took).count(),
            std::chrono::duration_cast<std::chrono::seconds>(cost.demoted_until - end)
                .count());
      }
      if (st.log_calls)
        log_call(entry.functions->name(), req.fn, st.peer, start, rep);
      if (counts)
        counts->record(micros_since(start), rep.err);
      st.proto.write_reply(out(self, st), rep);
      return;
    }
  }
  // Blocking functions go to their namespace actor (worker pool, drain);
  // namespaces served by user actors get the request as it is.
  auto id = req.id;
  auto codec = req.codec;
  auto ext = req.ext;
  // Functions of a namespace are counted (metrics); a user actor's are not
  // known, and a peer's names are not to grow the table.
  auto counts = metrics::enabled() && entry.functions &&
                        entry.functions->functions().count(req.fn) > 0
                    ? &metrics::served(entry.functions->name(), req.fn)
                    : nullptr;
  auto fn = st.log_calls ? req.fn : std::string{};
  auto start = st.log_calls || counts ? clock::now() : clock::time_point{};
  if (counts)
    counts->in_flight.fetch_add(1, std::memory_order_relaxed);
  owe(st, +1);
  self->request(entry.handler, caf::infinite, std::move(req))
      .then(
          [self, sp, fn, start, counts, ns = i->first](call_reply& rep) {
            owe(*sp, -1);
            if (sp->log_calls)
              log_call(ns, fn, sp->peer, start, rep);
            if (counts) {
              counts->in_flight.fetch_sub(1, std::memory_order_relaxed);
              counts->record(micros_since(start), rep.err);
            }
            write_reply_frame(self, *sp, rep);
          },
          [self, sp, id, codec, ext, fn, start, counts, ns = i->first](caf::error& err) {
            owe(*sp, -1);
            call_reply rep;
            rep.id = id;
            rep.codec = codec;
            rep.ext = ext;
            if (code_of(err) != sc::none)
              rep.err = err;
            else if (err == caf::sec::unexpected_message ||
                     err == caf::sec::unexpected_response) // e.g. reflected
              rep.err = make_error(
                  sc::not_found,
                  ns + " is served by a CAF actor that takes typed messages, not "
                       "function calls: send them with cluster_client::ask, "
                       "client::ask or client::lookup (docs/guide.md, \"Serving an "
                       "actor\")");
            else
              rep.err =
                  make_error(sc::connection_broken,
                             "the actor serving " + ns + " failed: " + describe(err));
            if (sp->log_calls)
              log_call(ns, fn, sp->peer, start, rep);
            if (counts) {
              counts->in_flight.fetch_sub(1, std::memory_order_relaxed);
              counts->record(micros_since(start), rep.err);
            }
            write_reply_frame(self, *sp, rep);
          });
}

void on_send(caf::io::broker* self, const state_ptr& sp, uint64_t id,
             const std::string& ns, const std::vector<char>& bytes) {
  auto& st = *sp;
  st.cat->last_arrival.store(steady_ns(), std::memory_order_relaxed);
  if (st.cat->draining()) {
    write_send_reply(
        self, st, id, nullptr,
        make_error(sc::draining, "a message to " + excerpt(ns) +
                                     " was not delivered: the server is stopping"));
    return;
  }
  auto& table = st.current();
  auto i = table.find(ns);
  if (i == table.end()) {
    write_send_reply(self, st, id, nullptr,
                     make_error(sc::not_found, "no namespace " + excerpt(ns)));
    return;
  }
  caf::message msg;
  if (auto why = load_message(self->home_system(), bytes, msg); !why.empty()) {
    write_send_reply(
        self, st, id, nullptr,
        make_error(sc::codec_error,
                   "a message to " + ns + " cannot be read by the server: " + why));
    return;
  }
  owe(st, +1);
  self->spawn(send_helper, i->second.handler, std::move(msg),
              caf::actor_cast<caf::actor>(self), id, ns);
}

/// Pings on a connection with no call in flight and none since the last
/// ping are taken at most one per `slacker.min-ping-interval` on average,
/// with a burst of 5 (pings that queued while this server was busy arrive
/// together); one more closes the connection (gRPC's ping strikes,
/// GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, reset by data).
/// While calls are in flight, pings are what finds a frozen server: always
/// answered; a call since the last ping refills the bucket (one call at a
/// time is often answered before the ping that watched it arrives). A
/// client pings an idle server only while someone watches reachability,
/// every 500 ms.
bool connection_callee::on_ping() {
  constexpr double burst = 5;
  auto now = clock::now();
  auto min = std::chrono::duration<double>(st->opts.min_ping_interval).count();
  if (min > 0)
    st->ping_tokens = std::min(
        burst, st->ping_tokens +
                   std::chrono::duration<double>(now - st->ping_refill).count() / min);
  st->ping_refill = now;
  if (std::exchange(st->data_since_ping, false)) {
    st->ping_tokens = burst;
    return true;
  }
  if (st->owed > 0 || min <= 0)
    return true;
  if (st->ping_tokens < 1) {
    spdlog::warn(
        "slacker server: closing the connection of {}: it pings more often than "
        "every {} ms with no call in flight",
        st->peer,
        std::chrono::duration_cast<std::chrono::milliseconds>(st->opts.min_ping_interval)
            .count());
    return false;
  }
  st->ping_tokens -= 1;
  return true;
}

void connection_callee::on_call(call_request& req, std::vector<char>& out) {
  st->data_since_ping = true;
  if (st->link)
    st->link->calls.fetch_add(1, std::memory_order_relaxed);
  slacker::on_call(self, st->shared_from_this(), req);
  // Backpressure between frames of one read: once the replies not yet
  // written pass one frame cap, the next frame waits (docs/protocol.md).
  auto pending = out.size() - std::min(out.size(), st->read_start);
  if (st->queued - st->written + pending > st->opts.max_message_size ||
      st->offloaded.size() >= max_offloaded) {
    st->proto.pause();
    return;
  }
  // One turn: the other connections get theirs after a bounded slice.
  // The time the last inline call ended stands for now (no second clock read).
  auto now = st->last_now > st->turn_start ? st->last_now : clock::now();
  if (++st->turn_frames >= frames_per_turn || now - st->turn_start >= turn_length) {
    st->proto.pause();
    st->yielded = true;
  }
}

void connection_callee::on_send(uint64_t id, const std::string& ns,
                                const std::vector<char>& msg, std::vector<char>&) {
  st->data_since_ping = true;
  slacker::on_send(self, st->shared_from_this(), id, ns, msg);
}

void connection_callee::on_query(wire::frame_type type, uint64_t id,
                                 const std::string& ns, std::vector<char>& out) {
  auto& table = st->current();
  auto i = table.find(ns);
  if (type == wire::frame_type::lookup) {
    if (i != table.end())
      wire::write_lookup_reply(
          out, id, i->second.functions ? wire::ns_kind::functions : wire::ns_kind::actor);
    else
      wire::write_query_error(out, wire::frame_type::lookup_reply, id,
                              make_error(sc::not_found, "no namespace " + excerpt(ns)));
  } else if (ns.empty()) {
    std::vector<std::string> names;
    for (auto& kvp : table)
      names.push_back(kvp.first);
    wire::write_inspect_reply(out, id, names);
  } else if (i != table.end()) {
    wire::write_inspect_reply(out, id, i->second.infos);
  } else {
    wire::write_query_error(out, wire::frame_type::inspect_reply, id,
                            make_error(sc::not_found, "no namespace " + excerpt(ns)));
  }
}

/// True when `data` begins like a plaintext `hello` frame.
bool plaintext_hello(const char* data, size_t size) {
  if (size < 9)
    return false;
  auto b = reinterpret_cast<const unsigned char*>(data);
  uint32_t magic = (uint32_t{b[5]} << 24) | (uint32_t{b[6]} << 16) |
                   (uint32_t{b[7]} << 8) | uint32_t{b[8]};
  return b[4] == static_cast<unsigned char>(wire::frame_type::hello) &&
         magic == wire::magic;
}

/// A connection that is refused: says why, reads what the peer sent first
/// (closing with unread bytes would reset the connection before the peer
/// reads the reason), then closes; at the latest after `limit`.
caf::behavior refused_connection(caf::io::broker* self, caf::io::connection_handle hdl,
                                 wire::close_code code, std::string why,
                                 caf::timespan limit) {
  wire::write_close(self->wr_buf(hdl), code, why);
  self->flush(hdl);
  self->configure_read(hdl, caf::io::receive_policy::at_most(wire::read_chunk));
  self->delayed_send(self, limit, handshake_atom::value);
  auto done = [self, hdl] {
    if (self->valid(hdl))
      self->close(hdl);
    self->quit();
  };
  return {
      [=](caf::io::new_data_msg&) { done(); },
      [=](caf::io::connection_closed_msg&) { self->quit(); },
      [=](handshake_atom) { done(); },
  };
}

void arm_idle_check(caf::io::broker* self, connection_state& st) {
  auto due = st.last_heard + st.opts.idle_timeout - clock::now();
  // Past due while answers are owed: looked at again every 50 ms.
  self->delayed_send(self, std::max(due, clock::duration{std::chrono::milliseconds{50}}),
                     tick_atom::value);
}

/// A turn that gave way: the rest of its frames after the other connections.
void end_turn(caf::io::broker* self, connection_state& st) {
  if (st.yielded && st.proto.paused() && !st.halted)
    self->send(self, next_turn_atom::value);
  else
    st.yielded = false;
}

/// Takes the frames kept while the connection paused (its output backed up,
/// its calls off the network thread at their limit, or its turn given up),
/// once none of that holds it any more.
/// One turn of frames: `next(out)` feeds the protocol or resumes it; then the
/// budgets and the end of the turn. False when the connection is closing.
template <class F> bool take_turn(caf::io::broker* self, connection_state& st, F next) {
  st.read_start = out(self, st).size();
  st.turn_start = clock::now();
  st.turn_frames = 0;
  auto res = next(out(self, st));
  if (st.closing)
    return false;
  if (res) {
    end_with(self, st, *res);
    return false;
  }
  after_read(self, st);
  if (st.closing)
    return false;
  end_turn(self, st);
  return true;
}

void take_frames(caf::io::broker* self, connection_state& st) {
  if (st.closing || st.halted || !st.proto.paused() ||
      st.offloaded.size() >= max_offloaded)
    return;
  auto before = self->wr_buf(st.hdl).size();
  if (!take_turn(self, st, [&](std::vector<char>& buf) { return st.proto.resume(buf); }))
    return;
  if (!seal(self, st))
    return;
  account_output(self, st, before);
}

/// Reads again once half of what halted them is written.
void drained(caf::io::broker* self, connection_state& st) {
  if (st.closing || !st.halted || st.queued - st.written > st.opts.max_message_size / 2)
    return;
  st.halted = false;
  // The frames kept from the read that filled the output, first.
  take_frames(self, st);
  if (!st.halted && !st.closing)
    self->trigger(st.hdl);
}

} // namespace

caf::behavior server_connection(caf::io::broker* self, caf::io::connection_handle hdl,
                                std::shared_ptr<catalog> cat, wire_options opts,
                                bool log_calls) {
  auto sp =
      std::make_shared<connection_state>(self, hdl, std::move(cat), opts, log_calls);
  if (opts.tls) {
    sp->tls = std::make_unique<tls_session>(*opts.tls, true);
    sp->handshaking = true; // counted by the acceptor, in the order of arrival
  }
  sp->peer_host = self->remote_addr(hdl);
  // An IPv4 peer on a dual-stack socket: said as IPv4 (::ffff:127.0.0.1).
  if (sp->peer_host.rfind("::ffff:", 0) == 0 &&
      sp->peer_host.find('.') != std::string::npos)
    sp->peer_host.erase(0, 7);
  sp->peer = sp->peer_host + ":" + std::to_string(self->remote_port(hdl));
  int one = 1;
  ::setsockopt(static_cast<int>(hdl.id()), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  self->configure_read(hdl, caf::io::receive_policy::at_most(wire::read_chunk));
  self->ack_writes(hdl, true);
  self->delayed_send(self, opts.handshake_timeout, handshake_atom::value);
  arm_idle_check(self, *sp);
  sp->link = metrics::track_link("in", sp->peer, "", opts.tls != nullptr);
  // A connection that ends owes nothing any more.
  self->attach_functor([sp](const caf::error&) {
    sp->link.reset(); // off the portal's list
    sp->gone->store(true, std::memory_order_relaxed);
    if (!sp->offloaded.empty() && sp->cat->pool)
      sp->cat->pool->purge(); // what its calls held in the queue goes now
    owe(*sp, -sp->owed);
    sp->cat->buffered.fetch_sub(sp->charged, std::memory_order_relaxed);
    if (sp->handshaking)
      sp->cat->handshakes.fetch_sub(1, std::memory_order_relaxed);
  });
  return {
      [self, sp](caf::io::new_data_msg& msg) {
        auto& st = *sp;
        if (st.closing)
          return;
        st.last_heard = clock::now();
        if (st.link)
          st.link->moved(msg.buf.size(), 0);
        auto before = self->wr_buf(st.hdl).size();
        const char* data = msg.buf.data();
        size_t size = msg.buf.size();
        if (st.tls) {
          if (st.first_bytes && plaintext_hello(data, size)) {
            // A client without TLS: tell it so, in words it can read.
            wire::write_close(self->wr_buf(st.hdl), wire::close_code::bad_hello,
                              "this server requires TLS (slacker.tls.*)");
            st.closing = true;
            self->flush(st.hdl);
            self->close(st.hdl);
            self->quit();
            return;
          }
          st.first_bytes = false;
          st.plain_in.clear();
          if (!st.tls->feed(data, size, st.plain_in, self->wr_buf(st.hdl))) {
            // No frame of this peer was ever taken before its certificate
            // was verified; the alert explaining why goes out first.
            spdlog::debug("slacker server: refused {}: {}", st.peer, st.tls->error());
            st.closing = true;
            self->flush(st.hdl);
            self->close(st.hdl);
            self->quit();
            return;
          }
          data = st.plain_in.data();
          size = st.plain_in.size();
        }
        if (!take_turn(self, st, [&](std::vector<char>& buf) {
              return st.proto.feed(data, size, buf);
            }))
          return;
        if (seal(self, st))
          account_output(self, st, before); // sent now: CAF's own flush finds nothing
      },
      [self, sp](next_turn_atom) {
        sp->yielded = false;
        take_frames(self, *sp);
      },
      [self, sp](offloaded_atom, uint64_t seq, call_reply& rep, int64_t took_ns,
                 uint64_t args, std::vector<char>& frame) {
        auto& st = *sp;
        owe(st, -1);
        auto i = st.offloaded.find(seq);
        if (i == st.offloaded.end())
          return;
        auto& c = i->second;
        if (took_ns >= 0)
          c.cost->ran(std::chrono::nanoseconds{took_ns}, false, args, clock::now());
        if (st.log_calls)
          log_call(c.ns, c.fn, st.peer, c.start, rep);
        if (c.counts) {
          c.counts->in_flight.fetch_sub(1, std::memory_order_relaxed);
          c.counts->record(micros_since(c.start), rep.err);
        }
        st.offloaded.erase(i);
        if (frame.empty())
          write_reply_frame(self, st, rep);
        else
          write_now(self, st, [&](std::vector<char>& buf) {
            if (buf.empty())
              buf.swap(frame); // the worker's pages, as they are
            else
              buf.insert(buf.end(), frame.begin(), frame.end());
          });
        take_frames(self, st); // if it waited for room off the network thread
      },
      [self, sp](frame_timer_atom) {
        auto& st = *sp;
        st.frame_timer = false;
        if (st.closing || st.frame_since == clock::time_point{})
          return;
        auto due = st.frame_since + st.opts.frame_timeout;
        auto now = clock::now();
        if (now < due) {
          st.frame_timer = true;
          self->delayed_send(self, due - now, frame_timer_atom::value);
          return;
        }
        close_with(
            self, st, wire::close_code::frame_timeout,
            "a frame was not complete within " +
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   st.opts.frame_timeout)
                                   .count()) +
                " ms (slacker.frame-timeout)");
      },
      [self, sp](caf::io::data_transferred_msg& msg) {
        auto& st = *sp;
        st.writer.transferred(msg.remaining);
        sent(st, msg.written);
        drained(self, st);
      },
      [self, sp](flush_atom) {
        auto& st = *sp;
        st.writer.arrived();
        if (st.closing || !self->valid(st.hdl))
          return;
        sent(st, st.writer(self, st.hdl));
        drained(self, st);
        output_sent(self, st);
      },
      [self, sp](caf::io::connection_closed_msg&) {
        sp->closing = true;
        self->quit();
      },
      [self, sp](handshake_atom) {
        auto& st = *sp;
        if (st.closing)
          return;
        if (auto why = st.proto.handshake_expired(closing_buf(self, st)))
          end_with(self, st, *why);
      },
      [self, sp](tick_atom) {
        auto& st = *sp;
        if (st.closing)
          return;
        // Idle: nothing heard, and nothing this side still owes the peer
        // (answers under way, frames kept back while its output drains).
        if (clock::now() - st.last_heard >= st.opts.idle_timeout && st.owed == 0 &&
            !st.proto.paused()) {
          close_with(
              self, st, wire::close_code::idle_timeout,
              "nothing received for " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     st.opts.idle_timeout)
                                     .count()) +
                  " ms");
          return;
        }
        arm_idle_check(self, st);
      },
      // The answer of a typed message, from its helper.
      [self, sp](forward_atom, uint64_t id, caf::message& msg) {
        owe(*sp, -1);
        write_send_reply(self, *sp, id, &msg, caf::error{});
      },
      [self, sp](forward_atom, uint64_t id, caf::error& err) {
        owe(*sp, -1);
        write_send_reply(self, *sp, id, nullptr, err);
      },
      // The server stops gracefully: tell the client.
      [self, sp](going_away_atom) {
        write_now(self, *sp, [](std::vector<char>& buf) {
          wire::write_going_away(buf, "the server is stopping");
        });
      },
  };
}

caf::behavior server_acceptor(caf::io::broker* self, caf::io::doorman_ptr door,
                              std::shared_ptr<catalog> cat, wire_options opts,
                              bool log_calls) {
  auto listening = door->hdl();
  self->add_doorman(std::move(door));
  auto conns = std::make_shared<std::set<caf::actor>>();
  auto last_warned = std::make_shared<clock::time_point>();
  auto last_full = std::make_shared<clock::time_point>();
  // Connections end with their acceptor (a link would also end the acceptor
  // when a connection fails).
  self->attach_functor([conns](const caf::error&) {
    for (auto& c : *conns)
      caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  });
  self->set_down_handler([conns](caf::scheduled_actor*, caf::down_msg& msg) {
    for (auto i = conns->begin(); i != conns->end(); ++i)
      if (i->address() == msg.source) {
        conns->erase(i);
        return;
      }
  });
  // Near the descriptor limit it stops accepting (CAF's acceptor would retry a
  // failing accept at once, spinning) and looks for free descriptors every
  // 100 ms: its own timer, outside the front's interface.
  rlimit lim{};
  int64_t nofile = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY
                       ? static_cast<int64_t>(lim.rlim_cur)
                       : 0;
  auto accepting = std::make_shared<bool>(true);
  self->set_default_handler([=](caf::scheduled_actor*,
                                caf::message_view& x) -> caf::result<caf::message> {
    auto& xs = x.content();
    if (xs.match_elements<caf::atom_value>() &&
        xs.get_as<caf::atom_value>(0) == fd_check_atom::value && !*accepting) {
      auto probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      auto room = probe >= 0 && probe < nofile - 2 * fd_reserve;
      if (probe >= 0)
        ::close(probe);
      if (room) {
        *accepting = true;
        self->trigger(listening);
        spdlog::info("slacker server: descriptors free again: accepting connections");
      } else {
        self->delayed_send(self, std::chrono::milliseconds{100}, fd_check_atom::value);
      }
    }
    return caf::message{};
  });
  // An untyped broker (it forks untyped connection brokers) running the
  // front's interface, checked by the compiler.
  return front_actor_type::behavior_type{
      [=](const caf::io::new_connection_msg& msg) {
        if (nofile > 0 && static_cast<int64_t>(msg.handle.id()) >= nofile - fd_reserve &&
            *accepting) {
          // Descriptors are handed out lowest first: this one says few are left.
          *accepting = false;
          self->halt(listening);
          spdlog::warn("slacker server: near the descriptor limit ({}): not accepting "
                       "connections until some close",
                       nofile);
          self->delayed_send(self, std::chrono::milliseconds{100}, fd_check_atom::value);
        }
        if (!opts.tls && !opts.insecure && !is_loopback(self->remote_addr(msg.handle))) {
          // Plaintext is for loopback only (docs/security.md).
          // One line a minute at most: refusals must not flood the log.
          if (clock::now() - *last_warned > std::chrono::minutes{1}) {
            *last_warned = clock::now();
            spdlog::warn("slacker server: refused a plaintext connection from {}: not on "
                         "loopback; configure TLS (slacker.tls.*) or slacker.insecure",
                         self->remote_addr(msg.handle));
          }
          self->fork(
              refused_connection, msg.handle, wire::close_code::bad_hello,
              std::string{"this server takes plaintext connections from loopback only"},
              opts.handshake_timeout);
          return;
        }
        if (conns->size() >= opts.max_connections) {
          if (clock::now() - *last_full > std::chrono::minutes{1}) {
            *last_full = clock::now();
            spdlog::warn("slacker server: refusing connections: {} open "
                         "(slacker.max-connections)",
                         conns->size());
          }
          if (opts.tls) {
            self->close(msg.handle); // nothing it could read before TLS
            return;
          }
          self->fork(refused_connection, msg.handle, wire::close_code::overloaded,
                     "the server has " + std::to_string(conns->size()) +
                         " connections, its limit (slacker.max-connections)",
                     caf::timespan{std::chrono::seconds{1}});
          return;
        }
        if (opts.tls && cat->handshakes.load(std::memory_order_relaxed) >=
                            static_cast<int64_t>(opts.max_tls_handshakes)) {
          // Handshakes cost the server more than the peer: a few at a time.
          self->close(msg.handle);
          return;
        }
        if (opts.tls)
          cat->handshakes.fetch_add(1, std::memory_order_relaxed);
        auto conn = self->fork(server_connection, msg.handle, cat, opts, log_calls);
        self->monitor(conn);
        conns->insert(conn);
      },
      [=](going_away_atom) {
        cat->start_draining();
        self->close(listening);
        for (auto& c : *conns)
          self->send(c, going_away_atom::value);
        return true;
      },
  }
      .unbox();
}

} // namespace slacker
