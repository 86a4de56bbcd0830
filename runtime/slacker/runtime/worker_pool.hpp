#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace slacker {

/// Runs blocking functions away from CAF's scheduler and network threads.
class worker_pool {
public:
  using job = std::function<void()>;

  virtual ~worker_pool();

  /// Queues `j`; false when the bounded queue is full (the caller answers `overloaded`).
  virtual bool try_submit(job j) = 0;

  /// Jobs waiting for a thread now.
  virtual size_t queued() const {
    return 0;
  }
};

/// A fixed number of threads and a bounded queue of waiting jobs. Its
/// destructor runs the jobs already queued, then joins the threads.
std::shared_ptr<worker_pool> make_thread_pool(size_t threads, size_t queue_bound);

} // namespace slacker
