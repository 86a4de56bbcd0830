#include "slacker/cluster/manager.hpp"

#include <csignal>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "slacker/runtime/signals.hpp"

namespace slacker {

ns manager_namespace(registration& reg, std::function<void()> on_shutdown) {
  auto* r = &reg;
  return ns(manager_ns)
      .def(
          "offline",
          [r] {
            r->offline();
            return true;
          },
          "takes this server out of routing; it keeps serving direct calls", blocking)
      .def(
          "online",
          [r] {
            r->online();
            return true;
          },
          "puts this server back into routing", blocking)
      .def(
          "offline-ns", [r](std::string name) { return r->unpublish(name); },
          "takes one namespace of this server out of routing", blocking)
      .def(
          "online-ns", [r](std::string name) { return r->publish(name); },
          "puts one namespace of this server back into routing", blocking)
      .def(
          "set-server-data",
          [r](std::string json) {
            if (!nlohmann::json::accept(json))
              throw std::invalid_argument("server-data must be JSON, got: " +
                                          excerpt(json));
            r->set_server_data(json);
            return true;
          },
          "replaces this server's server-data (JSON text)", blocking)
      .def(
          "merge-server-data",
          [r](std::string patch) {
            auto merged = r->merge_server_data(patch);
            if (!merged)
              throw std::invalid_argument(describe(merged.error()));
            return *merged;
          },
          "merges a JSON object into this server's server-data (RFC 7386: null removes a "
          "key); "
          "returns the new server-data",
          blocking)
      .def(
          "server-data", [r] { return r->server_data(); }, "this server's server-data",
          blocking)
      .def(
          "state",
          [r] {
            // What the operator commands change, as JSON text.
            auto routed = r->routed();
            nlohmann::json out{{"routed", routed}, {"offline", nlohmann::json::array()}};
            for (auto& ns : r->served())
              if (routed.count(ns) == 0)
                out["offline"].push_back(ns);
            auto data = r->server_data();
            out["server_data"] = nlohmann::json::parse(data, nullptr, false);
            return out.dump();
          },
          "this server's namespaces in routing and out of it, and its server-data (JSON "
          "text)",
          blocking)
      .def(
          "shutdown",
          [on_shutdown] {
            // Answer first: the stop (graceful_stop) begins by leaving the
            // cluster and waiting its grace, long after this answer went out.
            std::thread{on_shutdown}.detach();
            return true;
          },
          "leaves the cluster, drains running calls, then stops the server", blocking)
      .guard("offline")
      .guard("online")
      .guard("offline-ns")
      .guard("online-ns")
      .guard("set-server-data")
      .guard("merge-server-data")
      .guard("shutdown")
      .operator_lane("server-data")
      .operator_lane("state");
}

void graceful_stop(server& srv, registration& reg, std::chrono::milliseconds quiet,
                   std::chrono::milliseconds drain_timeout) {
  // Drain first: it needs no ZooKeeper. Connected clients hear it at once,
  // new calls are answered `draining` (their clients send them elsewhere),
  // the calls under way finish.
  spdlog::info("stopping: draining");
  srv.going_away();
  // Out of routing for every client, marked leaving (member_leaving) while
  // the calls under way finish; without ZooKeeper it goes on at once.
  if (!reg.begin_leaving())
    spdlog::warn("stopping: the registry is busy with ZooKeeper; draining anyway");
  if (!srv.drain(drain_timeout, quiet))
    spdlog::warn("stopping: calls still running after {} ms", drain_timeout.count());
  spdlog::info("stopping: leaving the cluster");
  reg.leave();
  srv.stop();
}

int serve_until_stopped(server& srv, registration& reg, stop_options opts) {
  auto sig = wait_stop_signal();
  on_further_stop_signals(opts.note);
  if (opts.on_signal)
    opts.on_signal(sig);
  graceful_stop(srv, reg, opts.quiet, opts.drain_timeout);
  return sig;
}

void request_stop() {
  ::kill(::getpid(), SIGTERM);
}

} // namespace slacker
