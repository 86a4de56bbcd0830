// The scale bench (`bench --scale=2,8,32,64`): for each cluster size N, N
// bench servers (processes) registered in one cluster of a ZooKeeper of its
// own, and one long-lived cluster client in this process. Per N: formation
// time, idle CPU and wakeups per server, random and all+map p50/p99 (one call
// at a time), calls/s at 16 in flight, the client's ZooKeeper requests for
// one server joining and one leaving, and the client's RSS under load.
#include "bench_scale.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "apps/support/proc_status.hpp"
#include "apps/support/process.hpp"
#include "slacker/cluster/cluster_client.hpp"
#include "slacker/messages/atoms.hpp"
#include "slacker/registry/detail/registrar.hpp"
#include "slacker/registry/registry.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

/// Context switches per thread name (threads of one name summed) and CPU time
/// in ns (the scheduler's own count, finer than clock ticks) of process `pid`.
struct threads_usage {
  std::map<std::string, long> switches;
  std::map<std::string, int> threads; // how many threads carry each name
  long long cpu_ns = 0;
};

threads_usage threads_of(pid_t pid) {
  threads_usage u;
  auto dir = "/proc/" + std::to_string(pid) + "/task";
  if (auto d = opendir(dir.c_str())) {
    while (auto e = readdir(d)) {
      if (e->d_name[0] == '.')
        continue;
      auto task = dir + "/" + e->d_name;
      std::string name;
      std::getline(std::ifstream{task + "/comm"}, name);
      long long ns = 0;
      if (std::ifstream{task + "/schedstat"} >> ns)
        u.cpu_ns += ns;
      std::ifstream status{task + "/status"};
      std::string key;
      long value = 0, sum = 0;
      while (status >> key) {
        if (key == "voluntary_ctxt_switches:" || key == "nonvoluntary_ctxt_switches:") {
          status >> value;
          sum += value;
        } else {
          status.ignore(4096, '\n');
        }
      }
      u.switches[name] += sum;
      ++u.threads[name];
    }
    closedir(d);
  }
  return u;
}

/// Context switches of all threads of `u`.
long total_switches(const threads_usage& u) {
  long out = 0;
  for (auto& [name, n] : u.switches)
    out += n;
  return out;
}

/// CPU ticks (user + system) and context switches of process `pid` so far.
struct usage {
  long ticks = 0;
  long switches = 0;
};

usage usage_of(pid_t pid) {
  usage u;
  std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  std::getline(stat, line);
  auto paren = line.rfind(')');
  if (paren != std::string::npos) {
    std::istringstream rest{line.substr(paren + 2)};
    std::string field;
    for (int i = 3; i <= 15 && rest >> field; ++i)
      if (i == 14 || i == 15)
        u.ticks += std::stol(field);
  }
  u.switches = total_switches(threads_of(pid));
  return u;
}

double pct(std::vector<double> xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return xs[std::min(xs.size() - 1,
                     static_cast<size_t>(q * static_cast<double>(xs.size())))];
}

/// The client's ZooKeeper requests so far (reads + writes).
uint64_t zk_requests(caf::actor_system& sys, slacker::cluster_client& sc) {
  caf::scoped_actor self{sys};
  uint64_t out = 0;
  self->request(sc.registry_actor(), std::chrono::seconds{10},
                slacker::zk_requests_atom::value)
      .receive([&](std::vector<uint64_t>& n) { out = n[0] + n[1]; }, [](caf::error&) {});
  return out;
}

/// Waits (bounded) until the client knows `n` servers of `bench`.
bool wait_servers(slacker::cluster_client& sc, size_t n, std::chrono::seconds limit) {
  // Listed in the namespace and as a server: callable (a server's own node
  // is written after its namespaces; a call to all made before it goes to
  // the others only).
  auto v = sc.wait_until(
      [n](auto& view) {
        auto i = view.namespaces.find("bench");
        size_t callable = 0;
        if (i != view.namespaces.end())
          for (auto& addr : i->second)
            callable += view.servers.count(addr);
        return callable == n;
      },
      limit);
  return static_cast<bool>(v);
}

/// The client's requests once they stopped changing for 300 ms (bounded).
uint64_t settled_requests(caf::actor_system& sys, slacker::cluster_client& sc) {
  auto last = zk_requests(sys, sc);
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{300});
    auto now = zk_requests(sys, sc);
    if (now == last)
      return now;
    last = now;
  }
  return last;
}

/// A number from ZooKeeper's four-letter command `cmd` (`srvr`, `mntr`) on
/// 127.0.0.1:`port`: the value on the line starting with `key` (hex after
/// "0x" for the zxid), -1 when not there.
long long four_letter(uint16_t port, const char* cmd, const std::string& key) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
      write(fd, cmd, 4) == 4) {
    char buf[4096];
    for (ssize_t got; (got = read(fd, buf, sizeof(buf))) > 0;)
      out.append(buf, static_cast<size_t>(got));
  }
  close(fd);
  std::istringstream lines{out};
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(key, 0) != 0)
      continue;
    auto value = line.substr(key.size());
    value.erase(0, value.find_first_not_of(" :\t"));
    if (value.rfind("0x", 0) == 0)
      return std::stoll(value.substr(2), nullptr, 16) & 0xffffffffLL; // its counter
    return std::stoll(value);
  }
  return -1;
}

/// The remote ports of this process's established TCP connections.
std::set<unsigned> connected_ports() {
  std::set<std::string> inodes;
  if (auto d = opendir("/proc/self/fd")) {
    while (auto e = readdir(d)) {
      char target[64];
      auto path = std::string{"/proc/self/fd/"} + e->d_name;
      auto len = readlink(path.c_str(), target, sizeof(target) - 1);
      if (len <= 0)
        continue;
      std::string t{target, static_cast<size_t>(len)};
      if (t.rfind("socket:[", 0) == 0)
        inodes.insert(t.substr(8, t.size() - 9));
    }
    closedir(d);
  }
  std::set<unsigned> out;
  std::ifstream tcp{"/proc/net/tcp"};
  std::string line;
  std::getline(tcp, line); // the header
  while (std::getline(tcp, line)) {
    std::istringstream in{line};
    std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
    in >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >>
        inode;
    if (state == "01" && inodes.count(inode) > 0)
      out.insert(std::stoul(remote.substr(remote.find(':') + 1), nullptr, 16));
  }
  return out;
}

struct scale_row {
  size_t n = 0;
  double formation_ms = 0;
  double idle_cpu_pct = 0;           // per server
  double idle_wakeups = 0;           // per server, a second
  double client_idle_wakeups = 0;    // the client process, a second
  double client_watched_wakeups = 0; // the same with a subscriber to reachability
  double random_p50 = 0;
  double random_p99 = 0;
  double all_p50 = 0;
  double all_p99 = 0;
  double rate16 = 0;
  long join_requests = 0;
  long leave_requests = 0;
  long rss_kib = 0;
  double writes_per_server = 0; // ZooKeeper transactions, the servers started at once
  long client_watches = 0;      // the watches one more cluster client holds
};

/// One row of the aperture table: C client processes calling N servers.
struct aperture_row {
  size_t n = 0;
  size_t aperture = 0;
  std::string grouping = "random";
  size_t clients = 0;
  double conns_mean = 0; // servers each client is connected to
  size_t conns_max = 0;
  size_t server_conns_min = 0; // clients each server is connected to
  size_t server_conns_max = 0;
  double calls_max_over_mean = 0; // the busiest server against the mean
  double calls_cv = 0;            // their coefficient of variation
  double p50 = 0;                 // the clients' median p50 and p99, µs
  double p99 = 0;
  double rate = 0;
};

/// Runs `clients` scale clients with `slacker.aperture=aperture` and the
/// default grouping `grouping` against the `servers` (their slacker ports in
/// `ports`) at once.
aperture_row measure_aperture(
    const std::string& self_path, const std::string& zk_addr, const std::string& cluster,
    std::vector<std::unique_ptr<slacker_test::process>>& servers,
    const std::vector<unsigned>& ports, size_t aperture, const std::string& grouping,
    size_t clients, std::chrono::milliseconds duration) {
  aperture_row row;
  row.n = servers.size();
  row.aperture = aperture;
  row.grouping = grouping;
  row.clients = clients;
  auto calls_now = [&] {
    std::vector<double> out;
    for (auto& s : servers) {
      s->write_line("calls");
      auto line = s->wait_for("calls ", 10000);
      out.push_back(line ? std::stod(*line) : 0);
    }
    return out;
  };
  auto before = calls_now();
  std::vector<std::unique_ptr<slacker_test::process>> cs;
  for (size_t i = 0; i < clients; ++i)
    cs.push_back(std::make_unique<slacker_test::process>(std::vector<std::string>{
        self_path, "--role=scale-client", "--zk=" + zk_addr, "--clusters=" + cluster,
        "--servers=" + std::to_string(servers.size()),
        "--millis=" + std::to_string(duration.count()),
        "--slacker.aperture=" + std::to_string(aperture),
        "--slacker.grouping=" + grouping}));
  std::map<unsigned, size_t> per_server;
  std::vector<double> p50s, p99s;
  double total = 0;
  for (auto& c : cs) {
    auto line = c->wait_for("client ", 120000);
    c->stop();
    if (!line)
      continue;
    std::istringstream in{*line};
    double calls = 0, p50 = 0, p99 = 0;
    std::string list;
    in >> calls >> p50 >> p99 >> list;
    total += calls;
    p50s.push_back(p50);
    p99s.push_back(p99);
    size_t mine = 0;
    std::istringstream ps{list};
    for (std::string p; std::getline(ps, p, ',');)
      if (!p.empty() &&
          std::find(ports.begin(), ports.end(), std::stoul(p)) != ports.end()) {
        ++per_server[static_cast<unsigned>(std::stoul(p))];
        ++mine;
      }
    row.conns_mean += static_cast<double>(mine);
    row.conns_max = std::max(row.conns_max, mine);
  }
  row.conns_mean /= static_cast<double>(std::max<size_t>(p50s.size(), 1));
  row.server_conns_min = SIZE_MAX;
  for (auto p : ports) {
    auto k = per_server[p];
    row.server_conns_min = std::min(row.server_conns_min, k);
    row.server_conns_max = std::max(row.server_conns_max, k);
  }
  auto after = calls_now();
  std::vector<double> delta;
  for (size_t i = 0; i < after.size(); ++i)
    delta.push_back(after[i] - before[i]);
  double mean = 0, sq = 0, most = 0;
  for (auto d : delta) {
    mean += d;
    most = std::max(most, d);
  }
  mean /= static_cast<double>(std::max<size_t>(delta.size(), 1));
  for (auto d : delta)
    sq += (d - mean) * (d - mean);
  if (mean > 0) {
    row.calls_max_over_mean = most / mean;
    row.calls_cv = std::sqrt(sq / static_cast<double>(delta.size())) / mean;
  }
  row.p50 = pct(p50s, 0.5);
  row.p99 = pct(p99s, 0.5);
  row.rate = total / std::chrono::duration<double>(duration).count();
  return row;
}

} // namespace

void scale_client(caf::actor_system& sys, const std::string& zk,
                  const std::string& cluster, size_t servers,
                  std::chrono::milliseconds duration) {
  slacker::cluster_client sc{sys, cluster, zk};
  if (!wait_servers(sc, servers, std::chrono::seconds{60})) {
    std::printf("client 0 0 0 -\n");
    return;
  }
  std::vector<std::vector<double>> us(2);
  std::vector<std::thread> callers;
  auto until = clock_type::now() + duration;
  for (auto& mine : us)
    callers.emplace_back([&sc, &mine, until] {
      while (clock_type::now() < until) {
        auto c0 = clock_type::now();
        if (sc.call<int64_t>("bench/echo", int64_t{3}))
          mine.push_back(
              std::chrono::duration<double, std::micro>(clock_type::now() - c0).count());
      }
    });
  for (auto& t : callers)
    t.join();
  std::vector<double> all;
  for (auto& mine : us)
    all.insert(all.end(), mine.begin(), mine.end());
  std::string ports;
  for (auto p : connected_ports())
    ports += std::to_string(p) + ",";
  std::printf("client %zu %.1f %.1f %s\n", all.size(), pct(all, 0.5), pct(all, 0.99),
              ports.c_str());
  std::fflush(stdout);
}

void idle_client(caf::actor_system& sys, const std::string& zk,
                 const std::string& cluster, size_t servers) {
  slacker::cluster_client sc{sys, cluster, zk};
  if (!wait_servers(sc, servers, std::chrono::seconds{60})) {
    std::printf("idle 0\n");
    std::fflush(stdout);
    return;
  }
  slacker::cluster_options all;
  all.grouping = slacker::grouping_kind::all;
  all.results = slacker::results_kind::map;
  all.timeout = std::chrono::seconds{10};
  auto answered = sc.call<std::map<std::string, int64_t>>(all, "bench/echo", int64_t{1});
  if (!answered)
    std::fprintf(stderr, "bench: idle client: the call to all failed: %s\n",
                 slacker::describe(answered.error()).c_str());
  else if (answered->size() != servers)
    std::fprintf(stderr,
                 "bench: idle client: the call to all reached %zu of %zu servers\n",
                 answered->size(), servers);
  auto conns = connected_ports();
  conns.erase(static_cast<unsigned>(std::stoul(zk.substr(zk.rfind(':') + 1))));
  std::printf("idle %zu\n", conns.size());
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line);) {
    // idle until the bench closes stdin
  }
}

namespace {

/// A ZooKeeper of the bench's own (example-zk on a free port); its address,
/// empty when none started.
std::string start_zookeeper(const std::string& zk_path,
                            std::unique_ptr<slacker_test::process>& zk) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto port = std::to_string(20000 + (getpid() * 11 + attempt * 4099) % 20000);
    zk = std::make_unique<slacker_test::process>(
        std::vector<std::string>{zk_path, "--port=" + port});
    if (zk->wait_for("ZooKeeper serving", 30000))
      return "127.0.0.1:" + port;
  }
  std::fprintf(stderr, "bench: no ZooKeeper\n");
  return {};
}

uint16_t port_of(const std::string& addr) {
  return static_cast<uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
}

} // namespace

void run_membership(caf::actor_system& sys, const std::string& zk_path, size_t servers,
                    size_t clients) {
  using namespace std::chrono_literals;
  std::unique_ptr<slacker_test::process> zk;
  auto zk_addr = start_zookeeper(zk_path, zk);
  if (zk_addr.empty())
    return;
  auto zk_port = port_of(zk_addr);
  slacker::zk_options opts;
  opts.zk = zk_addr;
  opts.cluster = "membership";
  opts.session_timeout = 10s;
  std::map<std::string, std::vector<slacker::function_info>> nss;
  nss["bench"].resize(1);
  nss["bench"][0].name = "echo";
  caf::scoped_actor self{sys};
  auto registrar = [&](uint16_t port) {
    return sys.spawn<caf::detached>(slacker::registrar_actor, opts,
                                    std::string{"127.0.0.1"}, port, std::string{"{}"},
                                    nss, false, slacker::zk::session::open);
  };
  auto registered = [&](const slacker::registrar_actor_type& r) {
    bool ok = false;
    self->request(r, 60s, slacker::wait_atom::value)
        .receive([&](bool x) { ok = x; }, [](caf::error&) {});
    return ok;
  };
  // Formation: every registration at once, no client watching yet.
  auto zxid0 = four_letter(zk_port, "srvr", "Zxid");
  auto t0 = clock_type::now();
  std::vector<slacker::registrar_actor_type> regs;
  for (size_t i = 0; i < servers; ++i)
    regs.push_back(registrar(static_cast<uint16_t>(30000 + i)));
  size_t ok = 0;
  for (auto& r : regs)
    ok += registered(r) ? 1 : 0;
  auto formation_ms =
      std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
  std::this_thread::sleep_for(1s); // leaderships written after registration
  auto writes = four_letter(zk_port, "srvr", "Zxid") - zxid0;
  auto watches0 = four_letter(zk_port, "mntr", "zk_watch_count");
  std::fprintf(stderr, "bench: %zu of %zu registered\n", ok, servers);
  // The watching clients.
  auto rss0 = slacker_test::status_kib("self", "VmRSS:");
  std::vector<std::unique_ptr<slacker::registry>> watchers;
  for (size_t i = 0; i < clients; ++i)
    watchers.push_back(std::make_unique<slacker::registry>(sys, opts));
  // Until every client sees `n` servers (bounded); ms taken, -1: not all.
  auto all_see = [&](size_t n, std::chrono::seconds limit) {
    auto c0 = clock_type::now();
    for (auto& w : watchers) {
      auto left = limit - (clock_type::now() - c0);
      if (left <= 0s ||
          !w->wait_until([n](auto& v) { return v.servers.size() == n; },
                         std::chrono::duration_cast<std::chrono::milliseconds>(left)))
        return -1.0;
    }
    return std::chrono::duration<double, std::milli>(clock_type::now() - c0).count();
  };
  auto start_ms = all_see(servers, 120s);
  std::fprintf(stderr, "bench: the clients see them (%.0f ms)\n", start_ms);
  auto rss1 = slacker_test::status_kib("self", "VmRSS:");
  auto watches1 = four_letter(zk_port, "mntr", "zk_watch_count");
  auto reads = [&] {
    uint64_t n = 0;
    for (auto& w : watchers)
      if (auto r = w->zk_requests())
        n += r->reads;
    return n;
  };
  // One server leaves, then joins again, then changes its server-data.
  auto r0 = reads();
  caf::anon_send_exit(regs.back(), caf::exit_reason::user_shutdown);
  regs.pop_back();
  auto leave_ms = all_see(servers - 1, 60s);
  std::fprintf(stderr, "bench: left (%.0f ms)\n", leave_ms);
  std::this_thread::sleep_for(500ms); // the leave's last reads
  auto r1 = reads();
  regs.push_back(registrar(static_cast<uint16_t>(30000 + servers - 1)));
  registered(regs.back());
  auto join_ms = all_see(servers, 60s);
  std::fprintf(stderr, "bench: joined (%.0f ms)\n", join_ms);
  std::this_thread::sleep_for(500ms);
  auto r2 = reads();
  self->request(regs.front(), 10s, slacker::set_data_atom::value,
                std::string{R"({"weight":2})"})
      .receive([](bool) {}, [](caf::error&) {});
  auto c0 = clock_type::now();
  for (auto& w : watchers) {
    auto v = w->wait_until(
        [&](auto& v) {
          auto i = v.servers.begin();
          return i != v.servers.end() && i->second == R"({"weight":2})";
        },
        std::chrono::milliseconds{10000});
    if (!v)
      std::fprintf(stderr, "bench: a client did not see the change\n");
  }
  auto data_ms =
      std::chrono::duration<double, std::milli>(clock_type::now() - c0).count();
  std::this_thread::sleep_for(500ms);
  auto r3 = reads();
  auto per_client = [&](uint64_t a, uint64_t b) {
    return static_cast<double>(b - a) / static_cast<double>(clients);
  };
  double watches =
      static_cast<double>(watches1 - watches0) / static_cast<double>(clients);
  double leave_reads = per_client(r0, r1);
  double join_reads = per_client(r1, r2);
  double data_reads = per_client(r2, r3);
  double kib = static_cast<double>(rss1 - rss0) / static_cast<double>(clients);
  std::printf("membership: %zu servers (%zu registered) and %zu watching clients, one "
              "process, one ZooKeeper\n",
              servers, ok, clients);
  std::printf("  formation: %.0f ms, %.1f write transactions per server\n", formation_ms,
              static_cast<double>(writes) / static_cast<double>(servers));
  std::printf("  clients: all saw every server after %.0f ms; %.1f watches and %.0f KiB "
              "(registry only) each\n",
              start_ms, watches, kib);
  std::printf("  a leave: every client knew in %.0f ms, %.1f reads per client\n",
              leave_ms, leave_reads);
  std::printf("  a join: every client knew in %.0f ms, %.1f reads per client\n", join_ms,
              join_reads);
  std::printf("  a server-data change: every client knew in %.0f ms, %.1f reads per "
              "client\n",
              data_ms, data_reads);
  // Carried to 1,000 servers and 10,000 clients (each cost above is per
  // server or per client and does not depend on the cluster's size).
  const double big_s = 1000, big_c = 10000;
  std::printf("  at 1,000 servers x 10,000 clients: %.0f watches in the ensemble, "
              "%.0f reads per join or leave, %.0f reads for a rolling restart "
              "(each server leaves and joins), %.0f write transactions to form\n",
              watches * big_c, (leave_reads + join_reads) / 2 * big_c,
              (leave_reads + join_reads) * big_c * big_s,
              static_cast<double>(writes) / static_cast<double>(servers) * big_s);
  std::fflush(stdout);
  // Every session closed before ZooKeeper stops (a registrar leaving a
  // ZooKeeper that is gone waits for its timeouts).
  for (auto& r : regs)
    self->send_exit(r, caf::exit_reason::user_shutdown);
  for (auto& r : regs)
    self->wait_for(r);
  watchers.clear();
  zk->signal(SIGTERM);
  zk->stop();
}

void run_scale(caf::actor_system& sys, const std::string& self_path,
               const std::string& zk_path, const std::vector<size_t>& sizes,
               std::chrono::milliseconds duration) {
  std::unique_ptr<slacker_test::process> zk;
  auto zk_addr = start_zookeeper(zk_path, zk);
  if (zk_addr.empty())
    return;
  auto zk_port = port_of(zk_addr);
  long hz = sysconf(_SC_CLK_TCK);
  std::vector<scale_row> rows;
  std::vector<aperture_row> aperture_rows;
  for (auto n : sizes) {
    scale_row row;
    row.n = n;
    auto cluster = "scale-" + std::to_string(n);
    slacker::cluster_client sc{sys, cluster, zk_addr};
    auto server_args = [&] {
      return std::vector<std::string>{self_path, "--role=server", "--zk=" + zk_addr,
                                      "--clusters=" + cluster};
    };
    // Formation: every server started at once, until the client knows all.
    auto zxid0 = four_letter(zk_port, "srvr", "Zxid");
    auto t0 = clock_type::now();
    std::vector<std::unique_ptr<slacker_test::process>> servers;
    for (size_t i = 0; i < n; ++i)
      servers.push_back(std::make_unique<slacker_test::process>(server_args()));
    if (!wait_servers(sc, n, std::chrono::seconds{120})) {
      std::fprintf(stderr, "bench: %zu servers did not all register\n", n);
      break;
    }
    row.formation_ms =
        std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
    std::vector<unsigned> ports; // their slacker ports
    for (auto& s : servers)      // from their "ports" lines
      if (auto line = s->wait_for("ports ", 15000)) {
        std::istringstream in{*line};
        unsigned raw = 0, port = 0;
        in >> raw >> port;
        ports.push_back(port);
      }
    // Every server has written what it owns once its namespace entry is
    // listed; its node and leadership come right after (bounded wait until
    // the transactions stop moving).
    for (long long last = -1, now = 0, i = 0; now != last && i < 50; ++i) {
      last = now;
      std::this_thread::sleep_for(std::chrono::milliseconds{300});
      now = four_letter(zk_port, "srvr", "Zxid");
    }
    row.writes_per_server =
        static_cast<double>(four_letter(zk_port, "srvr", "Zxid") - zxid0) /
        static_cast<double>(n);
    {
      // The watches a cluster client holds: one more, until it knows all.
      auto w0 = four_letter(zk_port, "mntr", "zk_watch_count");
      slacker::cluster_client other{sys, cluster, zk_addr};
      wait_servers(other, n, std::chrono::seconds{30});
      row.client_watches =
          static_cast<long>(four_letter(zk_port, "mntr", "zk_watch_count") - w0);
    }
    // Connected to every server (calls to each), then idle.
    slacker::cluster_options all;
    all.grouping = slacker::grouping_kind::all;
    all.results = slacker::results_kind::map;
    all.timeout = std::chrono::seconds{10};
    sc.call<std::map<std::string, int64_t>>(all, "bench/echo", int64_t{1});
    std::this_thread::sleep_for(std::chrono::seconds{1});
    std::vector<usage> before;
    for (auto& s : servers)
      before.push_back(usage_of(s->pid()));
    auto client_before = usage_of(getpid());
    auto idle_t0 = clock_type::now();
    std::this_thread::sleep_for(std::chrono::seconds{3});
    auto idle_s = std::chrono::duration<double>(clock_type::now() - idle_t0).count();
    row.client_idle_wakeups =
        static_cast<double>(usage_of(getpid()).switches - client_before.switches) /
        idle_s;
    for (size_t i = 0; i < servers.size(); ++i) {
      auto after = usage_of(servers[i]->pid());
      row.idle_cpu_pct += 100.0 * static_cast<double>(after.ticks - before[i].ticks) /
                          static_cast<double>(hz) / idle_s;
      row.idle_wakeups +=
          static_cast<double>(after.switches - before[i].switches) / idle_s;
    }
    row.idle_cpu_pct /= static_cast<double>(n);
    row.idle_wakeups /= static_cast<double>(n);
    {
      // The same idle client with a subscriber to reachability: its idle
      // connections ping (what every client did before).
      auto watcher = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
        self->set_default_handler(caf::drop);
        return {[](int) {
        }};
      });
      sc.subscribe(watcher);
      std::this_thread::sleep_for(std::chrono::milliseconds{600});
      auto b = usage_of(getpid());
      auto t = clock_type::now();
      std::this_thread::sleep_for(std::chrono::seconds{3});
      row.client_watched_wakeups =
          static_cast<double>(usage_of(getpid()).switches - b.switches) /
          std::chrono::duration<double>(clock_type::now() - t).count();
      caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
    }
    // One call at a time: random, then all+map.
    auto sequential = [&](const slacker::cluster_options& opts, bool fan_out) {
      std::vector<double> us;
      auto until = clock_type::now() + duration;
      while (clock_type::now() < until) {
        auto c0 = clock_type::now();
        bool ok =
            fan_out
                ? static_cast<bool>(sc.call<std::map<std::string, int64_t>>(
                      opts, "bench/echo", int64_t{42}))
                : static_cast<bool>(sc.call<int64_t>(opts, "bench/echo", int64_t{42}));
        if (ok)
          us.push_back(
              std::chrono::duration<double, std::micro>(clock_type::now() - c0).count());
      }
      return us;
    };
    auto random_us = sequential(slacker::cluster_options{}, false);
    row.random_p50 = pct(random_us, 0.5);
    row.random_p99 = pct(random_us, 0.99);
    auto all_us = sequential(all, true);
    row.all_p50 = pct(all_us, 0.5);
    row.all_p99 = pct(all_us, 0.99);
    // 16 in flight: 16 callers, each calling again when its call returns.
    std::atomic<long> done{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> callers;
    auto l0 = clock_type::now();
    for (int i = 0; i < 16; ++i)
      callers.emplace_back([&] {
        while (!stop)
          if (sc.call<int64_t>("bench/echo", int64_t{7}))
            ++done;
      });
    std::this_thread::sleep_for(duration);
    row.rss_kib = slacker_test::status_kib("self", "VmRSS:");
    stop = true;
    for (auto& t : callers)
      t.join();
    row.rate16 = static_cast<double>(done) /
                 std::chrono::duration<double>(clock_type::now() - l0).count();
    // The aperture: 8 client processes calling at once, each connected to
    // every server (slacker.aperture=0, as before) or to its aperture; at
    // the largest size, every one-server grouping within the aperture.
    if (n > 12) {
      for (size_t aperture : {size_t{0}, size_t{12}})
        aperture_rows.push_back(measure_aperture(self_path, zk_addr, cluster, servers,
                                                 ports, aperture, "random", 8, duration));
      if (n == *std::max_element(sizes.begin(), sizes.end()))
        for (auto g : {"round-robin", "least-in-flight", "weighted"})
          aperture_rows.push_back(measure_aperture(self_path, zk_addr, cluster, servers,
                                                   ports, 12, g, 8, duration));
    }
    // One server joins, then leaves: the client's ZooKeeper requests for each.
    auto r0 = settled_requests(sys, sc);
    servers.push_back(std::make_unique<slacker_test::process>(server_args()));
    wait_servers(sc, n + 1, std::chrono::seconds{30});
    auto r1 = settled_requests(sys, sc);
    servers.back()->stop();
    servers.pop_back();
    wait_servers(sc, n, std::chrono::seconds{30});
    auto r2 = settled_requests(sys, sc);
    row.join_requests = static_cast<long>(r1 - r0);
    row.leave_requests = static_cast<long>(r2 - r1);
    for (auto& s : servers)
      s->stop();
    rows.push_back(row);
    std::fprintf(stderr, "bench: scale %zu done\n", n);
  }
  std::printf(
      "%7s %12s %10s %13s %13s %13s %10s %10s %10s %10s %12s %9s %9s %9s %9s %9s\n",
      "servers", "formation ms", "idle cpu %", "idle wakeup/s", "idle wakeup/s",
      "idle wakeup/s", "random p50", "random p99", "all p50", "all p99", "calls/s @16",
      "zk join", "zk leave", "rss MiB", "zk writes", "zk watch");
  std::printf(
      "%7s %12s %10s %13s %13s %13s %10s %10s %10s %10s %12s %9s %9s %9s %9s %9s\n", "",
      "", "per server", "per server", "client", "client watched", "us", "us", "us", "us",
      "", "requests", "requests", "client", "/server", "client");
  for (auto& r : rows)
    std::printf("%7zu %12.0f %10.2f %13.1f %13.1f %13.1f %10.1f %10.1f %10.1f %10.1f "
                "%12.0f %9ld %9ld %9.1f %9.1f %9ld\n",
                r.n, r.formation_ms, r.idle_cpu_pct, r.idle_wakeups,
                r.client_idle_wakeups, r.client_watched_wakeups, r.random_p50,
                r.random_p99, r.all_p50, r.all_p99, r.rate16, r.join_requests,
                r.leave_requests, static_cast<double>(r.rss_kib) / 1024.0,
                r.writes_per_server, r.client_watches);
  if (!aperture_rows.empty()) {
    std::printf("\n%7s %8s %-16s %7s %14s %14s %15s %9s %9s %9s %10s\n", "servers",
                "aperture", "grouping", "clients", "conns/client", "conns/server",
                "calls max/mean", "calls cv", "p50 us", "p99 us", "calls/s");
    for (auto& r : aperture_rows)
      std::printf("%7zu %8zu %-16s %7zu %8.1f (%3zu) %9zu-%-4zu %15.2f %9.2f %9.1f %9.1f "
                  "%10.0f\n",
                  r.n, r.aperture, r.grouping.c_str(), r.clients, r.conns_mean,
                  r.conns_max, r.server_conns_min, r.server_conns_max,
                  r.calls_max_over_mean, r.calls_cv, r.p50, r.p99, r.rate);
  }
  zk->signal(SIGTERM);
  zk->stop();
}

namespace {

/// Wakeups a second of each thread name of `pid` between two samples, the
/// busiest first: "name(threads) rate, ...".
std::string breakdown(const threads_usage& a, const threads_usage& b, double s) {
  std::vector<std::pair<double, std::string>> rows;
  for (auto& [name, n] : b.switches) {
    auto i = a.switches.find(name);
    auto d = static_cast<double>(n - (i == a.switches.end() ? 0 : i->second)) / s;
    rows.emplace_back(d, name);
  }
  std::sort(rows.rbegin(), rows.rend());
  std::string out;
  char buf[96];
  for (auto& [rate, name] : rows) {
    std::snprintf(buf, sizeof(buf), "%s%s(%d) %.1f", out.empty() ? "" : ", ",
                  name.c_str(), b.threads.at(name), rate);
    out += buf;
  }
  return out;
}

} // namespace

void run_idle(caf::actor_system& sys, const std::string& self_path,
              const std::string& zk_path, size_t n, size_t clients,
              std::chrono::milliseconds duration,
              const std::vector<std::string>& caf_args) {
  auto with_caf_args = [&](std::vector<std::string> args) {
    args.insert(args.end(), caf_args.begin(), caf_args.end());
    return args;
  };
  using namespace std::chrono_literals;
  std::unique_ptr<slacker_test::process> zk;
  auto zk_addr = start_zookeeper(zk_path, zk);
  if (zk_addr.empty())
    return;
  const std::string cluster = "idle";
  std::vector<std::unique_ptr<slacker_test::process>> servers, cs;
  for (size_t i = 0; i < n; ++i)
    servers.push_back(std::make_unique<slacker_test::process>(with_caf_args(
        {self_path, "--role=server", "--zk=" + zk_addr, "--clusters=" + cluster})));
  {
    slacker::cluster_client sc{sys, cluster, zk_addr};
    if (!wait_servers(sc, n, std::chrono::seconds{120})) {
      std::fprintf(stderr, "bench: %zu servers did not all register\n", n);
      return;
    }
  }
  for (size_t i = 0; i < clients; ++i)
    cs.push_back(std::make_unique<slacker_test::process>(
        with_caf_args({self_path, "--role=idle-client", "--zk=" + zk_addr,
                       "--clusters=" + cluster, "--servers=" + std::to_string(n)})));
  double conns = 0;
  for (auto& c : cs)
    if (auto line = c->wait_for("idle ", 120000))
      conns += std::stod(*line);
  conns /= static_cast<double>(std::max<size_t>(clients, 1));
  // Settled: the connections' handshake timers (slacker.handshake-timeout,
  // 5 s) have fired; the window ends well before the idle timeout (30 s).
  std::this_thread::sleep_for(6s);
  auto sample = [](auto& ps) {
    std::vector<threads_usage> out;
    for (auto& p : ps)
      out.push_back(threads_of(p->pid()));
    return out;
  };
  auto s0 = sample(servers);
  auto c0 = sample(cs);
  auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::clamp<std::chrono::milliseconds>(duration, 3s, 10s));
  auto s1 = sample(servers);
  auto c1 = sample(cs);
  auto secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  struct summary {
    double wake_mean = 0, wake_max = 0, cpu_mean = 0, cpu_max = 0;
  };
  auto summarize = [&](const std::vector<threads_usage>& a,
                       const std::vector<threads_usage>& b) {
    summary out;
    for (size_t i = 0; i < a.size(); ++i) {
      auto w = static_cast<double>(total_switches(b[i]) - total_switches(a[i])) / secs;
      auto cpu = 100.0 * static_cast<double>(b[i].cpu_ns - a[i].cpu_ns) / 1e9 / secs;
      out.wake_mean += w / static_cast<double>(a.size());
      out.cpu_mean += cpu / static_cast<double>(a.size());
      out.wake_max = std::max(out.wake_max, w);
      out.cpu_max = std::max(out.cpu_max, cpu);
    }
    return out;
  };
  auto sv = summarize(s0, s1);
  auto cl = summarize(c0, c1);
  std::printf("idle: %zu servers, %zu idle cluster clients (each connected to %.1f "
              "servers after one call to all), %.1f s\n",
              n, clients, conns, secs);
  std::printf("%-8s %16s %16s %14s %14s\n", "", "wakeups/s mean", "wakeups/s max",
              "cpu % mean", "cpu % max");
  std::printf("%-8s %16.1f %16.1f %14.3f %14.3f\n", "client", cl.wake_mean, cl.wake_max,
              cl.cpu_mean, cl.cpu_max);
  std::printf("%-8s %16.1f %16.1f %14.3f %14.3f\n", "server", sv.wake_mean, sv.wake_max,
              sv.cpu_mean, sv.cpu_max);
  if (!cs.empty())
    std::printf("a client, per thread: %s\n", breakdown(c0[0], c1[0], secs).c_str());
  if (!servers.empty())
    std::printf("a server, per thread: %s\n", breakdown(s0[0], s1[0], secs).c_str());
  std::fflush(stdout);
  for (auto& c : cs)
    c->stop();
  for (auto& s : servers)
    s->stop();
  zk->signal(SIGTERM);
  zk->stop();
}
