#define CAF_SUITE worker_pool
#include <caf/test/unit_test.hpp>

// The thread pool's budgets (docs/security.md): real threads, held by a
// gate the test opens, so that what waits in the queue is known.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "slacker/runtime/worker_pool.hpp"

using namespace slacker;
using namespace std::chrono_literals;

namespace {

/// Holds the threads that run `wait()` until `open()`.
struct gate {
  std::mutex mtx;
  std::condition_variable cv;
  bool opened = false;
  std::atomic<int> waiting{0};

  void wait() {
    ++waiting;
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait(guard, [this] { return opened; });
  }

  void open() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      opened = true;
    }
    cv.notify_all();
  }

  /// Until `n` threads wait at the gate (bounded: 10 s).
  bool until_waiting(int n) {
    for (int i = 0; i < 10000 && waiting.load() < n; ++i)
      std::this_thread::sleep_for(1ms);
    return waiting.load() >= n;
  }
};

/// What happened to one job.
struct outcome {
  std::promise<job_refusal> done; // none: it ran
  std::future<job_refusal> result = done.get_future();
};

pool_job job_for(outcome& o, size_t bytes = 0) {
  pool_job j;
  j.run = [&o] {
    o.done.set_value(job_refusal::none);
  };
  j.drop = [&o](job_refusal why) {
    o.done.set_value(why);
  };
  j.bytes = bytes;
  return j;
}

pool_job blocker(gate& g) {
  pool_job j;
  j.run = [&g] {
    g.wait();
  };
  return j;
}

pool_limits one_thread(size_t queue, size_t bytes, std::chrono::milliseconds wait) {
  pool_limits l;
  l.threads = 1;
  l.queue = queue;
  l.queue_bytes = bytes;
  l.max_wait = wait;
  return l;
}

job_refusal result_of(outcome& o) {
  if (o.result.wait_for(10s) != std::future_status::ready)
    return job_refusal::stopped; // reported as a failure by the caller's check
  return o.result.get();
}

} // namespace

CAF_TEST(the queue is bounded in bytes) {
  gate g;
  auto pool = make_thread_pool(one_thread(100, 1000, 0ms));
  CAF_REQUIRE(pool->submit(blocker(g)) == job_refusal::none);
  CAF_REQUIRE(g.until_waiting(1));
  outcome a, b, c;
  CAF_CHECK(pool->submit(job_for(a, 600)) == job_refusal::none);
  CAF_CHECK(pool->submit(job_for(b, 600)) == job_refusal::bytes_full);
  CAF_CHECK_EQUAL(pool->queued_bytes(), 600u);
  CAF_CHECK(pool->submit(job_for(c, 400)) == job_refusal::none);
  CAF_CHECK_EQUAL(pool->refused(job_refusal::bytes_full), 1u);
  g.open();
  CAF_CHECK(result_of(a) == job_refusal::none);
  CAF_CHECK(result_of(c) == job_refusal::none);
}

CAF_TEST(a job whose caller went away is dropped unrun and frees its bytes at once) {
  gate g;
  auto pool = make_thread_pool(one_thread(100, 1000, 0ms));
  CAF_REQUIRE(pool->submit(blocker(g)) == job_refusal::none);
  CAF_REQUIRE(g.until_waiting(1));
  auto gone = std::make_shared<std::atomic<bool>>(false);
  outcome a, b;
  auto ja = job_for(a, 900);
  ja.gone = gone;
  CAF_REQUIRE(pool->submit(std::move(ja)) == job_refusal::none);
  gone->store(true);
  pool->purge();
  CAF_CHECK(result_of(a) == job_refusal::gone);
  CAF_CHECK_EQUAL(pool->queued_bytes(), 0u);
  CAF_CHECK(pool->submit(job_for(b, 900)) == job_refusal::none);
  g.open();
  CAF_CHECK(result_of(b) == job_refusal::none);
  CAF_CHECK_EQUAL(pool->refused(job_refusal::gone), 1u);
}

CAF_TEST(a job whose deadline passed while it waited is dropped unrun) {
  gate g;
  auto pool = make_thread_pool(one_thread(100, 1000, 0ms));
  CAF_REQUIRE(pool->submit(blocker(g)) == job_refusal::none);
  CAF_REQUIRE(g.until_waiting(1));
  outcome a;
  auto ja = job_for(a);
  ja.deadline_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count(); // passes before the thread is free
  CAF_REQUIRE(pool->submit(std::move(ja)) == job_refusal::none);
  g.open();
  CAF_CHECK(result_of(a) == job_refusal::expired);
}

CAF_TEST(new jobs are refused while the oldest waiting one waited past the target) {
  gate g;
  auto pool = make_thread_pool(one_thread(100, 1000, 20ms));
  CAF_REQUIRE(pool->submit(blocker(g)) == job_refusal::none);
  CAF_REQUIRE(g.until_waiting(1));
  outcome a, b;
  CAF_REQUIRE(pool->submit(job_for(a)) == job_refusal::none);
  // What is tested is waiting time itself: the head waits past 20 ms.
  std::this_thread::sleep_for(30ms);
  CAF_CHECK(pool->submit(job_for(b)) == job_refusal::slow_queue);
  CAF_CHECK_EQUAL(pool->refused(job_refusal::slow_queue), 1u);
  g.open();
  CAF_CHECK(result_of(a) == job_refusal::none);
}

CAF_TEST(stop drops the waiting jobs and leaves a stuck one behind in time) {
  auto g = std::make_shared<gate>();
  auto pool = make_thread_pool(one_thread(100, 1000, 0ms));
  pool_job stuck;
  stuck.run = [g] {
    g->wait();
  };
  CAF_REQUIRE(pool->submit(std::move(stuck)) == job_refusal::none);
  CAF_REQUIRE(g->until_waiting(1));
  outcome a;
  CAF_REQUIRE(pool->submit(job_for(a)) == job_refusal::none);
  auto t0 = std::chrono::steady_clock::now();
  CAF_CHECK_EQUAL(pool->stop(50ms), 1u); // one call still running: abandoned
  CAF_CHECK_LESS(std::chrono::steady_clock::now() - t0, 5s);
  CAF_CHECK(result_of(a) == job_refusal::stopped);
  outcome late;
  CAF_CHECK(pool->submit(job_for(late)) == job_refusal::stopped);
  pool.reset(); // the detached thread keeps what it needs
  g->open();
}

CAF_TEST(a thread whose job sent its answer is free for the next job at once) {
  // One thread, no queue: a caller that sends its next call as soon as an
  // answer arrives must not be refused while the thread is on its way back
  // from the job that answered (it was, under load: integration.budgets).
  gate before, after;
  auto pool = make_thread_pool(one_thread(0, 1000, 0ms));
  pool_job answers;
  answers.run = [&] {
    before.wait();
    worker_pool::answering();
    worker_pool::answering(); // twice in one job: still one thread
    after.wait();
  };
  CAF_REQUIRE(pool->submit(std::move(answers)) == job_refusal::none);
  CAF_REQUIRE(before.until_waiting(1));
  outcome early, next, more;
  // Not answered yet: the thread is busy, a job would wait.
  CAF_CHECK(pool->submit(job_for(early)) == job_refusal::queue_full);
  before.open();
  CAF_REQUIRE(after.until_waiting(1));
  // Answered, not returned yet: it takes one job, and only one.
  pool_job answering_next = job_for(next);
  answering_next.run = [&next] {
    worker_pool::answering();
    next.done.set_value(job_refusal::none);
  };
  CAF_CHECK(pool->submit(std::move(answering_next)) == job_refusal::none);
  CAF_CHECK(pool->submit(job_for(more)) == job_refusal::queue_full);
  after.open();
  CAF_CHECK(result_of(next) == job_refusal::none);
  // That job answered too: the next is taken. Answering off the pool's
  // threads does nothing: one more is refused.
  worker_pool::answering();
  outcome refused;
  gate held;
  CAF_REQUIRE(pool->submit(blocker(held)) == job_refusal::none);
  CAF_REQUIRE(held.until_waiting(1));
  CAF_CHECK(pool->submit(job_for(refused)) == job_refusal::queue_full);
  held.open();
  CAF_CHECK_EQUAL(pool->refused(job_refusal::queue_full), 3u);
}
