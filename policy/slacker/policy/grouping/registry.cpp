#include "slacker/messages/names.hpp"
#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

#include <algorithm>
#include <map>
#include <mutex>

namespace slacker {

constexpr name_entry<grouping_kind> grouping_names[] = {
    {grouping_kind::random, "random"},
    {grouping_kind::all, "all"},
    {grouping_kind::first, "first"},
    {grouping_kind::leader, "leader"},
    {grouping_kind::least_in_flight, "least-in-flight"},
    {grouping_kind::weighted, "weighted"},
    {grouping_kind::round_robin, "round-robin"},
};

const char* to_string(grouping_kind x) {
  return name_in(grouping_names, x);
}

template <> std::vector<std::string> all_names<grouping_kind>() {
  return names_in(grouping_names);
}

bool from_string(const std::string& name, grouping_kind& out) {
  auto text = name;
  std::replace(text.begin(), text.end(), '_', '-');
  return value_in(grouping_names, text, out);
}

const std::string& grouping_view::server_data(const std::string& addr) const {
  static const std::string none;
  for (auto& s : servers)
    if (s.addr == addr)
      return s.data;
  return none;
}

grouping_policy grouping_named(const std::string& name) {
  if (grouping_kind kind; from_string(name, kind))
    return kind;
  return grouping_name{name};
}

std::string name_of(const grouping_policy& policy) {
  if (auto kind = std::get_if<grouping_kind>(&policy))
    return to_string(*kind);
  if (auto named = std::get_if<grouping_name>(&policy))
    return named->name;
  return {};
}

namespace grouping {

policy::~policy() = default;

void policy::update(const grouping_view&) {
  // nop: most policies read the view they are given in `select`
}

void policy::feedback(const call_feedback&) {
  // nop
}

bool policy::reads_in_flight() const {
  return false;
}

bool policy::wants_feedback() const {
  return false;
}

namespace {

/// Name -> factory, the built-ins first. A function-local static: it exists
/// before any static registration of a user's program runs.
struct registry {
  std::mutex mtx;
  std::vector<std::pair<std::string, factory>> entries;

  registry() {
    entries = {
        {"random", make_random},
        {"all", make_all},
        {"first", make_first},
        {"leader", make_leader},
        {"least-in-flight", make_least_in_flight},
        {"weighted", make_weighted},
        {"round-robin", make_round_robin},
    };
  }

  static registry& get() {
    static registry instance;
    return instance;
  }
};

} // namespace

bool add(const std::string& name, factory make) {
  if (name.empty() || !make)
    return false;
  auto& r = registry::get();
  std::lock_guard<std::mutex> guard{r.mtx};
  for (auto& e : r.entries)
    if (e.first == name)
      return false;
  r.entries.emplace_back(name, std::move(make));
  return true;
}

std::unique_ptr<policy> make(const std::string& name) {
  auto& r = registry::get();
  std::string wanted = name;
  // Built-ins take `least_in_flight` as well as `least-in-flight`.
  if (grouping_kind kind; from_string(name, kind))
    wanted = to_string(kind);
  std::lock_guard<std::mutex> guard{r.mtx};
  for (auto& e : r.entries)
    if (e.first == wanted)
      return e.second();
  return nullptr;
}

std::vector<std::string> names() {
  auto& r = registry::get();
  std::lock_guard<std::mutex> guard{r.mtx};
  std::vector<std::string> out;
  for (auto& e : r.entries)
    out.push_back(e.first);
  return out;
}

} // namespace grouping

} // namespace slacker
