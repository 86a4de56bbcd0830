#include "slacker/registry/lookup.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "slacker/messages/error.hpp"
#include "slacker/registry/detail/zk_session.hpp"
#include "slacker/registry/layout.hpp"
#include "slacker/runtime/detail/tcp_connect.hpp"

namespace slacker {

namespace {

/// Why nothing answers at `addr` (host:port): a TCP probe's outcome.
std::string probe(const std::string& addr, std::chrono::milliseconds patience) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos)
    return "no port in " + addr;
  auto port = std::atoi(addr.c_str() + colon + 1);
  if (port <= 0 || port > 65535)
    return "no port in " + addr;
  auto fd = connect_within(addr.substr(0, colon), static_cast<uint16_t>(port), patience);
  if (fd) {
    close(*fd);
    return "it takes connections but opened no ZooKeeper session";
  }
  // connect_within says `connection_broken: WHY`: the WHY, in lower case.
  auto why = describe(fd.error());
  why = why.substr(why.find(": ") == std::string::npos ? 0 : why.find(": ") + 2);
  if (!why.empty())
    why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
  return why;
}

} // namespace

caf::error zk_unreachable(const std::string& connect_string,
                          std::chrono::milliseconds waited) {
  auto hosts = connect_string.substr(0, connect_string.find('/'));
  std::string reasons;
  std::stringstream in{hosts};
  for (std::string one; std::getline(in, one, ',');)
    reasons += (reasons.empty() ? "" : "; ") +
               (hosts.find(',') == std::string::npos
                    ? probe(one, std::chrono::milliseconds{500})
                    : one + ": " + probe(one, std::chrono::milliseconds{500}));
  auto within = waited.count() > 0 ? " in " + std::to_string(waited.count()) + " ms" : "";
  return make_error(sc::unavailable, "ZooKeeper at " + connect_string + " not reachable" +
                                         within + " (" + reasons + ")");
}

caf::expected<std::map<std::string, std::map<std::string, std::string>>>
registered_functions(const zk_options& opts, const std::string& only,
                     std::chrono::milliseconds timeout) {
  // A read that ZooKeeper leaves unanswered fails after the client's receive
  // timeout, two thirds of the session's: a session of 1.5 x `timeout` keeps
  // a stalled ZooKeeper within `timeout` (2 s at least: ZooKeeper's floor).
  auto session = std::max(std::chrono::milliseconds{2000}, timeout * 3 / 2);
  auto zk = zk::session::open(opts.zk, session, [](const zk::event&) {});
  if (!zk) // an address it cannot use (nothing waited for)
    return zk_unreachable(opts.zk);
  // The session connects in the background: wait until it answers.
  auto until = std::chrono::steady_clock::now() + timeout;
  while ((*zk)->exists("/", false).code == zk::rc::connection_loss) {
    if (std::chrono::steady_clock::now() >= until)
      return zk_unreachable(opts.zk, timeout);
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  zk_layout paths{opts};
  std::vector<std::string> namespaces;
  if (!only.empty()) {
    namespaces.push_back(only);
  } else {
    auto st = (*zk)->children(paths.functions(), false, namespaces);
    if (!st && st.code != zk::rc::no_node)
      return make_error(sc::unavailable, "ZooKeeper: " + st.text);
  }
  std::map<std::string, std::map<std::string, std::string>> out;
  for (auto& ns : namespaces) {
    std::vector<std::string> fns;
    auto st = (*zk)->children(paths.functions(ns), false, fns);
    if (!st) {
      if (st.code == zk::rc::no_node)
        return make_error(sc::not_found,
                          "no namespace " + ns + " in cluster " + opts.cluster);
      return make_error(sc::unavailable, "ZooKeeper: " + st.text);
    }
    auto& entry = out[ns];
    for (auto& fn : fns) {
      std::string data;
      (*zk)->get(paths.function(ns, fn), false, data);
      entry[fn] = std::move(data);
    }
  }
  return out;
}

} // namespace slacker
