#include "slacker/actors/detail/run_delay.hpp"

#include <fcntl.h>
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

int64_t read_thread_run_delay() noexcept {
  thread_local schedstat_file file;
  if (file.fd < 0)
    return -1;
  // "<ns on the cpu> <ns waiting for one> <time slices>\n"
  char buf[96];
  auto n = ::pread(file.fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  char* end = nullptr;
  std::strtoll(buf, &end, 10);
  if (end == buf)
    return -1;
  char* second = end;
  auto delay = std::strtoll(second, &end, 10);
  if (end == second || delay < 0)
    return -1;
  return delay;
}

run_delay& this_thread_run_delay() noexcept {
  thread_local run_delay meter{&read_thread_run_delay};
  return meter;
}

} // namespace slacker
