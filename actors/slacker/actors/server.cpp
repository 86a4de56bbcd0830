#include "slacker/actors/server.hpp"
#include "slacker/runtime/blocking_request.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <malloc.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/settings.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "slacker/actors/detail/namespace_actor.hpp"
#include "slacker/actors/detail/server_connection.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/detail/metrics.hpp"
#include "slacker/runtime/wire_options.hpp"
#include <caf/io/network/default_multiplexer.hpp>

namespace slacker {

namespace {

std::shared_ptr<worker_pool> pool_from_config(caf::actor_system& sys) {
  auto& cfg = sys.config();
  pool_limits limits;
  limits.threads = caf::get_or(cfg, "slacker.worker-threads", limits.threads);
  limits.queue = caf::get_or(cfg, "slacker.worker-queue", limits.queue);
  limits.queue_bytes = caf::get_or(cfg, "slacker.worker-queue-bytes", limits.queue_bytes);
  limits.max_wait = std::chrono::duration_cast<std::chrono::milliseconds>(
      caf::get_or(cfg, "slacker.worker-queue-wait", caf::timespan{limits.max_wait}));
  return make_thread_pool(limits);
}

/// The operator lane: one thread, a short queue, no shedding by waiting time
/// (an operator's command waits behind another operator's, never behind users).
std::shared_ptr<worker_pool> operator_lane() {
  pool_limits limits;
  limits.threads = 1;
  limits.queue = 64;
  limits.queue_bytes = size_t{16} << 20;
  limits.max_wait = std::chrono::milliseconds{0};
  return make_thread_pool(limits);
}

} // namespace

server::server(caf::actor_system& sys) : server(sys, pool_from_config(sys)) {
  owns_pool_ = true;
}

server::server(caf::actor_system& sys, std::shared_ptr<worker_pool> pool)
  : sys_(sys), pool_(std::move(pool)), operator_pool_(operator_lane()),
    catalog_(std::make_shared<catalog>()) {
  configure_logging(sys.config());
  // Large buffers (frames, arguments) come from mmap and go back to the system
  // when freed: glibc's moving threshold would otherwise keep the peak of an
  // attack in the heap for the life of the process (docs/security.md).
  static std::once_flag malloc_once;
  std::call_once(malloc_once, [] { ::mallopt(M_MMAP_THRESHOLD, 256 * 1024); });
  log_calls_ = switch_on(sys.config(), "slacker.log-calls");
  catalog_->pool = pool_;
  auto mode = caf::get_or(sys.config(), "slacker.inline-calls", std::string{"auto"});
  catalog_->inlining = mode == "always"  ? catalog::inline_mode::always
                       : mode == "never" ? catalog::inline_mode::never
                                         : catalog::inline_mode::automatic;
  if (mode != "auto" && mode != "always" && mode != "never")
    spdlog::warn("slacker server: slacker.inline-calls={} is not auto, always or never: "
                 "auto",
                 printable(mode));
  on_network_thread_ = on_network_thread(sys.config(), hot_path::namespaces);
}

server::~server() {
  stop();
}

server& server::add(ns functions) {
  auto name = functions.name();
  auto infos = functions.infos();
  auto fns = std::make_shared<const ns>(std::move(functions));
  auto spawned =
      on_network_thread_
          ? sys_.middleman().spawn_broker(namespace_broker, fns, pool_, operator_pool_)
          : sys_.spawn(namespace_actor, fns, pool_, operator_pool_);
  spawned_.push_back(spawned);
  // In the catalog beside user actors (plain actors): untyped there.
  auto handler = caf::actor_cast<caf::actor>(spawned);
  catalog_->update([&](catalog::table& t) {
    t[name] = catalog::entry{std::move(fns), std::move(handler), std::move(infos)};
  });
  return *this;
}

server& server::expose(const std::string& name, caf::actor handler,
                       std::vector<function_info> functions) {
  return expose_actor(name, std::move(handler), {}, std::move(functions));
}

server& server::expose_actor(const std::string& name, caf::actor handler,
                             const std::set<std::string>& signatures,
                             std::vector<function_info> functions) {
  if (functions.empty()) {
    // Described, so that `inspect` and the CLI can say what it is.
    function_info info;
    info.name = "_actor";
    info.doc = "a CAF actor: send it typed messages (cluster_client::ask, client::ask, "
               "client::lookup), not function calls";
    if (signatures.empty())
      info.doc += "; its message types are not declared (a typed actor's are)";
    info.arg_types.assign(signatures.begin(), signatures.end());
    info.codecs = {"caf"};
    functions.push_back(std::move(info));
  }
  for (auto& sig : signatures)
    if (sig.find("<invalid-type") != std::string::npos)
      spdlog::warn("slacker server: namespace {} takes {}, a type not registered in "
                   "this actor system (add_message_type): remote callers cannot send "
                   "it",
                   name, sig);
  catalog_->update([&](catalog::table& t) {
    t[name] = catalog::entry{nullptr, std::move(handler), std::move(functions)};
  });
  return *this;
}

bool server::remove(const std::string& name) {
  bool removed = false;
  catalog_->update([&](catalog::table& t) { removed = t.erase(name) > 0; });
  return removed;
}

namespace {

/// Why CAF could not listen on `port` (it says only "tcp socket creation
/// failed"): a bind of our own names the cause, e.g. the address in use.
caf::error why_not_listening(uint16_t port, const std::string& bind,
                             const caf::error& caf_says) {
  auto where = (bind.empty() ? std::string{"*"} : bind) + ":" + std::to_string(port);
  std::string cause = describe(caf_says);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (getaddrinfo(bind.empty() ? nullptr : bind.c_str(), service.c_str(), &hints,
                  &found) == 0 &&
      found != nullptr) {
    int fd = ::socket(found->ai_family, SOCK_STREAM, 0);
    if (fd >= 0) {
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0)
        cause = std::strerror(errno);
      ::close(fd);
    }
    freeaddrinfo(found);
  } else {
    cause = "cannot resolve " + bind;
  }
  return make_error(sc::invalid_request, "cannot listen on " + where + ": " + cause);
}

} // namespace

caf::expected<uint16_t> server::publish(uint16_t port, const std::string& bind) {
  auto opts = wire_options::from(sys_.config());
  if (opts.problem) {
    spdlog::error("slacker server: {}", describe(opts.problem));
    return opts.problem;
  }
  if (auto err = metrics::serve_from(sys_.config())) // the caller says it
    return err;
  auto door = sys_.middleman().backend().new_tcp_doorman(
      port, bind.empty() ? nullptr : bind.c_str(), true);
  if (!door)
    return why_not_listening(port, bind, door.error());
  port_ = (*door)->port();
  remote_peers_ = opts.tls != nullptr || opts.insecure;
  if (!opts.tls && opts.insecure)
    spdlog::warn(
        "slacker server: slacker.insecure: plaintext connections from any address "
        "are taken on port {}; anyone who reaches it can call every function and "
        "read every call (docs/security.md)",
        port_);
  acceptor_ = caf::actor_cast<front_actor_type>(sys_.middleman().spawn_broker(
      server_acceptor, std::move(*door), catalog_, opts, log_calls_));
  spdlog::info("slacker server: serving on {}:{}", bind.empty() ? "*" : bind, port_);
  if (metrics::enabled()) {
    auto label = "port=\"" + std::to_string(port_) + "\"";
    metrics_.push_back(metrics::add_gauge(
        "slacker_worker_queue", label, "blocking calls waiting for a worker thread",
        [pool = pool_] { return double(pool->queued()); }));
    metrics_.push_back(
        metrics::add_gauge("slacker_worker_queue_bytes", label,
                           "bytes held by blocking calls waiting for a worker thread",
                           [pool = pool_] { return double(pool->queued_bytes()); }));
    for (auto why : {job_refusal::queue_full, job_refusal::bytes_full,
                     job_refusal::slow_queue, job_refusal::gone, job_refusal::expired})
      metrics_.push_back(metrics::add_gauge(
          "slacker_worker_shed", label + ",reason=\"" + to_string(why) + "\"",
          "blocking calls refused (overloaded) or dropped unrun, by reason",
          [pool = pool_, why] { return double(pool->refused(why)); }));
    metrics_.push_back(metrics::add_gauge(
        "slacker_server_draining", label, "1 while the server stops (drains)",
        [cat = catalog_] { return cat->draining() ? 1.0 : 0.0; }));
    metrics_.push_back(metrics::add_status(
        "overview", "server on port " + std::to_string(port_),
        [cat = catalog_, pool = pool_, tls = opts.tls != nullptr,
         insecure = opts.insecure, bind = bind.empty() ? std::string{"*"} : bind,
         port = port_] {
          return nlohmann::json{{"role", "server"},
                                {"listening on", bind + ":" + std::to_string(port)},
                                {"TLS", tls        ? "mutual TLS"
                                        : insecure ? "no (insecure)"
                                                   : "no (loopback only)"},
                                {"draining", cat->draining()},
                                {"answers owed", cat->owed.load()},
                                {"blocking calls waiting", pool->queued()}}
              .dump();
        }));
    metrics_.push_back(
        metrics::add_health("server on port " + std::to_string(port_), [cat = catalog_] {
          return cat->draining() ? std::string{"draining: stopping"} : std::string{};
        }));
  }
  return port_;
}

void server::going_away() {
  if (acceptor_)
    blocking_request<bool>(sys_, acceptor_, std::chrono::seconds{5},
                           going_away_atom::value);
  // Calls still waiting for a worker: `draining` now (their clients send them
  // elsewhere), not after the drain timeout.
  if (owns_pool_)
    pool_->drop_waiting();
  operator_pool_->drop_waiting();
}

bool server::drain(std::chrono::milliseconds timeout, std::chrono::milliseconds quiet) {
  using clock = std::chrono::steady_clock;
  auto began = clock::now();
  auto until = began + timeout;
  // The connections count what they owe; polled, as this runs in a plain
  // thread that has nothing else to do until the server stops. The quiet
  // period runs from the drain's start at the earliest: an idle server stays
  // marked leaving that long, so that clients without a connection to it
  // (which learn it from ZooKeeper) see it leave before it is gone.
  for (;;) {
    auto now = clock::now();
    auto last = std::max(began, clock::time_point{std::chrono::nanoseconds{
                                    catalog_->last_arrival.load()}});
    if (catalog_->owed.load() <= 0 && now - last >= quiet)
      break;
    if (now >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  // Namespace actors called from elsewhere (not through a connection).
  caf::scoped_actor self{sys_};
  for (auto& a : spawned_) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
    bool done = false;
    if (left.count() > 0)
      self->request(a, left, drain_atom::value)
          .receive([&](bool) { done = true; }, [&](caf::error&) {});
    if (!done)
      return false;
  }
  return true;
}

std::vector<std::string> server::namespaces() const {
  std::vector<std::string> names;
  for (auto& kvp : *catalog_->get())
    names.push_back(kvp.first);
  return names;
}

caf::expected<std::vector<function_info>>
server::functions(const std::string& name) const {
  auto table = catalog_->get();
  auto i = table->find(name);
  if (i == table->end())
    return make_error(sc::not_found, "no namespace " + excerpt(name));
  return i->second.infos;
}

void server::stop(std::chrono::milliseconds grace) {
  // Calls waiting for a worker are answered `draining` (their connections may
  // still be open), the running ones get `grace`.
  std::vector<std::shared_ptr<worker_pool>> pools{operator_pool_};
  if (owns_pool_)
    pools.push_back(pool_);
  for (auto& p : pools)
    if (auto left = p->stop(grace); left > 0)
      spdlog::warn("slacker server: {} call(s) still running after {} ms: abandoned "
                   "(their threads end with the process)",
                   left, grace.count());
  if (acceptor_) {
    caf::anon_send_exit(acceptor_, caf::exit_reason::user_shutdown);
    spdlog::info("slacker server: stopped serving on port {}", port_);
    acceptor_ = front_actor_type{};
  }
  for (auto& a : spawned_)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  spawned_.clear();
  catalog_->update([](catalog::table& t) { t.clear(); });
  catalog_->end_draining();
  port_ = 0;
  remote_peers_ = false;
}

} // namespace slacker
