#include "slacker/actors/detail/run_delay.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

namespace slacker {

namespace {

/// This thread's schedstat, opened at the first read, closed with the thread.
struct schedstat_file {
  int fd = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);

  schedstat_file() = default;
  schedstat_file(const schedstat_file&) = delete;
  schedstat_file& operator=(const schedstat_file&) = delete;

  ~schedstat_file() {
    if (fd >= 0)
      ::close(fd);
  }
};

} // namespace

run_delay::sample read_thread_counters() noexcept {
  run_delay::sample out;
  timespec ts{};
  if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
    out.cpu_ns = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  thread_local schedstat_file file;
  if (file.fd < 0)
    return out;
  // "<ns on the cpu> <ns waiting for one> <times switched in>\n"; the first
  // is only as fresh as the last tick (the CPU clock above is exact).
  char buf[96];
  auto n = ::pread(file.fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0)
    return out;
  buf[n] = '\0';
  char* end = nullptr;
  std::strtoll(buf, &end, 10);
  if (end == buf)
    return out;
  char* at = end;
  auto delay = std::strtoll(at, &end, 10);
  if (end == at || delay < 0)
    return out;
  at = end;
  auto switches = std::strtoll(at, &end, 10);
  out.delay_ns = delay;
  out.switches = end == at || switches < 0 ? -1 : switches;
  return out;
}

run_delay& this_thread_run_delay() noexcept {
  thread_local run_delay meter{&read_thread_counters};
  return meter;
}

} // namespace slacker
