#define CAF_SUITE inline_cost
#include <caf/test/unit_test.hpp>

// Where a non-blocking function runs (docs/security.md): measured on the
// pool first, inline once cheap in a row, back to the pool for a doubling
// penalty after two slow inline runs in a row. Time is given, not taken.

#include "slacker/actors/detail/inline_cost.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using clock_type = inline_cost::clock;

namespace {

const clock_type::time_point t0 = clock_type::time_point{} + 1h;

} // namespace

CAF_TEST(a function runs inline only after cheap runs in a row) {
  inline_cost c;
  CAF_CHECK(!c.runs_inline(10));
  for (int i = 0; i < inline_cost::promote_after - 1; ++i)
    c.ran(50us, false, 10, t0);
  CAF_CHECK(!c.runs_inline(10));
  c.ran(500us, false, 10, t0); // not cheap: the count starts again
  for (int i = 0; i < inline_cost::promote_after - 1; ++i)
    c.ran(50us, false, 10, t0);
  CAF_CHECK(!c.runs_inline(10));
  c.ran(50us, false, 10, t0);
  CAF_CHECK(c.runs_inline(10));
  // Large arguments never run inline, and their runs say nothing.
  CAF_CHECK(!c.runs_inline(inline_cost::max_inline_args + 1));
  c.ran(5s, false, inline_cost::max_inline_args + 1, t0);
  CAF_CHECK(c.runs_inline(10));
}

CAF_TEST(slow inline runs send a function to the pool for a doubling penalty) {
  inline_cost c;
  auto promote = [&](clock_type::time_point now) {
    for (int i = 0; i < inline_cost::promote_after; ++i)
      c.ran(50us, false, 10, now);
  };
  promote(t0);
  CAF_REQUIRE(c.runs_inline(10));
  CAF_CHECK(!c.ran(400ms, true, 10, t0));
  CAF_CHECK(c.runs_inline(10));
  CAF_CHECK(c.ran(400ms, true, 10, t0));
  CAF_CHECK(!c.runs_inline(10));
  promote(t0 + 999ms); // cheap again, but within the 1 s penalty
  CAF_CHECK(!c.runs_inline(10));
  promote(t0 + 1s);
  CAF_CHECK(c.runs_inline(10));
  c.ran(400ms, true, 10, t0 + 2s);
  c.ran(400ms, true, 10, t0 + 2s); // the second demotion: 2 s
  promote(t0 + 3s + 999ms);
  CAF_CHECK(!c.runs_inline(10));
  promote(t0 + 4s);
  CAF_CHECK(c.runs_inline(10));
  CAF_CHECK_EQUAL(c.demotions, 2u);
  // A run between cheap and slow keeps it inline.
  c.ran(1ms, true, 10, t0 + 5s);
  CAF_CHECK(c.runs_inline(10));
  // Inline again for 5 min without being sent away: the penalty starts
  // again at 1 s (not 4 s).
  auto later = t0 + 4s + inline_cost::max_penalty;
  c.ran(400ms, true, 10, later);
  c.ran(400ms, true, 10, later);
  promote(later + 1s);
  CAF_CHECK(c.runs_inline(10));
  c.ran(400ms, true, 10, later + 2s); // sent away within 5 min: doubled
  c.ran(400ms, true, 10, later + 2s);
  promote(later + 3s + 999ms);
  CAF_CHECK(!c.runs_inline(10));
  promote(later + 4s);
  CAF_CHECK(c.runs_inline(10));
  CAF_CHECK_EQUAL(c.demotions, 4u);
}

CAF_TEST(a slow inline run demotes only if the next inline run is slow too) {
  inline_cost c;
  for (int i = 0; i < inline_cost::promote_after; ++i)
    c.ran(50us, false, 10, t0);
  // 3 ms (or 400 ms: the kernel may count the machine's time as the
  // thread's): looked at again.
  c.ran(400ms, true, 10, t0);
  CAF_CHECK(c.runs_inline(10));
  CAF_CHECK(c.recheck);
  c.ran(50us, false, 10, t0); // a run on the pool says nothing about it
  CAF_CHECK(c.recheck);
  c.ran(60us, true, 10, t0);
  CAF_CHECK(c.runs_inline(10));
  CAF_CHECK(!c.recheck);
  // Slow, cheap, slow: still inline.
  c.ran(3ms, true, 10, t0);
  c.ran(60us, true, 10, t0);
  c.ran(3ms, true, 10, t0);
  CAF_CHECK(c.runs_inline(10));
  // Twice in a row: the second demotes.
  c.ran(3ms, true, 10, t0);
  CAF_CHECK(!c.runs_inline(10));
  CAF_CHECK(!c.recheck);
  CAF_CHECK_EQUAL(c.demotions, 1u);
}
