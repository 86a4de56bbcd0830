// The examples of docs/guide.md, "Serving an actor". Built with the tests and
// run by them (each block of the guide marked with this file's name appears
// here verbatim: the docs.examples test). One process plays both sides: it
// serves a typed actor as namespace example.greeter in a cluster, then asks
// it through a cluster client from another actor, without blocking.
#include <cstdint>
#include <future>
#include <iostream>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <slacker/actors/server.hpp>
#include <slacker/cluster/cluster_client.hpp>
#include <slacker/cluster/registration.hpp>
#include <slacker/runtime/config.hpp>

// -- the messages, known to both sides
struct greeting {
  std::string name;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, greeting& x) {
  return f(caf::meta::type_name("example::greeting"), x.name);
}

using greeter = caf::typed_actor<caf::replies_to<greeting>::with<std::string>>;

greeter::behavior_type greeter_impl() {
  return {[](const greeting& g) {
    return "hello, " + g.name;
  }};
}

struct example_config : slacker::config {
  std::string zk = "127.0.0.1:2181";
  std::string cluster = "example-cluster";
  example_config() {
    add_message_type<greeting>("example::greeting"); // on both sides
    opt_group{custom_options_, "global"}
        .add(zk, "zk", "ZooKeeper")
        .add(cluster, "cluster", "the cluster to join");
  }
};

void serve(caf::actor_system& sys, slacker::server& srv) {
  // -- serve
  srv.expose("example.greeter", sys.spawn(greeter_impl)); // typed or untyped
}

void ask_from_an_actor(caf::actor_system& sys, slacker::cluster_client& sc,
                       std::promise<std::string>& out) {
  // -- ask
  sys.spawn([&sc, &out](caf::event_based_actor* self) {
    sc.ask<std::string>(
        self, slacker::cluster_options{}, "example.greeter",
        [&out](caf::expected<std::string> answer) {
          out.set_value(answer ? *answer : slacker::describe(answer.error()));
        },
        greeting{"caf"});
  });
}

// Prints the greeter's answer ("hello, caf"), or what went wrong.
void caf_main(caf::actor_system& sys, const example_config& cfg) {
  slacker::server srv{sys};
  serve(sys, srv);
  auto port = srv.publish(0, "127.0.0.1");
  if (!port) {
    std::cerr << slacker::describe(port.error()) << '\n';
    return;
  }
  slacker::registration_options opts;
  opts.zk.zk = cfg.zk;
  opts.zk.cluster = cfg.cluster;
  slacker::registration reg{sys, srv, opts};
  slacker::cluster_client sc{sys, cfg.cluster, cfg.zk};
  // Asked once a registered server of the namespace is in this client's view.
  auto seen = sc.wait_until(
      [](const slacker::membership_view& v) {
        auto i = v.namespaces.find("example.greeter");
        return i != v.namespaces.end() && !i->second.empty() &&
               v.servers.count(*i->second.begin()) > 0;
      },
      std::chrono::seconds{10});
  if (!seen) {
    std::cerr << slacker::describe(seen.error()) << '\n';
    return;
  }
  std::promise<std::string> answer;
  ask_from_an_actor(sys, sc, answer);
  auto text = answer.get_future().get();
  std::cout << text << std::endl;
  reg.leave();
  srv.stop();
}

CAF_MAIN()
