// The examples of docs/guide.md, "Membership events". Built with the tests,
// so that the guide's code compiles; each block of the guide marked with this
// file's name appears here verbatim (checked by the docs.examples test).
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <iostream>
#include <string>

#include <slacker/cluster/cluster_client.hpp> // cluster_client
#include <slacker/cluster/registration.hpp>   // registration
#include <slacker/messages/membership.hpp>    // the events
#include <slacker/runtime/config.hpp>

/// Follows the cluster as `client` sees it: the view, then every change. The
/// client must outlive the following: the events end with it.
caf::actor follow(caf::actor_system& sys, slacker::cluster_client& client) {
  auto watcher = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    auto say = [self](const char* what, const std::string& addr) {
      caf::aout(self) << what << " " << addr << std::endl;
    };
    return {
        [](slacker::membership_view& v) { /* servers, namespaces, leaders, leaving */ },
        [=](slacker::member_up& x) { say("up", x.addr); },           // MemberUp
        [=](slacker::member_leaving& x) { say("leaving", x.addr); }, // MemberLeft
        [=](slacker::member_down& x) { say("down", x.addr); },       // MemberRemoved
        [=](slacker::member_unreachable& x) { say("unreachable", x.addr); },
        [=](slacker::member_reachable& x) { say("reachable", x.addr); },
        [](slacker::server_data_changed& x) { /* x.addr, x.data */ },
        [](slacker::namespace_up& x) { /* x.ns, x.addr */ },
        [](slacker::namespace_down& x) { /* x.ns, x.addr */ },
        [](slacker::leader_changed& x) { /* x.ns, x.addr (empty: none), x.token */ },
        [](slacker::registry_state& x) { /* connected, suspended, expired; view age */ },
    };
  });
  client.subscribe(watcher);
  return watcher;
}

void lead(slacker::registration& reg, const caf::actor& watcher) {
  reg.subscribe(watcher); // watcher gets slacker::leadership{ns, leading, token}
  if (auto token = reg.fencing("orders")) {
    // leading "orders": send *token with every write; receivers reject a
    // token older than the newest they have seen (operator<)
  }
}

/// --zk=HOST:PORT --cluster=NAME, beside CAF's and slacker's options.
struct example_config : slacker::config {
  std::string zk = "127.0.0.1:2181";
  std::string cluster = "example-cluster";
  example_config() {
    opt_group{custom_options_, "global"}
        .add(zk, "zk", "ZooKeeper to follow the cluster on")
        .add(cluster, "cluster", "the cluster to follow");
  }
};

// Prints "up ADDR", "leaving ADDR", "down ADDR" (and "unreachable ADDR",
// "reachable ADDR" for servers of slacker.example.api) as servers join and
// leave, until its standard input closes (the docs test drives it).
void caf_main(caf::actor_system& sys, const example_config& cfg) {
  slacker::zk_options zk;
  zk.zk = cfg.zk;
  zk.cluster = cfg.cluster;
  slacker::cluster_client client{sys, zk};
  auto watcher = follow(sys, client);
  client.warm_up("slacker.example.api"); // its servers watched from now on
  std::cout << "following " << cfg.cluster << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
  }
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
}

CAF_MAIN()
