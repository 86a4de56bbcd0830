#include "slacker/runtime/detail/portal.hpp"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <caf/actor_system_config.hpp>
#include <caf/config_value.hpp>
#include <caf/settings.hpp>
#include <civetweb.h>
#include <nlohmann/json.hpp>

#include "slacker/messages/error.hpp"
#include "slacker/runtime/config.hpp"
#include "slacker/runtime/detail/metrics.hpp"
#include "slacker/runtime/version.hpp"

namespace slacker::portal {

extern const char* const page_html;
extern const char* const style_css;
extern const char* const script_js;

namespace {

using json = nlohmann::json;

constexpr size_t window_s = 60;   // what the calls page sums over
constexpr size_t n_outcomes = 16; // metrics::call_counts::outcomes
constexpr size_t n_buckets = metrics::bucket_us.size() + 1;

/// One row of call counts at one time (and, for the latest, the gauges the
/// page shows as they are now).
struct counted {
  uint64_t calls = 0;
  std::array<uint64_t, n_outcomes> outcomes{};
  std::array<uint64_t, n_buckets> buckets{};
  int64_t in_flight = 0;
  bool routable = false;  // servers called only
  uint64_t ejections = 0; // servers called only
};

using sample = std::map<std::string, counted>; // "s\tns\tfn" or "c\tcluster\tserver"

/// A minute of call counts, one sample a second, taken by a thread of its
/// own (one wake-up a second while the portal runs): the pages read rates,
/// errors and percentiles from the difference of two samples.
class sampler {
public:
  sampler() : thread_([this] { run(); }) {}

  ~sampler() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  /// The samples, oldest first, and the current counts last.
  std::deque<sample> read() {
    auto now = take();
    std::lock_guard<std::mutex> guard{mtx_};
    auto out = samples_;
    out.push_back(std::move(now));
    return out;
  }

private:
  static sample take() {
    sample out;
    metrics::each_counts([&](const metrics::count_row& r) {
      auto& c = out[std::string{r.served ? "s" : "c"} + '\t' + r.a + '\t' + r.b];
      c.calls = r.counts.calls.load(std::memory_order_relaxed);
      for (size_t i = 0; i < n_outcomes; ++i)
        c.outcomes[i] = r.counts.outcomes[i].load(std::memory_order_relaxed);
      for (size_t i = 0; i < n_buckets; ++i)
        c.buckets[i] = r.counts.buckets[i].load(std::memory_order_relaxed);
      c.in_flight = r.counts.in_flight.load(std::memory_order_relaxed);
      if (r.peer) {
        c.routable = r.peer->routable.load(std::memory_order_relaxed);
        c.ejections = r.peer->ejected_timeouts.load(std::memory_order_relaxed) +
                      r.peer->ejected_slow.load(std::memory_order_relaxed);
      }
    });
    return out;
  }

  void run() {
    std::unique_lock<std::mutex> guard{mtx_};
    while (!stop_) {
      guard.unlock();
      auto s = take();
      guard.lock();
      samples_.push_back(std::move(s));
      while (samples_.size() > window_s)
        samples_.pop_front();
      cv_.wait_for(guard, std::chrono::seconds{1}, [this] { return stop_; });
    }
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<sample> samples_;
  std::thread thread_;
};

/// What `install` was given, for the handlers.
struct portal_state {
  std::string token;
  std::string config;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::string address;
};

portal_state& state() {
  static portal_state s;
  return s;
}

sampler& samples() {
  static sampler s; // after the metrics registry: it goes before the registry
  return s;
}

const char* outcome_name(size_t i) {
  if (i == 0)
    return "ok";
  if (i < n_outcomes - 1)
    return to_string(static_cast<sc>(i));
  return "other";
}

/// Rates, errors and percentiles over the samples, per row.
json calls_json() {
  auto all = samples().read();
  auto& now = all.back();
  auto& first = all.front();
  auto seconds = std::max<size_t>(1, all.size() - 1);
  json served = json::array();
  json client = json::array();
  for (auto& [key, c] : now) {
    auto tab1 = key.find('\t');
    auto tab2 = key.find('\t', tab1 + 1);
    auto a = key.substr(tab1 + 1, tab2 - tab1 - 1);
    auto b = key.substr(tab2 + 1);
    counted before;
    if (auto i = first.find(key); i != first.end())
      before = i->second;
    counted d;
    d.calls = c.calls - before.calls;
    uint64_t failed = 0;
    json errors = json::object();
    for (size_t i = 0; i < n_outcomes; ++i) {
      d.outcomes[i] = c.outcomes[i] - before.outcomes[i];
      if (i > 0 && d.outcomes[i] > 0) {
        errors[outcome_name(i)] = d.outcomes[i];
        failed += d.outcomes[i];
      }
    }
    for (size_t i = 0; i < n_buckets; ++i)
      d.buckets[i] = c.buckets[i] - before.buckets[i];
    json series = json::array(); // calls per second, oldest first, whole seconds
    for (size_t i = 1; i + 1 < all.size(); ++i) {
      auto cur = all[i].find(key);
      auto prev = all[i - 1].find(key);
      uint64_t n = cur == all[i].end() ? 0 : cur->second.calls;
      uint64_t m = prev == all[i - 1].end() ? 0 : prev->second.calls;
      series.push_back(n - std::min(n, m));
    }
    json row{{"calls", d.calls},
             {"rate", static_cast<double>(d.calls) / static_cast<double>(seconds)},
             {"errors", errors},
             {"error_rate", static_cast<double>(failed) / static_cast<double>(seconds)},
             {"p50_us", metrics::percentile_us(d.buckets, 0.5)},
             {"p99_us", metrics::percentile_us(d.buckets, 0.99)},
             {"in_flight", c.in_flight},
             {"series", series}};
    if (key[0] == 's') {
      row["ns"] = a;
      row["fn"] = b;
      served.push_back(std::move(row));
    } else {
      row["cluster"] = a;
      row["server"] = b;
      row["routable"] = c.routable;
      row["ejections"] = c.ejections;
      client.push_back(std::move(row));
    }
  }
  return {{"window_s", seconds}, {"served", served}, {"client", client}};
}

json parts_json(const std::string& section) {
  json parts = json::array();
  for (auto& [title, text] : metrics::read_status(section)) {
    auto data = json::parse(text, nullptr, false);
    if (data.is_discarded())
      data = json{{"error", "unreadable"}};
    parts.push_back({{"title", title}, {"data", std::move(data)}});
  }
  return parts;
}

json overview_json() {
  auto& st = state();
  auto up = std::chrono::steady_clock::now() - st.started;
  return {
      {"process",
       {{"pid", static_cast<int64_t>(getpid())},
        {"version", slacker::version()},
        {"uptime_ms", std::chrono::duration_cast<std::chrono::milliseconds>(up).count()},
        {"address", st.address}}},
      {"parts", parts_json("overview")}};
}

json connections_json() {
  auto now = metrics::now_ms();
  json links = json::array();
  for (auto& l : metrics::links())
    links.push_back({{"side", l->side},
                     {"peer", l->peer},
                     {"cluster", l->cluster},
                     {"tls", l->tls},
                     {"in_flight", l->in_flight.load(std::memory_order_relaxed)},
                     {"calls", l->calls.load(std::memory_order_relaxed)},
                     {"bytes_in", l->bytes_in.load(std::memory_order_relaxed)},
                     {"bytes_out", l->bytes_out.load(std::memory_order_relaxed)},
                     {"age_ms", now - l->opened_ms},
                     {"idle_ms", now - l->last_ms.load(std::memory_order_relaxed)}});
  return {{"links", links}};
}

/// The first value of `name` in the query string, or empty.
std::string query_value(const mg_request_info* info, const char* name) {
  if (!info->query_string)
    return {};
  char buf[512];
  auto n = mg_get_var(info->query_string, std::strlen(info->query_string), name, buf,
                      sizeof(buf));
  return n > 0 ? std::string{buf, static_cast<size_t>(n)} : std::string{};
}

/// Compares in time that depends on the length of `want` only.
bool same(const std::string& got, const std::string& want) {
  unsigned diff = got.size() == want.size() ? 0 : 1;
  for (size_t i = 0; i < want.size(); ++i)
    diff |= static_cast<unsigned>(want[i] ^ (i < got.size() ? got[i] : 0));
  return diff == 0;
}

/// The token, when one is asked: `?token=`, or `Authorization: Bearer`.
bool allowed(mg_connection* conn) {
  auto& want = state().token;
  if (want.empty())
    return true;
  auto* info = mg_get_request_info(conn);
  if (same(query_value(info, "token"), want))
    return true;
  if (auto* auth = mg_get_header(conn, "Authorization");
      auth && std::strncmp(auth, "Bearer ", 7) == 0)
    return same(auth + 7, want);
  return false;
}

/// Answers with the portal's headers: nothing but the process may be
/// reached by what it serves.
int reply(mg_connection* conn, int status, const char* type, const std::string& body) {
  return metrics::http_reply(conn, status, type, body,
                             "X-Content-Type-Options: nosniff\r\n"
                             "Content-Security-Policy: default-src 'none'; script-src "
                             "'self'; style-src 'self'; connect-src 'self'; img-src "
                             "'self'; frame-ancestors 'none'\r\n");
}

int refuse(mg_connection* conn) {
  return reply(conn, 401, "application/json",
               "{\"error\":\"this portal asks for its token: ?token=... or "
               "Authorization: Bearer ...\"}\n");
}

int on_page(mg_connection* conn, void*) {
  if (!allowed(conn))
    return refuse(conn);
  return reply(conn, 200, "text/html; charset=utf-8", page_html);
}

int on_style(mg_connection* conn, void*) {
  // The style and script carry no data: served without the token, so that
  // a page opened with it loads them.
  return reply(conn, 200, "text/css; charset=utf-8", style_css);
}

int on_icon(mg_connection* conn, void*) {
  return metrics::http_reply(conn, 204, "image/x-icon", {});
}

int on_script(mg_connection* conn, void*) {
  return reply(conn, 200, "text/javascript; charset=utf-8", script_js);
}

enum class api { overview, cluster, calls, connections, config };

int on_api(mg_connection* conn, void* which) {
  if (!allowed(conn))
    return refuse(conn);
  json body;
  {
    metrics::forget_caf_logger guard;
    switch (static_cast<api>(reinterpret_cast<intptr_t>(which))) {
      case api::overview:
        body = overview_json();
        break;
      case api::cluster:
        body = {{"parts", parts_json("cluster")}};
        break;
      case api::calls:
        body = calls_json();
        break;
      case api::connections:
        body = connections_json();
        break;
      case api::config:
        body = {{"settings", json::parse(state().config, nullptr, false)}};
        break;
    }
  }
  return reply(conn, 200, "application/json", body.dump() + "\n");
}

/// Whether a setting's value is a secret (shown masked).
bool secret(const std::string& name) {
  for (auto* word : {"token", "auth", "password", "secret", "passphrase"})
    if (name.find(word) != std::string::npos)
      return true;
  return false;
}

/// Every setting of `dict` under `prefix`, flattened (`slacker.tls.ca`).
void flatten(const caf::settings& dict, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  for (auto& [key, value] : dict) {
    auto name = prefix.empty() ? std::string{key} : prefix + "." + std::string{key};
    if (auto* nested = caf::get_if<caf::settings>(&value))
      flatten(*nested, name, out);
    else if (auto* str = caf::get_if<std::string>(&value))
      out[name] = *str;
    else
      out[name] = caf::to_string(value);
  }
}

std::string text_of(caf::string_view x) {
  return std::string{x.begin(), x.end()};
}

} // namespace

std::string config_report(const caf::actor_system_config& cfg) {
  std::map<std::string, std::string> now;
  flatten(cfg.content, "", now);
  std::map<std::string, std::string> file;
  if (!cfg.config_file_path.empty())
    if (auto parsed =
            caf::actor_system_config::parse_config_file(cfg.config_file_path.c_str()))
      flatten(*parsed, "", file);
  // Every slacker option declared, set or not; and any other slacker.*
  // setting a program made.
  std::map<std::string, std::string> described;
  if (auto* declared = dynamic_cast<const slacker::config*>(&cfg))
    for (auto& opt : declared->declared())
      if (auto name = text_of(opt.full_name()); name.rfind("slacker.", 0) == 0)
        described[name] = text_of(opt.description());
  for (auto& [name, value] : now)
    if (name.rfind("slacker.", 0) == 0)
      described.emplace(name, "");
  json out = json::array();
  for (auto& [name, what] : described) {
    auto i = now.find(name);
    if (i == now.end()) {
      out.push_back(
          {{"name", name}, {"value", ""}, {"source", "default"}, {"about", what}});
      continue;
    }
    const char* source = "program"; // set by its code, from its own flags
    if (given_on_command_line(name))
      source = "command line";
    else if (auto j = file.find(name); j != file.end() && j->second == i->second)
      source = "file";
    auto shown = secret(name) && !i->second.empty() ? "(set, not shown)" : i->second;
    out.push_back(
        {{"name", name}, {"value", shown}, {"source", source}, {"about", what}});
  }
  // CAF's own settings that decide how calls run.
  for (auto* name : {"scheduler.max-threads", "scheduler.policy", "middleman.workers",
                     "work-stealing.relaxed-sleep-duration"})
    if (auto i = now.find(name); i != now.end())
      out.push_back(
          {{"name", name}, {"value", i->second}, {"source", "CAF"}, {"about", ""}});
  return out.dump();
}

void install(mg_context* ctx, std::string token, std::string config) {
  auto& st = state();
  st.token = std::move(token);
  st.config = std::move(config);
  if (auto* ports = mg_get_option(ctx, "listening_ports"))
    st.address = ports;
  samples(); // starts the sampler
  for (auto* path : {"/$", "/cluster$", "/calls$", "/connections$", "/config$"})
    mg_set_request_handler(ctx, path, on_page, nullptr);
  mg_set_request_handler(ctx, "/portal.css$", on_style, nullptr);
  mg_set_request_handler(ctx, "/portal.js$", on_script, nullptr);
  mg_set_request_handler(ctx, "/favicon.ico$", on_icon, nullptr); // none: no 404
  auto add = [&](const char* path, api which) {
    mg_set_request_handler(ctx, path, on_api,
                           reinterpret_cast<void*>(static_cast<intptr_t>(which)));
  };
  add("/api/overview$", api::overview);
  add("/api/cluster$", api::cluster);
  add("/api/calls$", api::calls);
  add("/api/connections$", api::connections);
  add("/api/config$", api::config);
}

} // namespace slacker::portal
