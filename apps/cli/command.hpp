// The `slacker` tool's commands, one file each (call.cpp, load.cpp, ...), and
// what they share. A command adds its options to its CLI11 subcommand and runs
// with the parsed flags; main.cpp lists the commands in the order --help shows.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "apps/support/cli.hpp"
#include "slacker/messages/call.hpp"
#include "slacker/registry/options.hpp"

namespace slacker {
class cluster_client;
class registry;
struct cluster_options;
struct membership_view;
struct fencing_token;
} // namespace slacker

namespace slacker_cli {

using json = nlohmann::json;

/// Every flag and argument of every command (each command binds the ones it
/// takes).
struct cli_config {
  std::string command;           // the command given
  std::string fn;                // NS/FN (call, load)
  std::vector<std::string> args; // JSON-ARG... (call, load)
  std::string addr;              // ADDR (server-data, offline, online, shutdown)
  std::string ns;                // NS or JSON, the optional second argument
  std::string zk = "127.0.0.1:2181";
  std::string cluster = "example-cluster";
  size_t zk_timeout = 3000;
  std::string server;
  std::string grouping = "random";
  std::string results = "single";
  std::string exceptions = "all";
  size_t timeout = 10000;
  std::string unavailable_value;
  bool idempotent = false;
  size_t hedge_after = 0;
  size_t quorum = 0;
  size_t count = 0;
  size_t wait = 0;
  bool merge = false;
  size_t duration = 0; // load: 10 s unless --calls
  size_t concurrency = 4;
  size_t rate = 0;
  bool progress = false;
  std::string metrics;
  std::vector<std::string> headers; // -H KEY=VALUE (call, load)
  bool verbose = false;             // -v (call)
  bool detect = false;              // --detect (watch)
  size_t calls = 0;                 // --calls (load; 0: by --duration)
  double warmup = 0;                // --warmup seconds (load)
  slacker_apps::security_options security;
};

/// One command: its name and help, the options it adds, what it runs (the
/// exit status).
struct command {
  const char* name;
  const char* help;
  std::function<void(CLI::App&, cli_config&)> define;
  std::function<int(caf::actor_system&, const cli_config&)> run;
};

// The commands (main.cpp lists them).
command call_command();
command load_command();
command inspect_command();
command members_command();
command watch_command();
command server_data_command();
command offline_command();
command online_command();
command shutdown_command();

// -- options several commands take -------------------------------------------

/// --zk, --cluster, --zk-timeout.
void add_zk_options(CLI::App& c, cli_config& cfg);
/// --timeout and the security flags.
void add_common_options(CLI::App& c, cli_config& cfg);
/// --server and the call policies (--grouping, --results, ...).
void add_policy_options(CLI::App& c, cli_config& cfg);
/// NS/FN and its JSON arguments.
void add_function_arguments(CLI::App& c, cli_config& cfg);
/// ADDR, the server a command talks to directly.
void add_server_argument(CLI::App& c, cli_config& cfg);

// -- what commands share -------------------------------------------------------

/// Prints a usage error naming the command's --help; returns the exit status.
int usage(const cli_config& cfg, const std::string& why);

/// Prints `error: <code>: <message>`; returns the exit status.
int fail(const caf::error& err);

slacker::zk_options zk_of(const cli_config& cfg);

/// The manager token to send: --manager-token, else $SLACKER_MANAGER_TOKEN.
std::string manager_token(const cli_config& cfg);

/// Waits until `connected()` says true, up to --zk-timeout; else the error.
caf::error wait_zk(const cli_config& cfg, const std::function<bool()>& connected);

/// A JSON argument as given: the text itself, `@FILE` for a file's content,
/// `-` for standard input; `what` names it in errors.
caf::expected<json> json_value(const std::string& arg, const std::string& what);

/// The JSON-ARGs as one encoded JSON array.
caf::expected<slacker::bytes> json_args(const std::vector<std::string>& args);

/// A result's bytes as JSON (as a string when they are not JSON).
json parse_result(const slacker::bytes& bytes);

/// A direct call to one server, JSON in and out.
caf::expected<json> call_server(caf::actor_system& sys, const std::string& addr,
                                const std::string& fn, const slacker::bytes& args,
                                std::chrono::milliseconds timeout,
                                const std::string& token = {});

/// The call's extensions: each `-H KEY=VALUE`, and the manager token when
/// one is given; an error for a malformed one.
caf::expected<slacker::extensions> call_extensions(const cli_config& cfg);

/// A manager function of the server at `addr`, called directly.
caf::expected<json> manager_call(caf::actor_system& sys, const cli_config& cfg,
                                 const std::string& addr, const std::string& fn,
                                 json args);

/// Prints the server's state after a change: its namespaces in routing and
/// out of it, and its server-data. Returns the exit status.
int print_state(caf::actor_system& sys, const cli_config& cfg, const std::string& addr);

/// The call policy flags as cluster options; the exit status after printing
/// the error when one is bad, else 0.
int policy_options(const cli_config& cfg, slacker::cluster_options& opts);

/// True once the client's registry has read the cluster.
bool client_connected(slacker::cluster_client& sc);

/// The registry's view once it has read the cluster (or the error after
/// --zk-timeout).
caf::expected<slacker::membership_view> current_view(slacker::registry& reg,
                                                     const cli_config& cfg);

/// A fencing token as JSON: incarnation, sequence, session.
json token_json(const slacker::fencing_token& t);

/// Servers with data, namespaces with servers, leader and its token, the
/// view's status.
json members_json(const slacker::membership_view& v);

/// Server-data as JSON (as a string when it is not JSON).
json data_json(const std::string& data);

} // namespace slacker_cli
