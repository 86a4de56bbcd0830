#include "slacker/runtime/detail/metrics.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <sstream>

#include <caf/actor_system_config.hpp>
#include <caf/config_value.hpp>
#include <caf/logger.hpp>
#include <civetweb.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "slacker/messages/error.hpp"
#include "slacker/runtime/detail/portal.hpp"

namespace slacker::metrics {

namespace {

std::atomic<bool> on{false};

struct gauge {
  std::string name;
  std::string labels;
  std::string help;
  std::function<double()> read;
};

struct health_part {
  std::string what;
  std::function<std::string()> check;
};

/// A part of the portal's data. Read outside the registry's lock (a read
/// may ask an actor): its own mutex keeps it from going while it is read.
struct status_part {
  std::string section;
  std::string title;
  std::mutex mtx;
  std::function<std::string()> read; // empty once its handle went
};

/// Everything counted, behind one lock for the maps (the counters are
/// atomics: a call takes the lock shared, to find its entry).
struct registry {
  std::shared_mutex mtx;
  /// ns -> fn -> counts; found by name without a copy (each served call).
  std::map<std::string,
           std::map<std::string, std::unique_ptr<served_counts>, std::less<>>,
           std::less<>>
      served;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<peer_counts>> peers;
  std::list<gauge> gauges;
  std::list<health_part> health;
  std::list<std::shared_ptr<status_part>> status;
  std::list<std::weak_ptr<link_counts>> links;
  mg_context* http = nullptr;
  std::string address;
};

registry& reg() {
  static registry r;
  return r;
}

/// Removes a list element when the last copy of the handle goes.
template <class T>
std::shared_ptr<void> handle_of(std::list<T>& list, typename std::list<T>::iterator i) {
  return std::shared_ptr<void>(nullptr, [&list, i](void*) {
    std::unique_lock<std::shared_mutex> guard{reg().mtx};
    list.erase(i);
  });
}

std::string escape(const std::string& value) {
  std::string out;
  for (auto c : value) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

const char* outcome_name(size_t i) {
  if (i == 0)
    return "ok";
  if (i <= static_cast<size_t>(sc::outcome_unknown))
    return to_string(static_cast<sc>(i));
  return "other";
}

/// A metric's HELP and TYPE lines, once before its samples.
void header(std::ostream& out, const std::string& name, const std::string& help,
            const char* type) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

/// One family of call metrics (`prefix_calls_total`, ...) for many label sets.
void render_calls(std::ostream& out, const std::string& prefix, const std::string& what,
                  const std::vector<std::pair<std::string, const call_counts*>>& rows) {
  header(out, prefix + "_calls_total", what + ": calls", "counter");
  for (auto& [labels, c] : rows)
    out << prefix << "_calls_total{" << labels << "} " << c->calls.load() << "\n";
  header(out, prefix + "_errors_total", what + ": failed calls by error code", "counter");
  for (auto& [labels, c] : rows)
    for (size_t i = 1; i < c->outcomes.size(); ++i)
      if (auto n = c->outcomes[i].load(); n > 0)
        out << prefix << "_errors_total{" << labels << ",code=\"" << outcome_name(i)
            << "\"} " << n << "\n";
  header(out, prefix + "_in_flight", what + ": calls under way", "gauge");
  for (auto& [labels, c] : rows)
    out << prefix << "_in_flight{" << labels << "} " << c->in_flight.load() << "\n";
  header(out, prefix + "_latency_seconds", what + ": call latency", "histogram");
  for (auto& [labels, c] : rows) {
    uint64_t total = 0;
    for (size_t i = 0; i < c->buckets.size(); ++i) {
      total += c->buckets[i].load();
      out << prefix << "_latency_seconds_bucket{" << labels << ",le=\"";
      if (i < bucket_us.size())
        out << static_cast<double>(bucket_us[i]) / 1e6;
      else
        out << "+Inf";
      out << "\"} " << total << "\n";
    }
    out << prefix << "_latency_seconds_sum{" << labels << "} "
        << static_cast<double>(c->sum_us.load()) / 1e6 << "\n";
    out << prefix << "_latency_seconds_count{" << labels << "} " << total << "\n";
  }
}

/// Answers with what `produce` returns (status, body) as `type`.
template <class F> int respond(mg_connection* conn, const char* type, F produce) {
  std::pair<int, std::string> answer;
  {
    forget_caf_logger guard;
    answer = produce();
  }
  return http_reply(conn, answer.first, type, answer.second);
}

int on_metrics(mg_connection* conn, void*) {
  return respond(conn, "text/plain; version=0.0.4; charset=utf-8",
                 [] { return std::make_pair(200, render()); });
}

/// /health and /health/ready: every check (registered, not draining, the
/// view of ZooKeeper current); 503 with the reasons otherwise.
int on_health(mg_connection* conn, void*) {
  return respond(conn, "application/json", [] { return health(); });
}

/// /health/live: the process answers (a restart would not help a server
/// that is only draining or waiting for ZooKeeper).
int on_live(mg_connection* conn, void*) {
  return respond(conn, "application/json",
                 [] { return std::make_pair(200, std::string{"{\"live\":true}\n"}); });
}

int on_log(const mg_connection*, const char* message) {
  spdlog::debug("metrics endpoint: {}", message);
  return 1; // civetweb prints nothing itself
}

} // namespace

double percentile_us(const std::array<uint64_t, bucket_us.size() + 1>& buckets,
                     double q) noexcept {
  uint64_t total = 0;
  for (auto n : buckets)
    total += n;
  if (total == 0)
    return 0;
  auto want = q * static_cast<double>(total);
  double seen = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    auto lo = i == 0 ? 0.0 : static_cast<double>(bucket_us[i - 1]);
    if (i == bucket_us.size()) // past the last bound: say the bound
      return lo;
    auto n = static_cast<double>(buckets[i]);
    if (buckets[i] > 0 && seen + n >= want)
      return lo + (static_cast<double>(bucket_us[i]) - lo) * (want - seen) / n;
    seen += n;
  }
  return 0;
}

forget_caf_logger::~forget_caf_logger() {
  caf::logger::set_current_actor_system(nullptr);
}

int http_reply(mg_connection* conn, int status, const char* type, const std::string& body,
               const char* headers) {
  const char* reason = status == 200   ? "OK"
                       : status == 204 ? "No Content"
                       : status == 401 ? "Unauthorized"
                       : status == 503 ? "Service Unavailable"
                                       : "Not Found";
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
            status, reason, type, body.size(), headers);
  mg_write(conn, body.data(), body.size());
  return status;
}

bool enabled() noexcept {
  return on.load(std::memory_order_relaxed);
}

void call_counts::record(uint64_t us, const caf::error& err) {
  calls.fetch_add(1, std::memory_order_relaxed);
  size_t outcome = 0;
  if (err) {
    auto code = static_cast<size_t>(code_of(err));
    outcome = code == 0 || code >= outcomes.size() - 1 ? outcomes.size() - 1 : code;
  }
  outcomes[outcome].fetch_add(1, std::memory_order_relaxed);
  auto b = std::lower_bound(bucket_us.begin(), bucket_us.end(), us) - bucket_us.begin();
  buckets[static_cast<size_t>(b)].fetch_add(1, std::memory_order_relaxed);
  sum_us.fetch_add(us, std::memory_order_relaxed);
}

served_counts& served(const std::string& ns, const std::string& fn) {
  auto& r = reg();
  {
    std::shared_lock<std::shared_mutex> guard{r.mtx};
    if (auto i = r.served.find(ns); i != r.served.end())
      if (auto j = i->second.find(fn); j != i->second.end())
        return *j->second;
  }
  std::unique_lock<std::shared_mutex> guard{r.mtx};
  auto& slot = r.served[ns][fn];
  if (!slot)
    slot = std::make_unique<served_counts>();
  return *slot;
}

std::shared_ptr<peer_counts> peer(const std::string& cluster, const std::string& addr) {
  auto& r = reg();
  std::unique_lock<std::shared_mutex> guard{r.mtx};
  auto& slot = r.peers[std::make_pair(cluster, addr)];
  if (!slot)
    slot = std::make_shared<peer_counts>();
  return slot;
}

std::shared_ptr<void> add_gauge(std::string name, std::string labels, std::string help,
                                std::function<double()> read) {
  auto& r = reg();
  std::unique_lock<std::shared_mutex> guard{r.mtx};
  r.gauges.push_back(
      {std::move(name), std::move(labels), std::move(help), std::move(read)});
  return handle_of(r.gauges, std::prev(r.gauges.end()));
}

std::shared_ptr<void> add_health(std::string what, std::function<std::string()> check) {
  auto& r = reg();
  std::unique_lock<std::shared_mutex> guard{r.mtx};
  r.health.push_back({std::move(what), std::move(check)});
  return handle_of(r.health, std::prev(r.health.end()));
}

int64_t now_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void link_counts::moved(uint64_t in, uint64_t out) noexcept {
  if (in > 0)
    bytes_in.fetch_add(in, std::memory_order_relaxed);
  if (out > 0)
    bytes_out.fetch_add(out, std::memory_order_relaxed);
  last_ms.store(now_ms(), std::memory_order_relaxed);
}

std::shared_ptr<link_counts> track_link(std::string side, std::string peer,
                                        std::string cluster, bool tls) {
  if (!enabled())
    return nullptr;
  auto out = std::make_shared<link_counts>();
  out->side = std::move(side);
  out->peer = std::move(peer);
  out->cluster = std::move(cluster);
  out->tls = tls;
  out->opened_ms = now_ms();
  out->last_ms = out->opened_ms;
  auto& r = reg();
  std::unique_lock<std::shared_mutex> guard{r.mtx};
  // Closed ones go as new ones come: the list stays as long as the open.
  r.links.remove_if([](auto& w) { return w.expired(); });
  r.links.push_back(out);
  return out;
}

std::vector<std::shared_ptr<link_counts>> links() {
  auto& r = reg();
  std::shared_lock<std::shared_mutex> guard{r.mtx};
  std::vector<std::shared_ptr<link_counts>> out;
  for (auto& w : r.links)
    if (auto l = w.lock())
      out.push_back(std::move(l));
  return out;
}

std::shared_ptr<void> add_status(std::string section, std::string title,
                                 std::function<std::string()> read) {
  auto part = std::make_shared<status_part>();
  part->section = std::move(section);
  part->title = std::move(title);
  part->read = std::move(read);
  auto& r = reg();
  std::unique_lock<std::shared_mutex> guard{r.mtx};
  r.status.push_back(part);
  auto i = std::prev(r.status.end());
  return std::shared_ptr<void>(nullptr, [i, part](void*) {
    {
      std::unique_lock<std::shared_mutex> guard{reg().mtx};
      reg().status.erase(i);
    }
    std::lock_guard<std::mutex> guard{part->mtx}; // waits for a read under way
    part->read = nullptr;
  });
}

std::vector<std::pair<std::string, std::string>> read_status(const std::string& section) {
  std::vector<std::shared_ptr<status_part>> parts;
  {
    auto& r = reg();
    std::shared_lock<std::shared_mutex> guard{r.mtx};
    for (auto& p : r.status)
      if (p->section == section)
        parts.push_back(p);
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& p : parts) {
    std::lock_guard<std::mutex> guard{p->mtx};
    if (p->read) {
      forget_caf_logger guard_logger;
      out.emplace_back(p->title, p->read());
    }
  }
  return out;
}

void each_counts(const std::function<void(const count_row&)>& f) {
  auto& r = reg();
  std::shared_lock<std::shared_mutex> guard{r.mtx};
  for (auto& [ns, fns] : r.served)
    for (auto& [fn, c] : fns)
      f({true, ns, fn, *c, nullptr});
  for (auto& [key, c] : r.peers)
    f({false, key.first, key.second, *c, c.get()});
}

std::string render() {
  auto& r = reg();
  std::ostringstream out;
  std::shared_lock<std::shared_mutex> guard{r.mtx};
  std::vector<std::pair<std::string, const call_counts*>> rows;
  for (auto& [ns, fns] : r.served)
    for (auto& [fn, c] : fns)
      rows.emplace_back("ns=\"" + escape(ns) + "\",fn=\"" + escape(fn) + "\"", c.get());
  render_calls(out, "slacker_server", "functions served by this process", rows);
  header(out, "slacker_server_sent_to_workers_total",
         "times a function run inline held the network thread 2 ms or more and was sent "
         "to the workers for a penalty",
         "counter");
  for (auto& [ns, fns] : r.served)
    for (auto& [fn, c] : fns)
      out << "slacker_server_sent_to_workers_total{ns=\"" << escape(ns) << "\",fn=\""
          << escape(fn) << "\"} " << c->sent_to_workers.load() << "\n";
  rows.clear();
  for (auto& [key, c] : r.peers)
    rows.emplace_back("cluster=\"" + escape(key.first) + "\",server=\"" +
                          escape(key.second) + "\"",
                      c.get());
  render_calls(out, "slacker_client",
               "calls this process's cluster clients sent per server", rows);
  header(out, "slacker_client_routable", "1 while a server may be chosen for calls",
         "gauge");
  for (auto& [key, c] : r.peers)
    out << "slacker_client_routable{cluster=\"" << escape(key.first) << "\",server=\""
        << escape(key.second) << "\"} " << (c->routable.load() ? 1 : 0) << "\n";
  header(out, "slacker_client_ejections_total",
         "times a server was taken out of routing (reason: timeouts in a row, or slow "
         "against its peers)",
         "counter");
  for (auto& [key, c] : r.peers)
    for (auto [reason, n] :
         {std::pair<const char*, uint64_t>{"timeouts", c->ejected_timeouts.load()},
          {"slow", c->ejected_slow.load()}})
      out << "slacker_client_ejections_total{cluster=\"" << escape(key.first)
          << "\",server=\"" << escape(key.second) << "\",reason=\"" << reason << "\"} "
          << n << "\n";
  // Each gauge's HELP and TYPE once, before all of its series.
  std::vector<const gauge*> gauges;
  for (auto& g : r.gauges)
    gauges.push_back(&g);
  std::stable_sort(gauges.begin(), gauges.end(),
                   [](auto* a, auto* b) { return a->name < b->name; });
  std::string last;
  for (auto* gp : gauges) {
    auto& g = *gp;
    if (g.name != last)
      header(out, g.name, g.help, "gauge");
    last = g.name;
    out << g.name;
    if (!g.labels.empty())
      out << "{" << g.labels << "}";
    out << " " << g.read() << "\n";
  }
  return out.str();
}

std::pair<int, std::string> health() {
  auto& r = reg();
  nlohmann::json problems = nlohmann::json::object();
  std::shared_lock<std::shared_mutex> guard{r.mtx};
  for (auto& part : r.health)
    if (auto why = part.check(); !why.empty())
      problems[part.what] = why;
  bool fine = problems.empty();
  nlohmann::json body{{"healthy", fine}};
  if (!fine)
    body["problems"] = problems;
  return {fine ? 200 : 503, body.dump() + "\n"};
}

caf::error serve(const std::string& host_port, std::string token, std::string config) {
  auto& r = reg();
  std::unique_lock<std::shared_mutex> guard{r.mtx};
  if (r.http) {
    if (r.address == host_port)
      return {};
    return make_error(sc::invalid_request, "metrics are served on " + r.address +
                                               " already, not also on " + host_port);
  }
  const char* options[] = {"listening_ports", host_port.c_str(),
                           // Enough threads that a few slow peers (one
                           // byte at a time) leave /health answering, and
                           // a shorter wait for each of their reads.
                           "num_threads", "10", "request_timeout_ms", "2000", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = on_log;
  mg_init_library(0);
  auto* ctx = mg_start(&callbacks, nullptr, options);
  if (!ctx)
    return make_error(sc::invalid_request, "cannot serve metrics on " + host_port +
                                               " (taken, or not HOST:PORT)");
  mg_set_request_handler(ctx, "/metrics$", on_metrics, nullptr);
  mg_set_request_handler(ctx, "/health$", on_health, nullptr);
  mg_set_request_handler(ctx, "/health/ready$", on_health, nullptr);
  mg_set_request_handler(ctx, "/health/live$", on_live, nullptr);
  r.http = ctx; // runs until the process ends
  r.address = host_port;
  on = true;
  guard.unlock(); // the portal's sampler reads the registry
  portal::install(ctx, std::move(token), std::move(config));
  spdlog::info("metrics: serving /metrics, /health, /health/ready and /health/live on "
               "{}, and the status portal at http://{}/",
               host_port, host_port);
  return {};
}

caf::error serve_from(const caf::actor_system_config& cfg) {
  auto where = caf::get_or(cfg, "slacker.metrics", std::string{});
  if (where.empty())
    return {};
  auto token = caf::get_or(cfg, "slacker.portal.token", std::string{});
  if (auto* env = std::getenv("SLACKER_PORTAL_TOKEN"); token.empty() && env)
    token = env;
  return serve(where, std::move(token), portal::config_report(cfg));
}

} // namespace slacker::metrics
