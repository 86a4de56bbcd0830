// The examples of docs/guide.md, "Membership events". Built with the tests,
// so that the guide's code compiles; each block of the guide marked with this
// file's name appears here verbatim (checked by the docs.examples test).
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <slacker/cluster/registration.hpp> // registration
#include <slacker/messages/atoms.hpp>       // subscribe_atom
#include <slacker/messages/membership.hpp>  // the events
#include <slacker/registry/registry.hpp>    // registry
#include <slacker/runtime/config.hpp>

caf::actor follow(caf::actor_system& sys, const slacker::zk_options& zk) {
  slacker::registry reg{sys, zk}; // zk: slacker::zk_options
  auto watcher = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {
        [](slacker::membership_view& v) { /* servers, namespaces, leaders */ },
        [](slacker::member_up& x) { /* x.addr, x.data */ },
        [](slacker::member_down& x) { /* x.addr */ },
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

void caf_main(caf::actor_system&, const slacker::config&) {
  // Compiled, not run: the functions above are what the guide shows.
}

CAF_MAIN()
