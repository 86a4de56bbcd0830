// Builds against the installed headers and library, as a CAF developer's
// project would. Without arguments: serves one function and calls it in the
// same process. With `--zk=HOST:PORT`: a cluster in this process (two
// servers, one of them a typed actor's namespace) and a cluster client that
// calls a function, asks the actor from another actor without blocking, and
// follows the membership (a server unreachable, leaving, down). Exits
// non-zero (an exception) at the first thing that does not hold.
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <slacker/fwd.hpp> // first: its declarations must agree with the types
#include <slacker/slacker.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

namespace {

struct shout {
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shout& x) {
  return f(caf::meta::type_name("consumer::shout"), x.text);
}

using shouter = caf::typed_actor<caf::replies_to<shout>::with<std::string>>;

shouter::behavior_type shouter_impl() {
  return {[](const shout& x) {
    return x.text + "!";
  }};
}

struct consumer_config : slacker::config {
  std::string zk;
  consumer_config() {
    add_message_type<shout>("consumer::shout");
    opt_group{custom_options_, "global"}.add(zk, "zk", "ZooKeeper (none: no cluster)");
  }
};

void require(bool ok, const std::string& what) {
  if (!ok)
    throw std::runtime_error(what);
}

/// The membership lines a watcher actor saw, waited on from this thread.
struct seen_events {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> lines;

  void add(std::string line) {
    std::lock_guard<std::mutex> guard{mtx};
    lines.push_back(std::move(line));
    cv.notify_all();
  }

  void wait_for(const std::string& line) {
    std::unique_lock<std::mutex> lock{mtx};
    auto ok = cv.wait_for(lock, std::chrono::seconds{15}, [&] {
      return std::find(lines.begin(), lines.end(), line) != lines.end();
    });
    require(ok, "the watcher never saw '" + line + "'");
  }
};

void direct(caf::actor_system& sys) {
  slacker::server srv{sys};
  srv.add(slacker::ns("consumer").def("twice", [](int64_t x) { return 2 * x; }));
  auto port = srv.publish(0, "127.0.0.1");
  require(static_cast<bool>(port), port ? "" : slacker::describe(port.error()));
  slacker::client c{sys, "127.0.0.1", *port};
  auto r = c.call<int64_t>("consumer/twice", int64_t{21});
  require(r && *r == 42, "consumer call failed");
}

void cluster(caf::actor_system& sys, const std::string& zk) {
  auto name = "consumer-" + std::to_string(getpid());
  slacker::registration_options opts;
  opts.zk.zk = zk;
  opts.zk.cluster = name;
  // Server one: a function and a typed actor.
  slacker::server one{sys};
  one.add(slacker::ns("consumer").def("twice", [](int64_t x) { return 2 * x; }));
  one.expose("consumer.shouter", sys.spawn(shouter_impl));
  auto port1 = one.publish(0, "127.0.0.1");
  require(static_cast<bool>(port1), "server one did not listen");
  slacker::registration reg1{sys, one, opts};
  // Server two: the function only; it goes away below.
  slacker::server two{sys};
  two.add(slacker::ns("consumer").def("twice", [](int64_t x) { return 2 * x; }));
  auto port2 = two.publish(0, "127.0.0.1");
  require(static_cast<bool>(port2), "server two did not listen");
  auto reg2 = std::make_unique<slacker::registration>(sys, two, opts);
  auto addr2 = "127.0.0.1:" + std::to_string(*port2);

  slacker::cluster_client sc{sys, name, zk};
  seen_events seen;
  auto watcher = sys.spawn([&seen](caf::event_based_actor*) -> caf::behavior {
    return slacker::on_membership([&seen](auto& event) {
      using event_type = std::decay_t<decltype(event)>;
      if constexpr (std::is_same_v<event_type, slacker::member_up>)
        seen.add("up " + event.addr);
      else if constexpr (std::is_same_v<event_type, slacker::member_unreachable>)
        seen.add("unreachable " + event.addr);
      else if constexpr (std::is_same_v<event_type, slacker::member_leaving>)
        seen.add("leaving " + event.addr);
      else if constexpr (std::is_same_v<event_type, slacker::member_down>)
        seen.add("down " + event.addr);
    });
  });
  sc.subscribe(watcher);
  auto both = sc.wait_until(
      [](const slacker::membership_view& v) {
        auto i = v.namespaces.find("consumer");
        return v.servers.size() == 2 && i != v.namespaces.end() &&
               i->second.size() == 2 && v.namespaces.count("consumer.shouter") > 0;
      },
      std::chrono::seconds{15});
  require(static_cast<bool>(both), "the client never saw both servers");

  // A function call through the cluster.
  auto twice = sc.call<int64_t>("consumer/twice", int64_t{21});
  require(twice && *twice == 42,
          "cluster call: " +
              (twice ? std::to_string(*twice) : slacker::describe(twice.error())));

  // A typed ask from an actor, without blocking.
  std::promise<caf::expected<std::string>> answered;
  sys.spawn([&sc, &answered](caf::event_based_actor* self) {
    sc.ask<std::string>(
        self, slacker::cluster_options{}, "consumer.shouter",
        [&answered](caf::expected<std::string> x) { answered.set_value(std::move(x)); },
        shout{"hey"});
  });
  auto fut = answered.get_future();
  require(fut.wait_for(std::chrono::seconds{15}) == std::future_status::ready,
          "the ask never answered");
  auto shouted = fut.get();
  require(shouted && *shouted == "hey!",
          "ask: " + (shouted ? *shouted : slacker::describe(shouted.error())));

  // Membership: server two unreachable for this client (it stops serving
  // but stays registered), leaving, then down.
  sc.warm_up("consumer");     // connected to both: the failure detector watches them
  for (int i = 0; i < 4; ++i) // both used: connections open
    require(static_cast<bool>(sc.call<int64_t>("consumer/twice", int64_t{1})),
            "warm call");
  two.stop();
  seen.wait_for("unreachable " + addr2);
  require(reg2->begin_leaving(), "begin_leaving failed");
  seen.wait_for("leaving " + addr2);
  reg2.reset(); // leaves
  seen.wait_for("down " + addr2);
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
  std::cout << "cluster consumer: call, ask from an actor, unreachable, leaving, down"
            << std::endl;
}

} // namespace

void caf_main(caf::actor_system& sys, const consumer_config& cfg) {
  direct(sys);
  if (!cfg.zk.empty())
    cluster(sys, cfg.zk);
}

CAF_MAIN()
