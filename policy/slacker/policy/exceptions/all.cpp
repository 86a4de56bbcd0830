#include "slacker/policy/exceptions.hpp"

namespace slacker::exceptions {

std::optional<caf::error> all(const std::string& what,
                              const std::vector<server_result>& successes,
                              const std::vector<server_failure>& failures) {
  if (!successes.empty() || failures.empty())
    return std::nullopt;
  return combine(what, failures, failures.size());
}

} // namespace slacker::exceptions
