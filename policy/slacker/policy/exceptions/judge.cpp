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
  for (auto& f : failures)
    text += "; " + f.addr + ": " + describe(f.err);
  auto code = failures.empty() ? sc::unavailable : code_of(failures.front().err);
  return make_error(code == sc::none ? sc::connection_broken : code, std::move(text));
}

} // namespace exceptions

std::optional<caf::error> judge(const exceptions_policy& policy, const std::string& what,
                                const std::vector<server_result>& successes,
                                const std::vector<server_failure>& failures) {
  if (auto fn = std::get_if<exceptions_fn>(&policy); fn && *fn)
    return (*fn)(successes, failures);
  if (auto q = std::get_if<quorum>(&policy); q && successes.size() < q->k)
    return exceptions::short_of(what, q->k, successes.size(), failures,
                                successes.size() + failures.size());
  auto kind = std::get_if<exceptions_kind>(&policy);
  if (kind && *kind == exceptions_kind::any)
    return exceptions::any(what, successes, failures);
  return exceptions::all(what, successes, failures);
}

} // namespace slacker
