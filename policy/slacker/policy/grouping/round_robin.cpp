#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

std::optional<size_t> round_robin_index(const grouping_view& view, uint64_t& turn) {
  if (view.servers.empty())
    return std::nullopt;
  return view.nth(turn++ % view.choosable());
}

addresses round_robin(const grouping_view& view, uint64_t& turn) {
  return address_of(view, round_robin_index(view, turn));
}

namespace {

/// Takes the candidates in turn: one turn per client, over all namespaces.
class round_robin_policy final : public policy {
public:
  addresses select(const grouping_call& call) override {
    return round_robin(call.view, turn_);
  }

private:
  uint64_t turn_ = 0;
};

} // namespace

std::unique_ptr<policy> make_round_robin() {
  return std::make_unique<round_robin_policy>();
}

} // namespace slacker::grouping
