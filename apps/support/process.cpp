#include "apps/support/process.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apps/support/proc_status.hpp"

namespace slacker_test {

process::process(std::vector<std::string> argv) {
  int in[2];
  int out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  auto parent = getpid();
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Dies with the thread that started it, even when that one aborts: a
    // failed test leaves no server behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(1);
    sigset_t none; // the parent may block signals; the child starts clean
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(in[0], 0);
    dup2(out[1], 1);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  in_ = in[1];
  out_ = out[0];
}

process::~process() {
  kill();
  if (in_ >= 0)
    close(in_);
  if (out_ >= 0)
    close(out_);
}

std::optional<std::string> process::read_line(int timeout_ms) {
  return read_line_until(std::chrono::steady_clock::now() +
                         std::chrono::milliseconds{timeout_ms});
}

std::optional<std::string>
process::read_line_until(std::chrono::steady_clock::time_point until) {
  for (;;) {
    if (auto pos = buffer_.find('\n'); pos != std::string::npos) {
      auto line = buffer_.substr(0, pos);
      buffer_.erase(0, pos + 1);
      return line;
    }
    // Rounded up: without a line, it returns at `until` or after, never just
    // before (a caller tells a timeout from the end of output by the clock).
    auto left = std::chrono::ceil<std::chrono::milliseconds>(
                    until - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0)
      return std::nullopt;
    pollfd pfd{out_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0)
      continue;
    char buf[512];
    auto n = ::read(out_, buf, sizeof(buf));
    if (n <= 0)
      return std::nullopt;
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::optional<std::string> process::wait_for(const std::string& prefix, int timeout_ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{timeout_ms};
  for (;;) {
    auto line = read_line_until(until);
    if (!line)
      return std::nullopt;
    if (line->rfind(prefix, 0) == 0)
      return line->substr(prefix.size());
  }
}

void process::signal(int sig) {
  if (pid_ <= 0)
    return;
  ::kill(pid_, sig);
  if (sig != SIGSTOP)
    return;
  // Frozen means frozen: a thread still running (on the other vCPU, or
  // waiting for one) could answer a call sent right after `kill` returned.
  wait_proc_state(pid_, 'T', std::chrono::seconds{10});
}

std::string process::threads() const {
  if (pid_ <= 0)
    return "(not running)\n";
  return thread_stacks(pid_);
}

std::string thread_stacks(pid_t pid) {
  auto id = std::to_string(pid);
  std::string out;
  if (::access("/usr/bin/gdb", X_OK) == 0) {
    // The main thread first (a hang report is cut short by the watchdog
    // that follows it), 30 frames a thread, each line cut at 200 characters.
    auto cmd = "timeout 10 /usr/bin/gdb -p " + id +
               " -batch -ex 'thread apply all -ascending bt 30' </dev/null 2>/dev/null";
    if (auto f = ::popen(cmd.c_str(), "r")) {
      char line[1024];
      while (std::fgets(line, sizeof(line), f) && out.size() < 131072) {
        std::string text{line};
        if (line[0] != '#' && text.rfind("Thread ", 0) != 0)
          continue;
        if (text.size() > 200)
          text = text.substr(0, 196) + "...\n";
        out += text;
      }
      ::pclose(f);
    }
    if (!out.empty())
      return out;
  }
  for (auto& dir : thread_dirs(pid)) {
    auto read = [&](const char* what) {
      std::ifstream in{dir + "/" + what};
      std::string s;
      std::getline(in, s);
      return s;
    };
    out +=
        dir.substr(dir.rfind('/') + 1) + " " + read("comm") + ": " + read("wchan") + "\n";
  }
  return out.empty() ? "(no threads found)\n" : out;
}

void process::write_line(const std::string& line) {
  auto text = line + "\n";
  auto n = ::write(in_, text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size()))
    throw std::runtime_error("cannot write to the child");
}

void process::close_input() {
  if (in_ >= 0)
    close(in_);
  in_ = -1;
}

void process::kill() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int process::stop() {
  if (pid_ <= 0)
    return -1;
  close_input();
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

} // namespace slacker_test
