#include "slacker/runtime/worker_pool.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace slacker {

worker_pool::~worker_pool() = default;

namespace {

class thread_pool final : public worker_pool {
public:
  thread_pool(size_t threads, size_t queue_bound) : queue_bound_(queue_bound) {
    for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i)
      threads_.emplace_back([this] { run(); });
  }

  ~thread_pool() override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      t.join();
  }

  bool try_submit(job j) override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (queue_.size() >= queue_bound_ + idle_)
        return false;
      queue_.push_back(std::move(j));
    }
    cv_.notify_one();
    return true;
  }

  size_t queued() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return queue_.size();
  }

private:
  void run() {
    std::unique_lock<std::mutex> guard{mtx_};
    for (;;) {
      ++idle_;
      cv_.wait(guard, [this] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty())
        return; // stopping, nothing left
      auto j = std::move(queue_.front());
      queue_.pop_front();
      guard.unlock();
      j();
      guard.lock();
    }
  }

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<job> queue_;
  std::vector<std::thread> threads_;
  size_t queue_bound_;
  size_t idle_ = 0; // threads waiting for a job: a job for them does not wait
  bool stopping_ = false;
};

} // namespace

std::shared_ptr<worker_pool> make_thread_pool(size_t threads, size_t queue_bound) {
  return std::make_shared<thread_pool>(threads, queue_bound);
}

} // namespace slacker
