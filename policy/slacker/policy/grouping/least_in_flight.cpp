#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

// Ties are broken at random, so that idle servers share the load.
addresses least_in_flight(const grouping_view& view, std::mt19937_64& rng) {
  if (view.servers.empty())
    return {};
  auto n = view.choosable();
  size_t best = view.servers[view.nth(0)].in_flight;
  for (size_t i = 0; i < n; ++i)
    best = std::min(best, view.servers[view.nth(i)].in_flight);
  std::vector<const candidate*> idlest;
  for (size_t i = 0; i < n; ++i)
    if (auto& s = view.servers[view.nth(i)]; s.in_flight == best)
      idlest.push_back(&s);
  std::uniform_int_distribution<size_t> pick{0, idlest.size() - 1};
  return {idlest[pick(rng)]->addr};
}

std::unique_ptr<policy> make_least_in_flight() {
  return std::make_unique<drawing_policy<least_in_flight, true>>();
}

} // namespace slacker::grouping
