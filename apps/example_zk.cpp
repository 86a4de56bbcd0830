// A standalone ZooKeeper for the example (the equivalent of
// `lein run-example-zk`): Debian's ZooKeeper 3.8 on 127.0.0.1, with a
// temporary data directory that is removed again when it stops (Ctrl-C,
// SIGTERM, SIGHUP). Its JVM dies with it whatever ends it, even SIGKILL.
//   example-zk [--port=2181]
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "slacker/runtime/signals.hpp"

namespace {

struct zk_config : caf::actor_system_config {
  uint16_t port = 2181;
  zk_config() {
    opt_group{custom_options_, "global"}.add(port, "port", "client port (default 2181)");
  }
};

/// True when the server answers `srvr` with its mode: it really serves.
bool serving(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      write(fd, "srvr", 4) == 4) {
    char buf[512];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
      reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return reply.find("Mode:") != std::string::npos;
}

/// True when nothing listens on 127.0.0.1:`port` (a bind succeeds).
bool port_free(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

/// True when process `pid` holds the socket listening on `port` (so the
/// ZooKeeper answering there is ours, not another one).
bool listens_on(pid_t pid, uint16_t port) {
  char want[16];
  std::snprintf(want, sizeof(want), ":%04X", port);
  std::string inode;
  // A JVM's sockets are IPv6 ones (127.0.0.1 as ::ffff:127.0.0.1): both tables.
  for (auto table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream tcp{table};
    std::string line;
    std::getline(tcp, line); // header
    while (std::getline(tcp, line)) {
      std::istringstream in{line};
      std::string slot, local, remote, state, queues, timer, retr, uid, timeout, node;
      in >> slot >> local >> remote >> state >> queues >> timer >> retr >> uid >>
          timeout >> node;
      if (state == "0A" && local.size() > 5 && local.substr(local.size() - 5) == want)
        inode = node;
    }
  }
  if (inode.empty())
    return false;
  std::error_code ec;
  for (auto& fd :
       std::filesystem::directory_iterator{"/proc/" + std::to_string(pid) + "/fd", ec}) {
    std::error_code ec2;
    auto target = std::filesystem::read_symlink(fd.path(), ec2);
    if (!ec2 && target.string() == "socket:[" + inode + "]")
      return true;
  }
  return false;
}

void caf_main(caf::actor_system&, const zk_config& cfg) {
  namespace fs = std::filesystem;
  if (!port_free(cfg.port)) {
    std::fprintf(stderr,
                 "error: port %u on 127.0.0.1 is taken (another ZooKeeper?); "
                 "choose one with --port\n",
                 cfg.port);
    std::exit(1);
  }
  // Folders of example-zk processes that were SIGKILLed (nothing else can
  // leave one behind): their owner is gone.
  std::error_code ec;
  for (auto& old : fs::directory_iterator{"/tmp", ec}) {
    if (old.path().filename().string().rfind("slacker-example-zk-", 0) != 0)
      continue;
    pid_t owner = 0;
    std::ifstream{old.path() / "owner"} >> owner;
    if (owner > 0 && kill(owner, 0) != 0 && errno == ESRCH)
      fs::remove_all(old.path(), ec);
  }
  char templ[] = "/tmp/slacker-example-zk-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    std::perror("error: cannot create a data directory");
    std::exit(1);
  }
  fs::path dir{templ};
  std::ofstream{dir / "owner"} << getpid() << "\n";
  std::ofstream{dir / "zoo.cfg"} << "tickTime=2000\ninitLimit=10\nsyncLimit=5\n"
                                 << "dataDir=" << (dir / "data").string() << "\n"
                                 << "clientPort=" << cfg.port << "\n"
                                 << "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n"
                                 << "admin.enableServer=false\n"
                                 << "4lw.commands.whitelist=srvr,ruok,stat,mntr\n";
  std::ofstream{dir / "log4j.properties"}
      << "log4j.rootLogger=WARN, "
         "FILE\nlog4j.appender.FILE=org.apache.log4j.FileAppender\n"
      << "log4j.appender.FILE.File=" << (dir / "zookeeper.log").string() << "\n"
      << "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
      << "log4j.appender.FILE.layout.ConversionPattern=%d %-5p %c{1}: %m%n\n";
  std::string cp = "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:"
                   "/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-log4j12.jar:"
                   "/usr/share/java/log4j-1.2.jar";
  std::string log4j = "-Dlog4j.configuration=file:" + (dir / "log4j.properties").string();
  std::string conf = (dir / "zoo.cfg").string();
  std::vector<std::string> args{
      "java", "-Xmx256m", "-cp",
      cp,     log4j,      "org.apache.zookeeper.server.quorum.QuorumPeerMain",
      conf};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  // The stop signals are blocked since main: Ctrl-C reaches this process
  // (wait_stop_signal below), not the JVM directly.
  auto out = (dir / "stdout.log").string();
  auto parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("error: cannot start java");
    fs::remove_all(dir);
    std::exit(1);
  }
  if (pid == 0) {
    // The JVM dies with this process, however it ends (even SIGKILL).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(1);
    setpgid(0, 0); // a Ctrl-C in the terminal reaches this process only
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvp("java", argv.data());
    _exit(127);
  }
  auto stop = [&] {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    fs::remove_all(dir);
  };
  bool ready = false;
  for (int i = 0; i < 150 && !ready; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        std::fprintf(stderr, "error: cannot start java (install default-jre-headless)\n");
        fs::remove_all(dir);
        std::exit(1);
      }
      std::fprintf(stderr, "error: ZooKeeper exited (port %u taken?); see its log:\n",
                   cfg.port);
      std::ifstream log{dir / "zookeeper.log"};
      std::fprintf(stderr, "%s\n",
                   std::string{std::istreambuf_iterator<char>{log}, {}}.c_str());
      fs::remove_all(dir);
      std::exit(1);
    }
    ready = serving(cfg.port) && listens_on(pid, cfg.port);
    if (!ready)
      std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
  if (!ready) {
    std::fprintf(stderr, "error: ZooKeeper did not serve within 30 s\n");
    stop();
    std::exit(1);
  }
  std::printf("ZooKeeper serving on 127.0.0.1:%u (data in %s); Ctrl-C stops it\n",
              cfg.port, dir.c_str());
  std::fflush(stdout);
  slacker::wait_stop_signal();
  slacker::on_further_stop_signals(
      "example-zk: stopping ZooKeeper; send another signal to "
      "force");
  stop();
  std::printf("ZooKeeper stopped\n");
}

} // namespace

int main(int argc, char** argv) {
  slacker::block_stop_signals(); // before CAF starts threads: they inherit it
  return caf::exec_main<>(caf_main, argc, argv);
}
