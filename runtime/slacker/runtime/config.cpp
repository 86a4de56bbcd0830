#include "slacker/runtime/config.hpp"

#include <caf/config_option_adder.hpp>
#include <caf/io/middleman.hpp>
#include <caf/settings.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include "slacker/messages/call.hpp"
#include "slacker/messages/cluster_reply.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/messages/membership.hpp"
#include "slacker/runtime/detail/metrics.hpp"

namespace slacker {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<call_request>("slacker::call_request");
  cfg.add_message_type<call_reply>("slacker::call_reply");
  cfg.add_message_type<call_feedback>("slacker::call_feedback");
  cfg.add_message_type<function_info>("slacker::function_info");
  cfg.add_message_type<std::vector<function_info>>("std::vector<slacker::function_info>");
  cfg.add_message_type<member_up>("slacker::member_up");
  cfg.add_message_type<member_down>("slacker::member_down");
  cfg.add_message_type<member_leaving>("slacker::member_leaving");
  cfg.add_message_type<member_unreachable>("slacker::member_unreachable");
  cfg.add_message_type<member_reachable>("slacker::member_reachable");
  cfg.add_message_type<server_data_changed>("slacker::server_data_changed");
  cfg.add_message_type<namespace_up>("slacker::namespace_up");
  cfg.add_message_type<namespace_down>("slacker::namespace_down");
  cfg.add_message_type<leader_changed>("slacker::leader_changed");
  cfg.add_message_type<registry_state>("slacker::registry_state");
  cfg.add_message_type<fencing_token>("slacker::fencing_token");
  cfg.add_message_type<leadership>("slacker::leadership");
  cfg.add_message_type<std::vector<leadership>>("std::vector<slacker::leadership>");
  cfg.add_message_type<membership_view>("slacker::membership_view");
  cfg.add_message_type<cluster_reply>("slacker::cluster_reply");
  cfg.add_error_category(error_category, render_error);
}

config::config() {
  load<caf::io::middleman>();
  slacker::add_message_types(*this);
  opt_group{custom_options_, "slacker"}
      .add<std::string>("log-level", "trace|debug|info|warn|error|critical|off")
      .add<size_t>("worker-threads", "threads running blocking functions")
      .add<size_t>("worker-queue", "blocking calls that may wait for a thread")
      .add<size_t>("worker-queue-bytes",
                   "bytes of arguments the waiting blocking calls may hold")
      .add<caf::timespan>("worker-queue-wait",
                          "new blocking calls are refused while the oldest waiting one "
                          "waited longer (0: never)")
      .add<std::string>("inline-calls",
                        "auto|always|never: non-blocking calls on the network thread "
                        "(auto: those measured cheap)")
      .add<size_t>("max-buffered-bytes",
                   "memory all connections may hold for incomplete frames (bytes)")
      .add<caf::timespan>("frame-timeout", "time a frame that began has to complete")
      .add<size_t>("max-connections",
                   "connections a server keeps (0: from the descriptor limit)")
      .add<size_t>("max-tls-handshakes", "TLS handshakes a server runs at once")
      .add<bool>("log-calls", "servers log one line per call")
      .add<std::string>("hot-path", "scheduled|network: where namespace actors run")
      .add<std::string>("dispatcher-hot-path",
                        "scheduled|network: where cluster dispatchers run")
      .add<std::string>("gather-hot-path", "scheduled|network: where gather actors run")
      .add<std::string>("blocking-calls", "lane|broker: how blocking direct calls travel")
      .add<uint32_t>("max-message-size", "largest frame taken from the network (bytes)")
      .add<caf::timespan>("handshake-timeout", "time a new connection has to say hello")
      .add<caf::timespan>("idle-timeout",
                          "a server closes connections silent for this long")
      .add<caf::timespan>("ping-interval",
                          "how often clients ping idle servers they watch (500ms)")
      .add<caf::timespan>("min-ping-interval",
                          "a server takes pings from a client with no call in flight "
                          "at most one per this on average (400ms)")
      .add<caf::timespan>("peer-timeout", "a client drops a server silent for this long")
      .add<caf::timespan>("call-silence",
                          "while calls wait, a client drops a server silent this long")
      .add<caf::timespan>("connect-timeout", "time allowed for a TCP connect")
      .add<size_t>("failure-accrual",
                   "calls in a row timing out on a server before clients route around it")
      .add<caf::timespan>("overload-backoff",
                          "clients pass over a server that answered overloaded this "
                          "long (100ms; 0: never)")
      .add<double>("outlier-latency",
                   "a server this many times slower than its peers leaves routing (5; 0: "
                   "off)")
      .add<caf::timespan>("outlier-min-latency",
                          "a server faster than this never leaves routing for slowness")
      .add<size_t>("aperture",
                   "the fewest servers of a namespace a client spreads one-server calls "
                   "over (12; 0: all)")
      .add<double>("max-ejected",
                   "share of servers a client takes out of routing at once (0.5)")
      .add<double>("retry-budget", "share of recent calls that may be retried (0.2)")
      .add<std::string>("grouping",
                        "default grouping of cluster clients (a registered name)")
      .add<double>(
          "leader-step-down",
          "a leader steps down when its ZooKeeper link has been down this share of the "
          "session timeout (0.667)")
      .add<bool>("insecure", "a plaintext server also takes peers not on loopback")
      .add<std::string>("metrics", "HOST:PORT serving /metrics, /health and the status "
                                   "portal (default: off)");
  opt_group{custom_options_, "slacker.portal"}.add<std::string>(
      "token", "secret the portal's pages and /api ask for (default: none; or "
               "$SLACKER_PORTAL_TOKEN)");
  opt_group{custom_options_, "slacker.tls"}
      .add<std::string>("certificate", "PEM certificate of this process (mutual TLS)")
      .add<std::string>("key", "PEM private key of the certificate")
      .add<std::string>("ca", "PEM CA certificate peers must be signed by");
  opt_group{custom_options_, "slacker.manager"}.add<std::string>(
      "token", "secret manager writes must carry");
  opt_group{custom_options_, "slacker.zk"}.add<std::string>(
      "auth", "user:password for ZooKeeper digest auth");
  opt_group{custom_options_, "slacker.json"}.add<size_t>(
      "max-depth", "deepest JSON nesting decoders accept");
  // Measured on loopback (see docs/benchmarks.md): the network thread handles
  // I/O itself and idle workers do not spin, which cuts a round trip in half.
  set("middleman.workers", size_t{0});
  set("work-stealing.moderate-poll-attempts", size_t{0});
  // Idle workers sleep on a condition variable (woken by new work sent to
  // them) and look for work to steal at this interval: 200 ms instead of
  // CAF's 10 ms takes an idle process from ~400 to ~23 wakeups a second,
  // with no loss in the bench's latency rows (docs/benchmarks.md).
  set("work-stealing.relaxed-sleep-duration",
      caf::timespan{std::chrono::milliseconds{200}});
  // One worker per core (CAF's default is at least 4): each idle worker wakes
  // 5 times a second to look for work to steal, and slacker's own heavy work
  // runs on its worker pool (slacker.worker-threads), not on CAF's workers.
  // On 2 cores an idle cluster client goes from ~32 to ~21 wakeups a second
  // (docs/benchmarks.md, `bench --idle`).
  set("scheduler.max-threads", size_t{std::max(2u, std::thread::hardware_concurrency())});
}

bool on_network_thread(const caf::actor_system_config& cfg, hot_path which) {
  static constexpr const char* keys[] = {
      "slacker.hot-path", "slacker.dispatcher-hot-path", "slacker.gather-hot-path"};
  return caf::get_or(cfg, keys[static_cast<int>(which)], std::string{"network"}) ==
         "network";
}

namespace {

/// Switches turned off on the command line (`--name=false`).
std::set<std::string>& switched_off() {
  static std::set<std::string> names;
  return names;
}

std::mutex switched_off_mtx;

/// The settings the command line gave (`--name=value`, `--name`).
std::set<std::string>& given() {
  static std::set<std::string> names;
  return names;
}

} // namespace

bool given_on_command_line(const std::string& key) {
  std::lock_guard<std::mutex> guard{switched_off_mtx};
  return given().count(key) > 0;
}

void expand_option_aliases(std::vector<std::string>& args,
                           const std::vector<std::string>& switches) {
  static const std::pair<const char*, const char*> aliases[] = {
      {"--tls-cert=", "--slacker.tls.certificate="},
      {"--tls-key=", "--slacker.tls.key="},
      {"--tls-ca=", "--slacker.tls.ca="},
      {"--manager-token=", "--slacker.manager.token="},
      {"--zk-auth=", "--slacker.zk.auth="},
  };
  std::vector<std::string> known{"slacker.insecure", "slacker.log-calls"};
  known.insert(known.end(), switches.begin(), switches.end());
  std::vector<std::string> out;
  for (auto arg : args) {
    if (arg.rfind("--insecure", 0) == 0)
      arg = "--slacker.insecure" + arg.substr(10);
    for (auto& [from, to] : aliases)
      if (arg.rfind(from, 0) == 0) {
        arg = to + arg.substr(std::string{from}.size());
        break;
      }
    // CAF's boolean flags take no value: `--name=true` is `--name`, and
    // `--name=false` turns the switch off (see switch_on).
    bool taken = false;
    for (auto& name : known) {
      auto flag = "--" + name;
      if (arg == flag + "=true") {
        arg = flag;
      } else if (arg == flag + "=false") {
        std::lock_guard<std::mutex> guard{switched_off_mtx};
        switched_off().insert(name);
        taken = true;
      }
    }
    if (arg.rfind("--", 0) == 0) {
      std::lock_guard<std::mutex> guard{switched_off_mtx};
      given().insert(arg.substr(2, arg.find('=') - 2));
    }
    if (!taken)
      out.push_back(std::move(arg));
  }
  args = std::move(out);
}

bool switch_on(const caf::actor_system_config& cfg, const std::string& name,
               bool fallback) {
  {
    std::lock_guard<std::mutex> guard{switched_off_mtx};
    if (switched_off().count(name) > 0)
      return false;
  }
  return caf::get_or(cfg, name, fallback);
}

void configure_logging(const caf::actor_system_config& cfg) {
  // Logs go to stderr: stdout belongs to the program (results, JSON).
  static std::once_flag once;
  std::call_once(once,
                 [] { spdlog::set_default_logger(spdlog::stderr_color_mt("slacker")); });
  auto level = caf::get_or(cfg, "slacker.log-level", std::string{"info"});
  spdlog::set_level(spdlog::level::from_str(level));
}

caf::error start_metrics(const caf::actor_system_config& cfg) {
  return metrics::serve_from(cfg);
}

} // namespace slacker
