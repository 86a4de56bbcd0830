#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

std::optional<size_t> random_index(const grouping_view& view, std::mt19937_64& rng) {
  if (view.servers.empty())
    return std::nullopt;
  std::uniform_int_distribution<size_t> pick{0, view.choosable() - 1};
  return view.nth(pick(rng));
}

addresses random(const grouping_view& view, std::mt19937_64& rng) {
  return address_of(view, random_index(view, rng));
}

addresses address_of(const grouping_view& view, std::optional<size_t> i) {
  if (!i)
    return {};
  return {view.servers[*i].addr};
}

std::unique_ptr<policy> make_random() {
  return std::make_unique<drawing_policy<random>>();
}

} // namespace slacker::grouping
