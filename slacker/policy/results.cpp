#include "slacker/policy/results.hpp"

namespace slacker {

const char* to_string(results_kind x) {
  switch (x) {
    case results_kind::single:
      return "single";
    case results_kind::vector:
      return "vector";
    case results_kind::map:
      return "map";
    case results_kind::nil:
      return "nil";
  }
  return "unknown";
}

bool from_string(const std::string& name, results_kind& out) {
  for (auto k :
       {results_kind::single, results_kind::vector, results_kind::map, results_kind::nil})
    if (name == to_string(k)) {
      out = k;
      return true;
    }
  return false;
}

} // namespace slacker
