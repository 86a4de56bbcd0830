#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

addresses random(const grouping_view& view, std::mt19937_64& rng) {
  if (view.servers.empty())
    return {};
  std::uniform_int_distribution<size_t> pick{0, view.choosable() - 1};
  return {view.servers[view.nth(pick(rng))].addr};
}

std::unique_ptr<policy> make_random() {
  return std::make_unique<drawing_policy<random>>();
}

} // namespace slacker::grouping
