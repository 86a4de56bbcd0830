// The server of README.md's tour, step 1: built with the tests and run by
// them (the README's block appears here verbatim: the docs.examples test).
// clang-format off
#include <iostream>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <slacker/actors/server.hpp>
#include <slacker/cluster/manager.hpp>                 // serve_until_stopped
#include <slacker/cluster/registration.hpp>
#include <slacker/runtime/config.hpp>
#include <slacker/runtime/main.hpp>                    // SLACKER_MAIN

struct server_config : slacker::config {              // --port, --zk, --cluster
  uint16_t port = 2104;                                // (0 picks a free port)
  std::string zk = "127.0.0.1:2181";
  std::string cluster = "example-cluster";
  server_config() {
    opt_group{custom_options_, "global"}
        .add(port, "port", "the port to serve on")
        .add(zk, "zk", "ZooKeeper")
        .add(cluster, "cluster", "the cluster to join");
  }
};

void caf_main(caf::actor_system& sys, const server_config& cfg) {
  slacker::server srv{sys};
  srv.add(slacker::ns("slacker.example.api")
            .def("echo", [](std::string s) { return s; }, "returns its argument")
            .def("slow", [](int64_t ms) { /* sleeps */ return ms; }, "blocks",
                 slacker::blocking));                  // runs on the worker pool
  auto port = srv.publish(cfg.port);
  if (!port) {
    std::cerr << slacker::describe(port.error()) << "\n"; // e.g. address in use
    return;                                            // (registration refuses a
  }                                                    // server not listening)
  std::cout << "serving on port " << *port << std::endl;
  slacker::registration_options opts;                  // join a cluster
  opts.zk.zk = cfg.zk;
  opts.zk.cluster = cfg.cluster;
  opts.server_data = R"({"label":"example"})";
  slacker::registration reg{sys, srv, opts};
  slacker::serve_until_stopped(srv, reg);              // until Ctrl-C or SIGTERM,
}                                                      // then drain, leave, stop
SLACKER_MAIN()          // CAF_MAIN that blocks the stop signals before CAF starts
// clang-format on
