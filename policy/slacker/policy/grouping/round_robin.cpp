#include "slacker/policy/detail/groupings.hpp"
#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

addresses round_robin(const grouping_view& view, uint64_t& turn) {
  if (view.servers.empty())
    return {};
  return {view.servers[view.nth(turn++ % view.choosable())].addr};
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
