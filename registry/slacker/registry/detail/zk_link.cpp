#include "slacker/registry/detail/zk_link.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/runtime/blocking_request.hpp"

namespace slacker {

void zk_link::open(caf::scheduled_actor* self) {
  before = requests();
  down_since = self->clock().now();
  zk.reset();
  auto gen = ++generation;
  // Runs on the C client's thread: only posts a message.
  auto me = caf::actor_cast<caf::actor>(self);
  auto cb = [me, gen](const zk::event& ev) {
    caf::anon_send(me, zk_event_atom::value, gen, static_cast<uint8_t>(ev.type),
                   static_cast<uint8_t>(ev.state), ev.path);
  };
  auto auth = opts.auth;
  auth.shared_root = opts.root; // /slacker/cluster and /slacker: shared by every identity
  auto res = connect(opts.zk, opts.session_timeout, cb, auth);
  if (!res) {
    backoff = std::min(std::max(backoff * 2, std::chrono::milliseconds{500}),
                       std::chrono::milliseconds{30000});
    spdlog::error("registry: {}; retrying in {} ms", describe(res.error()),
                  backoff.count());
    delayed_weak_send(self, backoff, caf::make_message(retry_atom::value, gen));
    return;
  }
  zk = std::move(*res);
  // One clear line if the ensemble does not answer in time; the client keeps trying.
  delayed_weak_send(self, opts.connect_timeout,
                    caf::make_message(retry_atom::value, gen));
}

bool zk_link::on_retry(caf::scheduled_actor* self, uint64_t gen) {
  if (gen != generation)
    return false;
  if (!zk) {
    open(self);
    return false;
  }
  if (status == registry_status::connected)
    return false;
  auto now = self->clock().now();
  if (status == registry_status::suspended && now - down_since >= session_timeout())
    return true;
  if (now - last_said >= std::chrono::seconds{10} ||
      status == registry_status::connecting) {
    last_said = now;
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(now - down_since);
    spdlog::warn("registry: ZooKeeper at {} still unreachable after {} s; still trying",
                 opts.zk, secs.count());
  }
  delayed_weak_send(self, std::chrono::seconds{10},
                    caf::make_message(retry_atom::value, gen));
  return false;
}

void zk_link::reject(caf::scheduled_actor* self) {
  before = requests();
  zk.reset();
  backoff = std::min(std::max(backoff * 2, std::chrono::milliseconds{500}),
                     std::chrono::milliseconds{30000});
  spdlog::error(
      "registry: {} answered as no ZooKeeper server would (is it one?); retrying in "
      "{} ms",
      opts.zk, backoff.count());
  delayed_weak_send(self, backoff, caf::make_message(retry_atom::value, generation));
}

void zk_link::went_down(caf::scheduled_actor* self) {
  down_since = self->clock().now();
  last_said = down_since;
  // The lost-session check at the session timeout; then a line every 10 s.
  delayed_weak_send(self, session_timeout(),
                    caf::make_message(retry_atom::value, generation));
}

zk::request_counts zk_link::requests() const {
  auto out = before;
  if (zk) {
    out.reads += zk->requests().reads;
    out.writes += zk->requests().writes;
  }
  return out;
}

void zk_link::close() {
  before = requests();
  zk.reset();
  ++generation;
}

int64_t zk_link::view_age_ms() const {
  if (status == registry_status::connected)
    return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() -
                                                               last_current)
      .count();
}

void delayed_weak_send(caf::scheduled_actor* self, caf::timespan delay,
                       caf::message msg) {
  auto target = caf::actor_cast<caf::weak_actor_ptr>(self);
  // Not hidden: the actor system waits for it before it stops its scheduler.
  // Its target's `down_msg` names the target (CAF holds the sender): were the
  // scheduler stopped before the timer took it, the message would keep the
  // target (a detached actor) from being destroyed, and the actor system
  // would wait for the target's thread forever (CAF counts an actor done
  // before it tells its monitors; the rare hang at exit CI caught).
  self->home_system().spawn(
      [target, delay, msg](caf::event_based_actor* timer) -> caf::behavior {
        // It ends with its target. Left waiting for its tick, its last
        // reference would be the clock's: released on the clock's thread at
        // shutdown, its cleanup waits on that same clock (CAF 0.17), and the
        // process hangs on exit (seen with 60 registries stopped together).
        timer->set_down_handler([timer](caf::down_msg&) { timer->quit(); });
        if (auto dest = caf::actor_cast<caf::actor>(target))
          timer->monitor(dest);
        else
          timer->quit();
        timer->delayed_send(timer, delay, tick_atom::value);
        return {
            [timer, target, msg](tick_atom) {
              if (auto dest = caf::actor_cast<caf::actor>(target))
                caf::anon_send(dest, msg);
              timer->quit();
            },
        };
      });
}

void zk_link::handle(caf::scheduled_actor* self, uint64_t gen, uint8_t type,
                     uint8_t state, const std::string& path, const zk_link_handlers& on) {
  if (gen != generation || !zk)
    return; // an event of a closed session
  if (static_cast<zk::event_type>(type) != zk::event_type::session) {
    on.node(path, static_cast<zk::event_type>(type));
    return;
  }
  switch (static_cast<zk::session_state>(state)) {
    case zk::session_state::connected:
      if (status != registry_status::connected) {
        backoff = {};
        on.connected();
      }
      break;
    case zk::session_state::connecting:
      if (status == registry_status::connected) {
        went_down(self);
        on.suspended();
      }
      break;
    case zk::session_state::expired:
      on.expired();
      break;
    case zk::session_state::not_zookeeper:
      reject(self);
      break;
    default:
      spdlog::error("registry: ZooKeeper refused the session (authentication)");
      break;
  }
}

caf::expected<zk::request_counts> zk_requests_of(caf::actor_system& sys,
                                                 const caf::actor& who) {
  if (!who)
    return make_error(sc::unavailable, "no ZooKeeper session");
  auto res = blocking_request<std::vector<uint64_t>>(sys, who, std::chrono::seconds{30},
                                                     zk_requests_atom::value);
  if (!res)
    return std::move(res.error());
  return zk::request_counts{(*res)[0], (*res)[1]};
}

} // namespace slacker
