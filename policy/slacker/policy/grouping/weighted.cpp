#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

#include <nlohmann/json.hpp>

namespace slacker::grouping {

double weight_of(const std::string& server_data) {
  auto doc = nlohmann::json::parse(server_data, nullptr, false);
  if (doc.is_object()) {
    auto i = doc.find("weight");
    if (i != doc.end() && i->is_number() && i->get<double>() >= 0)
      return i->get<double>();
  }
  return 1;
}

// Weight 0 takes a server out, unless every weight is 0: then uniform.
std::optional<size_t> weighted_index(const grouping_view& view, std::mt19937_64& rng) {
  if (view.servers.empty())
    return std::nullopt;
  auto n = view.choosable();
  std::vector<double> weights;
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    weights.push_back(view.servers[view.nth(i)].weight);
    total += weights.back();
  }
  if (total <= 0)
    return random_index(view, rng);
  std::discrete_distribution<size_t> pick{weights.begin(), weights.end()};
  return view.nth(pick(rng));
}

addresses weighted(const grouping_view& view, std::mt19937_64& rng) {
  return address_of(view, weighted_index(view, rng));
}

std::unique_ptr<policy> make_weighted() {
  return std::make_unique<drawing_policy<weighted>>();
}

} // namespace slacker::grouping
