// A standalone ZooKeeper for the example (the equivalent of
// `lein run-example-zk`): Debian's ZooKeeper 3.8 on 127.0.0.1, with a
// temporary data directory that is removed again on Ctrl-C.
//   example-zk [--port=2181]
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/all.hpp>

extern char** environ;

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
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
      && write(fd, "srvr", 4) == 4) {
    char buf[512];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
      reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return reply.find("Mode:") != std::string::npos;
}

void caf_main(caf::actor_system&, const zk_config& cfg) {
  namespace fs = std::filesystem;
  char templ[] = "/tmp/slacker-example-zk-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    std::perror("error: cannot create a data directory");
    std::exit(1);
  }
  fs::path dir{templ};
  std::ofstream{dir / "zoo.cfg"} << "tickTime=2000\ninitLimit=10\nsyncLimit=5\n"
                                 << "dataDir=" << (dir / "data").string() << "\n"
                                 << "clientPort=" << cfg.port << "\n"
                                 << "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n"
                                 << "admin.enableServer=false\n"
                                 << "4lw.commands.whitelist=srvr,ruok,stat,mntr\n";
  std::ofstream{dir / "log4j.properties"}
    << "log4j.rootLogger=WARN, FILE\nlog4j.appender.FILE=org.apache.log4j.FileAppender\n"
    << "log4j.appender.FILE.File=" << (dir / "zookeeper.log").string() << "\n"
    << "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
    << "log4j.appender.FILE.layout.ConversionPattern=%d %-5p %c{1}: %m%n\n";
  std::string cp = "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:"
                   "/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-log4j12.jar:"
                   "/usr/share/java/log4j-1.2.jar";
  std::string log4j = "-Dlog4j.configuration=file:" + (dir / "log4j.properties").string();
  std::string conf = (dir / "zoo.cfg").string();
  std::vector<std::string> args{"java", "-Xmx256m", "-cp", cp, log4j,
                                "org.apache.zookeeper.server.quorum.QuorumPeerMain", conf};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  // Ctrl-C reaches this process (sigwait below), not the JVM directly.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  auto out = (dir / "stdout.log").string();
  posix_spawn_file_actions_addopen(&files, 1, out.c_str(), O_WRONLY | O_CREAT, 0644);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "java", &files, &attr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "error: cannot start java (install default-jre-headless)\n");
    fs::remove_all(dir);
    std::exit(1);
  }
  auto stop = [&] {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    fs::remove_all(dir);
  };
  bool ready = false;
  for (int i = 0; i < 150 && !ready; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      std::fprintf(stderr, "error: ZooKeeper exited (port %u taken?); see its log:\n",
                   cfg.port);
      std::ifstream log{dir / "zookeeper.log"};
      std::fprintf(stderr, "%s\n", std::string{std::istreambuf_iterator<char>{log}, {}}.c_str());
      fs::remove_all(dir);
      std::exit(1);
    }
    ready = serving(cfg.port);
    if (!ready)
      std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
  if (!ready) {
    std::fprintf(stderr, "error: ZooKeeper did not serve within 30 s\n");
    stop();
    std::exit(1);
  }
  std::printf("ZooKeeper serving on 127.0.0.1:%u (data in %s); Ctrl-C stops it\n", cfg.port,
              dir.c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  stop();
  std::printf("ZooKeeper stopped\n");
}

} // namespace

CAF_MAIN()
