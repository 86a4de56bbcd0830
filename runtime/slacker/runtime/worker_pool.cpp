#include "slacker/runtime/worker_pool.hpp"

#include <array>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace slacker {

worker_pool::~worker_pool() = default;

const char* to_string(job_refusal x) {
  static constexpr const char* names[] = {
      "none", "queue_full", "bytes_full", "slow_queue", "stopped", "gone", "expired"};
  auto i = static_cast<size_t>(x);
  return i < std::size(names) ? names[i] : "unknown";
}

namespace {

using clock = std::chrono::steady_clock;

int64_t system_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Why a waiting job is not worth running any more (none: it is).
job_refusal stale(const pool_job& j, int64_t now_ns) {
  if (j.gone && j.gone->load(std::memory_order_relaxed))
    return job_refusal::gone;
  if (j.deadline_ns != 0 && now_ns > j.deadline_ns)
    return job_refusal::expired;
  return job_refusal::none;
}

/// What the threads share with the pool. Held by the threads too, so that a
/// thread left running by `stop` outlives the pool safely.
struct pool_core {
  struct entry {
    pool_job job;
    clock::time_point since;
  };

  explicit pool_core(pool_limits l) : limits(l) {}

  pool_limits limits;
  std::mutex mtx;
  std::condition_variable cv;   // work or stop
  std::condition_variable done; // a thread ended
  std::deque<entry> queue;
  size_t bytes = 0;
  // Threads free for a job (a job for them does not wait): waiting for one,
  // or whose job has sent its answer (`worker_pool::answering`).
  size_t idle = 0;
  size_t alive = 0; // threads not ended yet
  bool stopping = false;
  std::array<std::atomic<uint64_t>, 7> refusals{};

  void count(job_refusal why) {
    refusals[static_cast<size_t>(why)].fetch_add(1, std::memory_order_relaxed);
  }

  /// Takes the stale jobs out of the queue (lock held); the caller drops them
  /// once the lock is released.
  std::vector<std::pair<pool_job, job_refusal>> take_stale() {
    std::vector<std::pair<pool_job, job_refusal>> out;
    auto now = system_ns();
    for (auto i = queue.begin(); i != queue.end();) {
      auto why = stale(i->job, now);
      if (why == job_refusal::none) {
        ++i;
        continue;
      }
      bytes -= i->job.bytes;
      out.emplace_back(std::move(i->job), why);
      i = queue.erase(i);
    }
    return out;
  }

  void drop_all(std::vector<std::pair<pool_job, job_refusal>>& xs) {
    for (auto& [j, why] : xs) {
      count(why);
      if (j.drop)
        j.drop(why);
    }
  }

  void run() {
    current = this;
    std::unique_lock<std::mutex> guard{mtx};
    for (;;) { // counted idle from its start, and between jobs
      cv.wait(guard, [this] { return stopping || !queue.empty(); });
      --idle;
      if (queue.empty())
        break; // stopping, nothing left
      auto e = std::move(queue.front());
      queue.pop_front();
      bytes -= e.job.bytes;
      guard.unlock();
      auto why = stale(e.job, system_ns());
      if (why == job_refusal::none) {
        e.job.run();
      } else {
        count(why);
        if (e.job.drop)
          e.job.drop(why);
      }
      e = entry{}; // what it captured goes now, not at the next job
      guard.lock();
      if (!std::exchange(answered, false))
        ++idle; // (counted when its job answered)
    }
    --alive;
    done.notify_all();
  }

  /// The pool of the calling thread (null: not a pool thread), and whether
  /// its job has called `answering`.
  static thread_local pool_core* current;
  static thread_local bool answered;
};

thread_local pool_core* pool_core::current = nullptr;
thread_local bool pool_core::answered = false;

class thread_pool final : public worker_pool {
public:
  explicit thread_pool(pool_limits limits) : core_(std::make_shared<pool_core>(limits)) {
    auto n = std::max<size_t>(limits.threads, 1);
    core_->alive = n;
    core_->idle = n; // free from the start: a job submitted before one waits is taken
    for (size_t i = 0; i < n; ++i)
      threads_.emplace_back([c = core_] { c->run(); });
  }

  ~thread_pool() override {
    stop(std::chrono::milliseconds{0});
  }

  job_refusal submit(pool_job j) override {
    auto& c = *core_;
    std::vector<std::pair<pool_job, job_refusal>> stale_jobs;
    auto why = job_refusal::none;
    {
      std::lock_guard<std::mutex> guard{c.mtx};
      auto now = clock::now();
      auto refuse = [&]() {
        if (c.stopping)
          return job_refusal::stopped;
        if (c.queue.size() >= c.limits.queue + c.idle)
          return job_refusal::queue_full;
        if (!c.queue.empty() && c.bytes + j.bytes > c.limits.queue_bytes)
          return job_refusal::bytes_full;
        if (c.limits.max_wait.count() > 0 && c.idle == 0 && !c.queue.empty() &&
            now - c.queue.front().since > c.limits.max_wait)
          return job_refusal::slow_queue;
        return job_refusal::none;
      };
      why = refuse();
      if (why == job_refusal::queue_full || why == job_refusal::bytes_full ||
          why == job_refusal::slow_queue) {
        // Jobs nobody waits for make room first.
        stale_jobs = c.take_stale();
        if (!stale_jobs.empty())
          why = refuse();
      }
      if (why == job_refusal::none) {
        c.bytes += j.bytes;
        c.queue.push_back({std::move(j), now});
      }
    }
    c.drop_all(stale_jobs);
    if (why != job_refusal::none) {
      c.count(why);
      return why;
    }
    c.cv.notify_one();
    return job_refusal::none;
  }

  void purge() override {
    std::vector<std::pair<pool_job, job_refusal>> stale_jobs;
    {
      std::lock_guard<std::mutex> guard{core_->mtx};
      stale_jobs = core_->take_stale();
    }
    core_->drop_all(stale_jobs);
  }

  void drop_waiting() override {
    drop_queue(false);
  }

  size_t stop(std::chrono::milliseconds grace) override {
    auto& c = *core_;
    {
      std::lock_guard<std::mutex> guard{c.mtx};
      if (c.stopping && threads_.empty())
        return 0;
    }
    drop_queue(true);
    c.cv.notify_all();
    size_t left = 0;
    {
      std::unique_lock<std::mutex> guard{c.mtx};
      c.done.wait_for(guard, grace, [&] { return c.alive == 0; });
      left = c.alive;
    }
    for (auto& t : threads_) {
      if (left == 0)
        t.join();
      else
        t.detach(); // still running a call: it ends on its own, or with the process
    }
    threads_.clear();
    return left;
  }

  size_t queued() const override {
    std::lock_guard<std::mutex> guard{core_->mtx};
    return core_->queue.size();
  }

  size_t queued_bytes() const override {
    std::lock_guard<std::mutex> guard{core_->mtx};
    return core_->bytes;
  }

  uint64_t refused(job_refusal why) const override {
    return core_->refusals[static_cast<size_t>(why)].load(std::memory_order_relaxed);
  }

private:
  /// Answers every waiting job `stopped` (and, with `stop`, takes no more).
  void drop_queue(bool stop) {
    auto& c = *core_;
    std::deque<pool_core::entry> waiting;
    {
      std::lock_guard<std::mutex> guard{c.mtx};
      c.stopping = c.stopping || stop;
      waiting.swap(c.queue);
      c.bytes = 0;
    }
    for (auto& e : waiting) {
      c.count(job_refusal::stopped);
      if (e.job.drop)
        e.job.drop(job_refusal::stopped);
    }
  }

  std::shared_ptr<pool_core> core_;
  std::vector<std::thread> threads_;
};

} // namespace

std::shared_ptr<worker_pool> make_thread_pool(pool_limits limits) {
  return std::make_shared<thread_pool>(limits);
}

std::shared_ptr<worker_pool> make_thread_pool(size_t threads, size_t queue_bound) {
  pool_limits limits;
  limits.threads = threads;
  limits.queue = queue_bound;
  return make_thread_pool(limits);
}

void worker_pool::answering() noexcept {
  auto* c = pool_core::current;
  if (!c || pool_core::answered)
    return;
  pool_core::answered = true;
  std::lock_guard<std::mutex> guard{c->mtx};
  ++c->idle;
}

} // namespace slacker
