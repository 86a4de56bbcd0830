#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace slacker {

/// Why a job did not run (or was not taken).
enum class job_refusal : uint8_t {
  none,       // taken (or ran)
  queue_full, // as many jobs waiting as the queue takes (slacker.worker-queue)
  bytes_full, // their arguments fill the byte budget (slacker.worker-queue-bytes)
  slow_queue, // the oldest waiting job waited past the target (slacker.worker-queue-wait)
  stopped,    // the pool is stopping
  gone,       // dropped unrun: whoever waits for it went away (its connection closed)
  expired,    // dropped unrun: its deadline passed while it waited
};

/// "queue_full", "bytes_full", ...
const char* to_string(job_refusal x);

/// One blocking call for the pool: the work, and what the pool needs to know
/// to shed it without running it.
struct pool_job {
  /// Runs the call and answers it.
  std::function<void()> run;
  /// Answers it unrun (called by the pool instead of `run` when it drops a job
  /// it had taken: `gone`, `expired`, `stopped`). May be empty.
  std::function<void(job_refusal)> drop;
  /// What it holds while it waits (its arguments): counted against the bytes budget.
  size_t bytes = 0;
  /// When its caller stops waiting (system clock, ns since the epoch; 0: never).
  int64_t deadline_ns = 0;
  /// Set once nobody waits for its answer any more (may be null).
  std::shared_ptr<const std::atomic<bool>> gone;
};

/// Runs blocking functions away from CAF's scheduler and network threads.
class worker_pool {
public:
  using job = std::function<void()>;

  virtual ~worker_pool();

  /// Queues `j`, or says why not (the caller answers `overloaded`; `drop` is
  /// not called then).
  virtual job_refusal submit(pool_job j) = 0;

  /// Called by a job on a pool thread just before it sends its answer: the
  /// thread counts as free from then on. A caller that sends its next call
  /// as soon as the answer arrives finds the thread free (with no queue, it
  /// was refused `queue_full` while the thread was still on its way back).
  /// Does nothing on other threads, and from the second call in a job.
  static void answering() noexcept;

  /// Queues a plain job (no deadline, no bytes); false when refused.
  bool try_submit(job j) {
    pool_job pj;
    pj.run = std::move(j);
    return submit(std::move(pj)) == job_refusal::none;
  }

  /// Drops the waiting jobs whose caller went away or whose deadline passed
  /// (a connection closed: what its calls held is freed at once).
  virtual void purge() {
    // nop
  }

  /// Drops every waiting job (`stopped`): the server is stopping and its
  /// clients can send them elsewhere; the pool keeps taking jobs.
  virtual void drop_waiting() {
    // nop
  }

  /// Stops taking jobs and drops those waiting (`stopped`); waits at most
  /// `grace` for the running ones, then leaves them to finish on their own
  /// (their threads are detached; a process may exit under them). Returns the
  /// number of jobs still running when it gave up.
  virtual size_t stop(std::chrono::milliseconds grace) {
    (void)grace;
    return 0;
  }

  /// Jobs waiting for a thread now.
  virtual size_t queued() const {
    return 0;
  }

  /// Bytes the waiting jobs hold.
  virtual size_t queued_bytes() const {
    return 0;
  }

  /// Jobs refused or dropped since the start, by reason.
  virtual uint64_t refused(job_refusal why) const {
    (void)why;
    return 0;
  }
};

/// The limits of a thread pool (defaults: docs/security.md, "Budgets").
struct pool_limits {
  size_t threads = 4;
  size_t queue = 1024;                    // jobs waiting
  size_t queue_bytes = size_t{128} << 20; // their arguments, in bytes
  /// Load shedding by waiting time (CoDel's idea): a new job is refused while
  /// the oldest waiting job has waited longer than this (0: never).
  std::chrono::milliseconds max_wait{50};
};

/// A fixed number of threads and a queue bounded in jobs, bytes and waiting
/// time. Jobs whose caller went away or whose deadline passed are dropped
/// unrun. Its destructor is `stop(0)`.
std::shared_ptr<worker_pool> make_thread_pool(pool_limits limits);

/// The same with the default limits but `threads` and `queue_bound`.
std::shared_ptr<worker_pool> make_thread_pool(size_t threads, size_t queue_bound);

} // namespace slacker
