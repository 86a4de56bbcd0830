#pragma once

// Certificates for TLS tests, made by the `openssl` command in a temporary
// folder that is removed afterwards: a CA with a node certificate it signed,
// and a second CA with a "rogue" certificate the first CA never saw.

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace slacker_test {

class test_certs {
public:
  test_certs() {
    char tmpl[] = "/tmp/slacker-certs-XXXXXX";
    if (!::mkdtemp(tmpl))
      throw std::runtime_error("cannot make a folder for certificates");
    dir = tmpl;
    make_ca("ca");
    make_signed("ca", "node");
    make_ca("other-ca");
    make_signed("other-ca", "rogue");
  }

  test_certs(const test_certs&) = delete;
  test_certs& operator=(const test_certs&) = delete;

  ~test_certs() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::string path(const std::string& name) const {
    return dir + "/" + name;
  }

  /// The command-line options of a process using `name`'s certificate.
  std::vector<std::string> options(const std::string& name = "node",
                                   const std::string& ca = "ca") const {
    return {"--slacker.tls.certificate=" + path(name + ".pem"),
            "--slacker.tls.key=" + path(name + ".key"),
            "--slacker.tls.ca=" + path(ca + ".pem")};
  }

  std::string dir;

private:
  void run(const std::string& cmd) {
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0)
      throw std::runtime_error("failed: " + cmd);
  }

  void make_ca(const std::string& name) {
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
        " -subj /CN=" +
        name + " -keyout " + path(name + ".key") + " -out " + path(name + ".pem"));
  }

  void make_signed(const std::string& ca, const std::string& name) {
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" +
        name + " -keyout " + path(name + ".key") + " -out " + path(name + ".csr"));
    run("openssl x509 -req -days 2 -in " + path(name + ".csr") + " -CA " +
        path(ca + ".pem") + " -CAkey " + path(ca + ".key") + " -CAcreateserial -out " +
        path(name + ".pem"));
  }
};

} // namespace slacker_test
