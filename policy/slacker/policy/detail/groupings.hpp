#pragma once

// The built-in groupings' policy objects (one file each under grouping/),
// registered under their names by grouping/registry.cpp.

#include <memory>
#include <random>

#include "slacker/policy/grouping.hpp"

namespace slacker::grouping {

/// A built-in that is a plain function of the view.
template <addresses (*Select)(const grouping_view&)>
class view_policy final : public policy {
public:
  addresses select(const grouping_call& call) override {
    return Select(call.view);
  }
};

/// A built-in that draws at random, with a generator of its own; `Load`:
/// it reads the calls in flight.
template <addresses (*Select)(const grouping_view&, std::mt19937_64&), bool Load = false>
class drawing_policy final : public policy {
public:
  addresses select(const grouping_call& call) override {
    return Select(call.view, rng_);
  }
  bool reads_in_flight() const override {
    return Load;
  }

private:
  std::mt19937_64 rng_{std::random_device{}()};
};

std::unique_ptr<policy> make_random();
std::unique_ptr<policy> make_all();
std::unique_ptr<policy> make_first();
std::unique_ptr<policy> make_leader();
std::unique_ptr<policy> make_least_in_flight();
std::unique_ptr<policy> make_weighted();
std::unique_ptr<policy> make_round_robin();

} // namespace slacker::grouping
