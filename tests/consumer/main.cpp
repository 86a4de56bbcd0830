// Builds against the installed headers and library, serves one function and
// calls it in the same process.
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <slacker/fwd.hpp> // first: its declarations must agree with the types
#include <slacker/slacker.hpp>

void caf_main(caf::actor_system& sys, const slacker::config&) {
  slacker::server srv{sys};
  srv.add(slacker::ns("consumer").def("twice", [](int64_t x) { return 2 * x; }));
  auto port = srv.publish(0, "127.0.0.1");
  if (!port)
    throw std::runtime_error(slacker::describe(port.error()));
  slacker::client c{sys, "127.0.0.1", *port};
  auto r = c.call<int64_t>("consumer/twice", int64_t{21});
  if (!r || *r != 42)
    throw std::runtime_error("consumer call failed");
}

CAF_MAIN()
