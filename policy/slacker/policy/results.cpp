#include "slacker/policy/results.hpp"
#include "slacker/messages/names.hpp"

namespace slacker {

constexpr name_entry<results_kind> results_names[] = {
    {results_kind::single, "single"},
    {results_kind::vector, "vector"},
    {results_kind::map, "map"},
    {results_kind::nil, "nil"},
};

const char* to_string(results_kind x) {
  return name_in(results_names, x);
}

template <> std::vector<std::string> all_names<results_kind>() {
  return names_in(results_names);
}

bool from_string(const std::string& name, results_kind& out) {
  return value_in(results_names, name, out);
}

} // namespace slacker
