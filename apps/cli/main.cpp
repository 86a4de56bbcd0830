// slacker: call and operate a cluster from the shell. JSON in, JSON out.
// `slacker --help` lists the commands, `slacker COMMAND --help` their options
// (docs/cli.md). Errors: `error: <code>: <message>` on stderr, exit 1; usage
// errors (unknown command or option, a missing argument): exit 2.
// Each command is one file of this folder; this one parses and dispatches.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "apps/cli/command.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/signals.hpp"
#include "slacker/runtime/version.hpp"

namespace {

using slacker_cli::cli_config;
using slacker_cli::command;

/// The commands in the order --help lists them.
std::vector<command> all_commands() {
  using namespace slacker_cli;
  return {call_command(),    load_command(),   inspect_command(),
          members_command(), watch_command(),  server_data_command(),
          offline_command(), online_command(), shutdown_command()};
}

/// The command first: flags given before it belong to it. False (after the
/// error) when the first word names no command.
bool command_first(const CLI::App& app, std::vector<std::string>& words) {
  auto i = std::find_if(words.begin(), words.end(),
                        [](auto& w) { return w.empty() || w[0] != '-'; });
  if (i == words.end())
    return true;
  auto known =
      app.get_subcommands([&](const CLI::App* c) { return c->get_name() == *i; });
  if (known.empty()) {
    std::cerr << "slacker: unknown command " << *i
              << "\nRun 'slacker --help' for more.\n";
    return false;
  }
  std::rotate(words.begin(), i, i + 1);
  return true;
}

} // namespace

int main(int argc, char** argv) {
  // Stop signals are blocked before CAF starts threads; `watch` ends cleanly
  // on one, every other command at once (exit status 128 + signal).
  slacker::block_stop_signals();
  auto parts = slacker_apps::split(argc, argv);
  cli_config cfg;
  CLI::App app{
      "Calls and operates a slacker cluster from the shell: JSON in, JSON out.\n"
      "Configuration keys (--slacker.log-level=debug, --caf.*) pass through to CAF, "
      "as does --config-file=FILE (an INI file of them).",
      "slacker"};
  app.set_version_flag("--version", std::string{"slacker "} + slacker::version());
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();
  auto commands = all_commands();
  for (auto& c : commands)
    c.define(*app.add_subcommand(c.name, c.help), cfg);
  app.footer("Run 'slacker COMMAND --help' for a command's options.");
  if (!command_first(app, parts.cli))
    return slacker_apps::usage_exit;
  if (auto rc = slacker_apps::parse(app, parts.cli); rc >= 0)
    return rc;
  cfg.command = app.get_subcommands().front()->get_name();
  auto& cmd = *std::find_if(commands.begin(), commands.end(),
                            [&](auto& c) { return cfg.command == c.name; });
  if (cfg.command != "watch")
    slacker::exit_on_stop_signal();
  // CAF's configuration: slacker's keys given as flags, then the ones given
  // as keys (which win). The tool speaks through its results and its one
  // error line; the library's log is there with --slacker.log-level=warn.
  slacker::config sys_cfg;
  sys_cfg.set("slacker.log-level", "critical");
  std::vector<std::string> keys;
  cfg.security.forward(keys);
  if (!cfg.metrics.empty())
    keys.push_back("--slacker.metrics=" + cfg.metrics);
  keys.insert(keys.end(), parts.caf.begin(), parts.caf.end());
  if (auto rc = slacker_apps::parse_config(sys_cfg, "slacker", keys); rc >= 0)
    return rc;
  auto rc = 0;
  std::promise<void> stopped;
  {
    caf::actor_system sys{sys_cfg};
    rc = cmd.run(sys, cfg);
    // The command is done and has said so. The actor system's end waits for
    // every actor, and the registry's waits out a ZooKeeper call under way
    // (one that ZooKeeper leaves unanswered takes the client's receive
    // timeout, then the next one may too): a tool does not wait for that.
    std::cout.flush();
    std::cerr.flush();
    std::thread{[rc, done = stopped.get_future()] {
      if (done.wait_for(std::chrono::seconds{1}) != std::future_status::ready)
        std::_Exit(rc);
    }}.detach();
  }
  stopped.set_value();
  return rc;
}
