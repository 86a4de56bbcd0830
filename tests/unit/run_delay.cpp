#define CAF_SUITE run_delay
#include <caf/test/unit_test.hpp>

// What a run's cost does not count: the time its thread certainly waited for
// a CPU, and the time the hypervisor did not run it (docs/security.md, "the
// network thread"). The kernel's counters and the clock are given, not taken.

#include "slacker/actors/detail/inline_cost.hpp"
#include "slacker/actors/detail/run_delay.hpp"

#include <thread>

using namespace slacker;
using namespace std::chrono_literals;
using clock_type = run_delay::clock;

namespace {

const clock_type::time_point t0 = clock_type::time_point{} + 1h;

// The fake kernel: the thread's counters so far, and how often they were read.
run_delay::sample kernel;
int reads = 0;
clock_type::time_point read_at = t0; // what the clock says just before a read

run_delay::sample fake_counters() {
  ++reads;
  return kernel;
}

clock_type::time_point fake_now() {
  return read_at;
}

run_delay::sample no_schedstat() {
  ++reads;
  return {kernel.cpu_ns, -1, -1};
}

int64_t ns(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// The thread ran `d` on a CPU.
void ran_for(clock_type::duration d) {
  kernel.cpu_ns += ns(d);
}

// The thread was switched out and in again, having waited `d` for a CPU
// (zero: it slept).
void switched(clock_type::duration waited = 0s) {
  kernel.delay_ns += ns(waited);
  ++kernel.switches;
}

// A function measured cheap: it runs inline.
inline_cost promoted() {
  inline_cost cost;
  for (int i = 0; i < inline_cost::promote_after; ++i)
    cost.ran(50us, false, 10, t0);
  CAF_REQUIRE(cost.runs_inline(10));
  return cost;
}

struct fixture {
  fixture() {
    kernel = {5'000'000, 1'000'000, 10};
    reads = 0;
    read_at = t0;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(run_delay_tests, fixture)

CAF_TEST(a run preempted for a time slice is charged without the wait) {
  run_delay meter{&fake_counters, &fake_now};
  meter.mark(t0);
  ran_for(100us);
  switched(4ms); // a 4 ms time slice of someone else
  read_at = t0 + 4100us;
  auto c = meter.charged(t0, t0 + 4100us, inline_cost::cheap);
  CAF_CHECK_EQUAL(ns(c), ns(100us));
  CAF_CHECK_EQUAL(reads, 2);
}

CAF_TEST(a run the hypervisor did not run is charged its cpu time) {
  run_delay meter{&fake_counters, &fake_now};
  meter.mark(t0 - 500us); // long before: no switch since, so nothing slept
  ran_for(560us);         // 500 us before the run, 50 us in it, 10 us after
  read_at = t0 + 3010us;  // a 3 ms run: 2.95 ms of steal
  auto c = meter.charged(t0, t0 + 3ms, inline_cost::cheap);
  CAF_CHECK_EQUAL(ns(c), ns(560us)); // at most the cpu time of the window
}

CAF_TEST(a run that computes is charged in full) {
  run_delay meter{&fake_counters, &fake_now};
  meter.mark(t0);
  ran_for(3ms);
  read_at = t0 + 3ms;
  auto c = meter.charged(t0, t0 + 3ms, inline_cost::cheap);
  CAF_CHECK_EQUAL(ns(c), ns(3ms));
}

CAF_TEST(a run off the cpu without waiting for one is charged in full) {
  // Off the CPU without waiting for one: a sleep, or the kernel holding the
  // thread for reasons of its own (seen: 4.6 and 5.9 ms in a 100 us
  // function, under load).
  run_delay meter{&fake_counters, &fake_now};
  meter.mark(t0, true);
  ran_for(20us);
  switched(); // no wait for a CPU
  read_at = t0 + 3ms;
  auto c = meter.charged(t0, t0 + 3ms, inline_cost::cheap);
  CAF_CHECK_EQUAL(ns(c), ns(3ms));
}

CAF_TEST(what the thread waited outside the run is not excused) {
  run_delay meter{&fake_counters, &fake_now};
  meter.mark(t0);
  // The run started 800 us after the mark and its counter was read 300 us
  // after it ended: of 4 ms of waiting, only 2.9 ms certainly fell into it.
  ran_for(4ms);
  switched(4ms);
  auto start = t0 + 800us;
  auto end = start + 3ms;
  read_at = end + 300us;
  CAF_CHECK_EQUAL(ns(meter.charged(start, end, inline_cost::cheap)), ns(3ms - 2900us));
  // Nothing excused: more time outside the run than the wait.
  meter.mark(read_at + 2ms);
  ran_for(4ms);
  switched(1ms);
  start = read_at + 3500us;
  end = start + 2500us;
  read_at = end;
  CAF_CHECK_EQUAL(ns(meter.charged(start, end, inline_cost::cheap)), ns(2500us));
}

CAF_TEST(the counters are read at most once per mark interval and not after short runs) {
  run_delay meter{&fake_counters, &fake_now};
  meter.mark(t0);
  meter.mark(t0 + 999us);
  CAF_CHECK_EQUAL(reads, 1);
  CAF_CHECK_EQUAL(ns(meter.charged(t0 + 999us, t0 + 1099us, inline_cost::cheap)),
                  ns(100us));
  CAF_CHECK_EQUAL(reads, 1);
  meter.mark(t0 + 1ms);
  CAF_CHECK_EQUAL(reads, 2);
  meter.mark(t0 + 1ms + 1us, true); // asked for a fresh mark
  CAF_CHECK_EQUAL(reads, 3);
}

CAF_TEST(without the kernel counters nothing is excused) {
  run_delay meter{&no_schedstat, &fake_now};
  meter.mark(t0);
  ran_for(10us);
  read_at = t0 + 5ms;
  auto c = meter.charged(t0, t0 + 5ms, inline_cost::cheap);
  CAF_CHECK_EQUAL(ns(c), ns(5ms));
}

CAF_TEST(
    a preempted inline run keeps a cheap function inline and two slow ones send it away) {
  auto cost = promoted();
  run_delay meter{&fake_counters, &fake_now};
  meter.mark(t0);
  ran_for(50us);
  switched(4ms);
  read_at = t0 + 4050us;
  auto c = meter.charged(t0, read_at, inline_cost::cheap);
  cost.ran(c, true, 10, read_at);
  CAF_CHECK(cost.runs_inline(10));
  // Preempted too, but 3 ms of its own, twice in a row: slow.
  auto start = read_at;
  for (int run = 1; run <= 2; ++run) {
    meter.mark(start, cost.recheck);
    ran_for(3ms);
    switched(4ms);
    read_at = start + 7ms;
    c = meter.charged(start, read_at, inline_cost::cheap);
    CAF_CHECK_EQUAL(ns(c), ns(3ms));
    CAF_CHECK_EQUAL(cost.ran(c, true, 10, read_at), run == 2);
    CAF_CHECK_EQUAL(cost.runs_inline(10), run == 1);
    start = read_at;
  }
  CAF_CHECK_EQUAL(cost.demotions, 1u);
}

CAF_TEST(a cheap function hit by steal after a sleep stays inline after a fresh look) {
  auto cost = promoted();
  run_delay meter{&fake_counters, &fake_now};
  meter.mark(t0);
  switched(); // the network thread waited for the next call
  ran_for(30us);
  auto start = t0 + 400us;
  read_at = start + 3ms; // 3 ms of steal in the run
  auto c = meter.charged(start, start + 3ms, inline_cost::cheap);
  cost.ran(c, true, 10, read_at);
  CAF_CHECK(cost.runs_inline(10));
  CAF_CHECK(cost.recheck);
  // The next run is measured from a fresh mark, even within the interval.
  reads = 0;
  start = read_at + 10us;
  meter.mark(start, cost.recheck);
  CAF_CHECK_EQUAL(reads, 1);
  ran_for(20us);
  read_at = start + 20us;
  c = meter.charged(start, read_at, inline_cost::cheap);
  cost.ran(c, true, 10, read_at);
  CAF_CHECK(cost.runs_inline(10));
  CAF_CHECK(!cost.recheck);
  CAF_CHECK_EQUAL(cost.demotions, 0u);
}

CAF_TEST(a function that sleeps inline is sent to the pool by its second run) {
  auto cost = promoted();
  run_delay meter{&fake_counters, &fake_now};
  // First slow run: looked at again.
  meter.mark(t0);
  ran_for(30us);
  switched();
  auto start = t0 + 200us;
  read_at = start + 5ms;
  auto c = meter.charged(start, read_at, inline_cost::cheap);
  cost.ran(c, true, 10, read_at);
  CAF_CHECK(cost.runs_inline(10));
  // Second, from a fresh mark: slow again, so it goes.
  start = read_at + 10us;
  meter.mark(start, cost.recheck);
  ran_for(30us);
  switched();
  read_at = start + 5ms;
  c = meter.charged(start, read_at, inline_cost::cheap);
  cost.ran(c, true, 10, read_at);
  CAF_CHECK(!cost.runs_inline(10));
  CAF_CHECK_EQUAL(cost.demotions, 1u);
}

CAF_TEST(the counters of this thread are read from the kernel where it has them) {
  auto first = read_thread_counters();
  CAF_REQUIRE_GREATER_OR_EQUAL(first.cpu_ns, 0);
  // A 2 ms spin is CPU time.
  auto until = clock_type::now() + 2ms;
  while (clock_type::now() < until) {
    // spin
  }
  auto spun = read_thread_counters();
  CAF_CHECK_GREATER_OR_EQUAL(spun.cpu_ns - first.cpu_ns, 1'000'000);
  if (first.delay_ns < 0) {
    CAF_MESSAGE("no /proc/thread-self/schedstat here: nothing is excused");
    return;
  }
  CAF_CHECK_GREATER_OR_EQUAL(spun.delay_ns, first.delay_ns);
  // A sleeping thread is switched out and in again.
  std::this_thread::sleep_for(1ms);
  CAF_CHECK_GREATER(read_thread_counters().switches, spun.switches);
}

CAF_TEST_FIXTURE_SCOPE_END()
