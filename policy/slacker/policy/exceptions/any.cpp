#include "slacker/policy/exceptions.hpp"

namespace slacker::exceptions {

std::optional<caf::error> any(const std::string& what,
                              const std::vector<server_result>& successes,
                              const std::vector<server_failure>& failures) {
  if (failures.empty())
    return std::nullopt;
  return combine(what, failures, successes.size() + failures.size());
}

} // namespace slacker::exceptions
