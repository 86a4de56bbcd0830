// The examples of docs/guide.md, "Membership events". Built with the tests,
// so that the guide's code compiles; each block of the guide marked with this
// file's name appears here verbatim (checked by the docs.examples test).
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <iostream>
#include <string>

#include <slacker/cluster/registration.hpp> // registration
#include <slacker/messages/atoms.hpp>       // subscribe_atom
#include <slacker/messages/membership.hpp>  // the events
#include <slacker/registry/registry.hpp>    // registry
#include <slacker/runtime/config.hpp>

/// Follows the cluster `reg` mirrors: the watcher gets the view, then every
/// change. The registry must outlive the following: its actor (and the
/// events) end with it.
caf::actor follow(caf::actor_system& sys, slacker::registry& reg) {
  auto watcher = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    return {
        [](slacker::membership_view& v) { /* servers, namespaces, leaders */ },
        [=](slacker::member_up& x) { caf::aout(self) << "up " << x.addr << std::endl; },
        [=](slacker::member_down& x) {
          caf::aout(self) << "down " << x.addr << std::endl;
        },
        [](slacker::server_data_changed& x) { /* x.addr, x.data */ },
        [](slacker::namespace_up& x) { /* x.ns, x.addr */ },
        [](slacker::namespace_down& x) { /* x.ns, x.addr */ },
        [](slacker::leader_changed& x) { /* x.ns, x.addr (empty: none) */ },
        [](slacker::registry_state& x) { /* connected, suspended, expired; view age */ },
    };
  });
  caf::anon_send(reg.actor(), slacker::subscribe_atom::value, watcher);
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

// Prints "up ADDR" and "down ADDR" as servers join and leave, until its
// standard input closes (the docs test drives it).
void caf_main(caf::actor_system& sys, const example_config& cfg) {
  slacker::zk_options zk;
  zk.zk = cfg.zk;
  zk.cluster = cfg.cluster;
  slacker::registry reg{sys, zk};
  auto watcher = follow(sys, reg);
  std::cout << "following " << cfg.cluster << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
  }
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
}

CAF_MAIN()
