#include "slacker/messages/names.hpp"
#include "slacker/policy/exceptions.hpp"

#include "slacker/messages/error.hpp"

namespace slacker {

constexpr name_entry<exceptions_kind> exceptions_names[] = {
    {exceptions_kind::all, "all"},
    {exceptions_kind::any, "any"},
};

const char* to_string(exceptions_kind x) {
  return name_in(exceptions_names, x);
}

template <> std::vector<std::string> all_names<exceptions_kind>() {
  return names_in(exceptions_names);
}

bool from_string(const std::string& name, exceptions_kind& out) {
  return value_in(exceptions_names, name, out);
}

namespace exceptions {

caf::error combine(const std::string& what, const std::vector<server_failure>& failures,
                   size_t servers) {
  if (servers == 1 && failures.size() == 1)
    return failures.front().err; // already names the function and the server
  std::string text = what + " failed on " + std::to_string(failures.size()) + " of " +
                     std::to_string(servers) + " server(s): ";
  for (size_t i = 0; i < failures.size(); ++i) {
    if (i > 0)
      text += "; ";
    text += failures[i].addr + ": " + describe(failures[i].err);
  }
  auto code = failures.empty() ? sc::exception : code_of(failures.front().err);
  return make_error(code == sc::none ? sc::connection_broken : code, std::move(text));
}

caf::error short_of(const std::string& what, size_t k, size_t successes,
                    const std::vector<server_failure>& failures, size_t servers) {
  std::string text = what + ": quorum of " + std::to_string(k) +
                     " not reached: " + std::to_string(successes) + " of " +
                     std::to_string(servers) + " server(s) succeeded";
  if (servers < k)
    text += " (only " + std::to_string(servers) + " server(s) were called)";
  for (auto& f : failures)
    text += "; " + f.addr + ": " + describe(f.err);
  auto code = failures.empty() ? sc::unavailable : code_of(failures.front().err);
  return make_error(code == sc::none ? sc::connection_broken : code, std::move(text));
}

} // namespace exceptions

namespace exceptions {

namespace {

verdict settle(std::optional<caf::error> err) {
  if (err && *err)
    return verdict::fail(std::move(*err));
  return verdict::succeed();
}

} // namespace

verdict decide(const exceptions_policy& policy, const progress& p) {
  auto done = p.pending.empty();
  if (auto fn = std::get_if<decide_fn>(&policy)) {
    if (*fn) {
      auto v = (*fn)(p.successes, p.failures, p.pending);
      if (v.what != verdict::kind::wait || !done)
        return v;
    }
    // `wait` once nothing is pending judges as `all` does.
    return done ? settle(all(p.what, p.successes, p.failures)) : verdict::wait();
  }
  if (auto q = std::get_if<quorum>(&policy)) {
    if (p.successes.size() >= q->k)
      return verdict::succeed();
    if (p.successes.size() + p.pending.size() < q->k)
      return verdict::fail(short_of(p.what, q->k, p.successes.size(), p.failures,
                                    p.successes.size() + p.failures.size()));
    return verdict::wait();
  }
  if (auto fn = std::get_if<exceptions_fn>(&policy)) {
    // A user function judges once every answer is in.
    if (!done)
      return verdict::wait();
    return settle(*fn ? (*fn)(p.successes, p.failures)
                      : all(p.what, p.successes, p.failures));
  }
  if (std::get<exceptions_kind>(policy) == exceptions_kind::any) {
    if (!p.failures.empty() || done)
      return settle(any(p.what, p.successes, p.failures));
    return verdict::wait();
  }
  if (done)
    return settle(all(p.what, p.successes, p.failures));
  return p.one_result && !p.successes.empty() ? verdict::succeed() : verdict::wait();
}

} // namespace exceptions

std::optional<caf::error> judge(const exceptions_policy& policy, const std::string& what,
                                const std::vector<server_result>& successes,
                                const std::vector<server_failure>& failures) {
  std::vector<std::string> none;
  auto v = exceptions::decide(policy, {what, successes, failures, none, false});
  if (v.what == verdict::kind::fail)
    return std::move(v.err);
  return std::nullopt;
}

} // namespace slacker
