#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

addresses round_robin(const grouping_view& view, uint64_t& turn) {
  if (view.servers.empty())
    return {};
  return {view.servers[turn++ % view.servers.size()].addr};
}

} // namespace slacker::grouping
