// The apps' command lines: CLI11 parses and documents them (help with
// defaults, plain errors, exit code 2 for usage); CAF's configuration keeps
// the dotted keys (`--slacker.log-level=debug`, `--caf.*`, `--middleman.*`,
// caf-application.ini), which pass through untouched.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <caf/actor_system_config.hpp>

namespace slacker_apps {

/// The exit code of a usage error (unknown command or option, a missing or
/// malformed argument).
constexpr int usage_exit = 2;

/// A command line taken apart: `caf` holds the options whose name has a dot
/// (configuration keys, for CAF), `cli` the rest (for CLI11), both without
/// the program name.
struct split_args {
  std::vector<std::string> cli;
  std::vector<std::string> caf;
};
split_args split(int argc, char** argv);

/// TLS files, the manager token and ZooKeeper credentials: the same flags in
/// every app, forwarded to slacker's configuration keys.
struct security_options {
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string manager_token;
  std::string zk_auth;
  bool insecure = false;

  /// Adds the flags to `app` (`--insecure` only for a server).
  void add_to(CLI::App& app, bool server);

  /// Appends the given flags as `--slacker.tls.certificate=...` and so on.
  void forward(std::vector<std::string>& caf_args) const;
};

/// The first line of `path` (a secret kept out of argv); a CLI11 validation
/// error naming `flag` when it cannot be read or is empty.
std::string read_secret(const std::string& path, const std::string& flag);

/// Parses `args` with `app`. Returns -1 when the program should go on, else
/// its exit code: 0 after printing help or the version, `usage_exit` after
/// printing `PROGRAM: WHAT` and a pointer to --help on stderr.
int parse(CLI::App& app, std::vector<std::string> args);

/// Parses the configuration keys (and caf-application.ini) into `cfg`.
/// Returns -1 when the program should go on, else its exit code (a usage
/// error, printed).
int parse_config(caf::actor_system_config& cfg, const std::string& program,
                 const std::vector<std::string>& caf_args);

} // namespace slacker_apps
