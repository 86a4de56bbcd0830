// Direct calls only: a server and a client in one process, with the actors
// layer's headers and library alone.
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <slacker/actors/client.hpp>
#include <slacker/actors/namespace.hpp>
#include <slacker/actors/server.hpp>
#include <slacker/messages/error.hpp>
#include <slacker/runtime/config.hpp>

void caf_main(caf::actor_system& sys, const slacker::config&) {
  slacker::server srv{sys};
  srv.add(slacker::ns("direct").def("inc", [](int64_t x) { return x + 1; }));
  auto port = srv.publish(0, "127.0.0.1");
  if (!port)
    throw std::runtime_error(slacker::describe(port.error()));
  slacker::client c{sys, "127.0.0.1", *port};
  auto r = c.call<int64_t>("direct/inc", int64_t{41});
  if (!r || *r != 42)
    throw std::runtime_error("direct call failed");
}

CAF_MAIN()
