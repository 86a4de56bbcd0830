#include "apps/support/cli.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>

#include "slacker/messages/error.hpp"
#include "slacker/runtime/config.hpp"

namespace slacker_apps {

split_args split(int argc, char** argv) {
  split_args out;
  bool rest = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!rest && arg == "--")
      rest = true;
    // `--a.b=v`: a configuration key, whatever stands after the `=`;
    // `--config-file=F`: CAF's INI file of such keys (docs/deployment.md).
    auto name = arg.substr(0, arg.find('='));
    if (!rest && arg.rfind("--", 0) == 0 &&
        (name.find('.') != std::string::npos || name == "--config-file"))
      out.caf.push_back(arg);
    else
      out.cli.push_back(arg);
  }
  return out;
}

std::string read_secret(const std::string& path, const std::string& flag) {
  std::ifstream in{path};
  std::string line;
  if (!in || !std::getline(in, line))
    throw CLI::ValidationError(flag, "cannot read " + path);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  if (line.empty())
    throw CLI::ValidationError(flag, path + " is empty");
  return line;
}

void security_options::add_to(CLI::App& app, bool server) {
  auto group = "Security";
  app.add_option("--tls-cert", tls_cert,
                 "PEM certificate: mutual TLS with --tls-key, --tls-ca")
      ->type_name("FILE")
      ->group(group);
  app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert")
      ->type_name("FILE")
      ->group(group);
  app.add_option("--tls-ca", tls_ca, "PEM CA that signs the peers' certificates")
      ->type_name("FILE")
      ->group(group);
  // Secrets: from a file or the environment rather than argv, which every
  // user of the host can read (ps).
  auto* token =
      app.add_option(
             "--manager-token", manager_token,
             server ? "the secret manager writes must carry (default: loopback callers "
                      "only); visible in ps: prefer --manager-token-file or "
                      "$SLACKER_MANAGER_TOKEN"
                    : "the secret sent with manager writes and direct calls; visible in "
                      "ps: prefer --manager-token-file or $SLACKER_MANAGER_TOKEN")
          ->type_name("SECRET")
          ->envname("SLACKER_MANAGER_TOKEN")
          ->group(group);
  // FLAG: the first line of a file into `secret`, instead of `inline_flag`.
  auto from_file = [&](const std::string& flag, std::string& secret,
                       CLI::Option* inline_flag, const std::string& what) {
    app.add_option_function<std::string>(
           flag,
           [&secret, flag](const std::string& path) { secret = read_secret(path, flag); },
           "a file holding " + what + " (its first line)")
        ->type_name("FILE")
        ->check(CLI::ExistingFile)
        ->excludes(inline_flag)
        ->group(group);
  };
  from_file("--manager-token-file", manager_token, token, "the manager token");
  auto* zk = app.add_option("--zk-auth", zk_auth,
                            "ZooKeeper digest credentials; visible in ps: prefer "
                            "--zk-auth-file or $SLACKER_ZK_AUTH")
                 ->type_name("USER:PASSWORD")
                 ->envname("SLACKER_ZK_AUTH")
                 ->group(group);
  from_file("--zk-auth-file", zk_auth, zk, "the ZooKeeper credentials USER:PASSWORD");
  if (server)
    app.add_flag(
           "--insecure", insecure,
           "without TLS, take peers that are not on loopback (trusted networks only)")
        ->group(group);
}

void security_options::forward(std::vector<std::string>& caf_args) const {
  auto add = [&](const char* key, const std::string& value) {
    if (!value.empty())
      caf_args.push_back(std::string{"--"} + key + "=" + value);
  };
  add("slacker.tls.certificate", tls_cert);
  add("slacker.tls.key", tls_key);
  add("slacker.tls.ca", tls_ca);
  add("slacker.manager.token", manager_token);
  add("slacker.zk.auth", zk_auth);
  if (insecure)
    caf_args.emplace_back("--slacker.insecure");
}

int parse(CLI::App& app, std::vector<std::string> args) {
  std::reverse(args.begin(), args.end()); // CLI11 takes them last first
  try {
    app.parse(args);
    return -1;
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::cout << app.version() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    // The innermost command that was named: its help is the one to read.
    auto* cmd = &app;
    while (!cmd->get_subcommands().empty())
      cmd = cmd->get_subcommands().front();
    auto path = app.get_name() + (cmd == &app ? "" : " " + cmd->get_name());
    std::cerr << app.get_name() << ": " << e.what() << "\nRun '" << path
              << " --help' for more.\n";
    return usage_exit;
  }
}

int parse_config(caf::actor_system_config& cfg, const std::string& program,
                 const std::vector<std::string>& caf_args) {
  std::vector<std::string> args{program};
  args.insert(args.end(), caf_args.begin(), caf_args.end());
  std::vector<char*> ptrs;
  for (auto& a : args)
    ptrs.push_back(a.data());
  ptrs.push_back(nullptr);
  if (auto err = cfg.parse(static_cast<int>(args.size()), ptrs.data())) {
    std::cerr << program << ": " << caf::actor_system_config::render(err) << "\n";
    return usage_exit;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  // A --metrics address it cannot serve on stops the program at start.
  if (auto err = slacker::start_metrics(cfg)) {
    std::cerr << "error: " << slacker::describe(err) << "\n";
    return 1;
  }
  return -1;
}

} // namespace slacker_apps
