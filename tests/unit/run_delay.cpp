#define CAF_SUITE run_delay
#include <caf/test/unit_test.hpp>

// What a run's cost does not count: the time its thread certainly waited for
// a CPU (docs/security.md, "the network thread"). The kernel's counter and the
// clock are given, not taken.

#include "slacker/actors/detail/inline_cost.hpp"
#include "slacker/actors/detail/run_delay.hpp"

using namespace slacker;
using namespace std::chrono_literals;
using clock_type = run_delay::clock;

namespace {

const clock_type::time_point t0 = clock_type::time_point{} + 1h;

// The fake kernel: the thread's run delay so far, and how often it was read.
int64_t delay_ns = 0;
int reads = 0;
clock_type::time_point read_at = t0; // what the clock says just before a read

int64_t fake_delay() {
  ++reads;
  return delay_ns;
}

clock_type::time_point fake_now() {
  return read_at;
}

int64_t unknown_delay() {
  ++reads;
  return -1;
}

struct fixture {
  fixture() {
    delay_ns = 1'000'000;
    reads = 0;
    read_at = t0;
  }
};

int64_t ns(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(run_delay_tests, fixture)

CAF_TEST(a run preempted for a time slice is charged without the wait) {
  run_delay meter{&fake_delay, &fake_now};
  meter.mark(t0);
  delay_ns += ns(4ms); // a 4 ms time slice of someone else
  read_at = t0 + 4100us;
  CAF_CHECK_EQUAL(ns(meter.charged(t0, t0 + 4100us, inline_cost::cheap)), ns(100us));
  CAF_CHECK_EQUAL(reads, 2);
}

CAF_TEST(a run that blocks or computes is charged in full) {
  run_delay meter{&fake_delay, &fake_now};
  meter.mark(t0);
  read_at = t0 + 3ms; // no wait for a CPU: it slept, or it ran
  CAF_CHECK_EQUAL(ns(meter.charged(t0, t0 + 3ms, inline_cost::cheap)), ns(3ms));
}

CAF_TEST(what the thread waited outside the run is not excused) {
  run_delay meter{&fake_delay, &fake_now};
  meter.mark(t0);
  // The run started 800 us after the mark and its counter was read 300 us
  // after it ended: of 4 ms of waiting, only 2.9 ms certainly fell into it.
  delay_ns += ns(4ms);
  auto start = t0 + 800us;
  auto end = start + 3ms;
  read_at = end + 300us;
  CAF_CHECK_EQUAL(ns(meter.charged(start, end, inline_cost::cheap)), ns(3ms - 2900us));
  // Nothing certain: more time outside the run than the wait.
  meter.mark(read_at + 2ms);
  delay_ns += ns(1ms);
  start = read_at + 3500us;
  end = start + 2500us;
  read_at = end;
  CAF_CHECK_EQUAL(ns(meter.charged(start, end, inline_cost::cheap)), ns(2500us));
}

CAF_TEST(the counter is read at most once per mark interval and not after short runs) {
  run_delay meter{&fake_delay, &fake_now};
  meter.mark(t0);
  meter.mark(t0 + 999us);
  CAF_CHECK_EQUAL(reads, 1);
  CAF_CHECK_EQUAL(ns(meter.charged(t0 + 999us, t0 + 1099us, inline_cost::cheap)),
                  ns(100us));
  CAF_CHECK_EQUAL(reads, 1);
  meter.mark(t0 + 1ms);
  CAF_CHECK_EQUAL(reads, 2);
}

CAF_TEST(without the kernel counter nothing is excused) {
  run_delay meter{&unknown_delay, &fake_now};
  meter.mark(t0);
  read_at = t0 + 5ms;
  CAF_CHECK_EQUAL(ns(meter.charged(t0, t0 + 5ms, inline_cost::cheap)), ns(5ms));
}

CAF_TEST(a preempted inline run keeps a cheap function inline and a slow one goes) {
  inline_cost cost;
  for (int i = 0; i < inline_cost::promote_after; ++i)
    cost.ran(50us, false, 10, t0);
  CAF_REQUIRE(cost.runs_inline(10));
  run_delay meter{&fake_delay, &fake_now};
  meter.mark(t0);
  delay_ns += ns(4ms);
  read_at = t0 + 4050us;
  cost.ran(meter.charged(t0, read_at, inline_cost::cheap), true, 10, read_at);
  CAF_CHECK(cost.runs_inline(10));
  // Preempted too, but 3 ms of its own: slow.
  auto start = read_at;
  meter.mark(start);
  delay_ns += ns(4ms);
  read_at = start + 7ms;
  cost.ran(meter.charged(start, read_at, inline_cost::cheap), true, 10, read_at);
  CAF_CHECK(!cost.runs_inline(10));
  CAF_CHECK_EQUAL(cost.demotions, 1u);
}

CAF_TEST(the counter of this thread is read from the kernel where it has one) {
  auto first = read_thread_run_delay();
  if (first < 0) {
    CAF_MESSAGE("no /proc/thread-self/schedstat here: nothing is excused");
    return;
  }
  CAF_CHECK_GREATER_OR_EQUAL(read_thread_run_delay(), first);
}

CAF_TEST_FIXTURE_SCOPE_END()
