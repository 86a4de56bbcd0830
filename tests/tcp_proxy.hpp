#pragma once

// A TCP proxy on loopback that a test places between one process and
// ZooKeeper, to cut that process's link alone: `cut()` turns the proxy into
// a black hole (nothing passes either way and new connections are accepted
// but held silent, the way a partition looks to both ends); `restore()`
// closes what it held, and new connections pass again. It runs on its own
// thread until destroyed.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "require.hpp"

namespace slacker_test {

class tcp_proxy {
public:
  /// Forwards 127.0.0.1:`port()` to 127.0.0.1:`target`.
  explicit tcp_proxy(uint16_t target) : target_(target) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    SLACKER_REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ==
                            0 &&
                        ::listen(listener_, 64) == 0,
                    "proxy: cannot listen");
    socklen_t len = sizeof(addr);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    SLACKER_REQUIRE(::pipe(wake_) == 0, "proxy: no pipe");
    thread_ = std::thread{[this] {
      run();
    }};
  }

  ~tcp_proxy() {
    stop_ = true;
    poke();
    thread_.join();
    for (auto& p : pairs_)
      close_pair(p);
    ::close(listener_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  uint16_t port() const {
    return port_;
  }

  std::string address() const {
    return "127.0.0.1:" + std::to_string(port_);
  }

  /// Nothing passes any more, in either direction; nothing is closed.
  void cut() {
    cut_ = true;
    poke();
  }

  /// From now on each connection passes the target's first answer (for
  /// ZooKeeper, the session's) and then nothing more from the target: the
  /// process is connected, and its next request goes unanswered.
  void answer_once() {
    answer_once_ = true;
    poke();
  }

  /// Closes every connection it held; new ones pass again.
  void restore() {
    restore_ = true;
    cut_ = false;
    poke();
  }

private:
  struct pair {
    int a = -1;            // accepted from the process
    int b = -1;            // to the target; -1 while held (accepted during a cut)
    bool answered = false; // the target's first answer passed
  };

  void poke() {
    char c = 0;
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
  }

  static void close_pair(pair& p) {
    if (p.a >= 0)
      ::close(p.a);
    if (p.b >= 0)
      ::close(p.b);
    p.a = p.b = -1;
  }

  int connect_target() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(target_);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return -1;
    }
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    return fd;
  }

  /// Moves what `from` has to `to`; false when either end is done.
  static bool pump(int from, int to) {
    char buf[65536];
    auto n = ::read(from, buf, sizeof(buf));
    if (n <= 0)
      return false;
    for (ssize_t off = 0; off < n;) {
      auto w = ::write(to, buf + off, static_cast<size_t>(n - off));
      if (w <= 0)
        return false;
      off += w;
    }
    return true;
  }

  void run() {
    while (!stop_) {
      if (restore_.exchange(false)) {
        for (auto& p : pairs_)
          close_pair(p);
        pairs_.clear();
      }
      bool cut = cut_;
      auto polled = cut ? size_t{0} : pairs_.size();
      std::vector<pollfd> fds{{listener_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      bool once = answer_once_;
      if (!cut)
        for (auto& p : pairs_) {
          fds.push_back({p.a, POLLIN, 0});
          // Held after its first answer (answer_once): not read.
          fds.push_back({p.b, static_cast<short>(once && p.answered ? 0 : POLLIN), 0});
        }
      if (::poll(fds.data(), fds.size(), 100) <= 0)
        continue;
      if (fds[1].revents & POLLIN) {
        char buf[64];
        [[maybe_unused]] auto n = ::read(wake_[0], buf, sizeof(buf));
        continue; // the state may have changed: look again
      }
      if (fds[0].revents & POLLIN) {
        int a = ::accept(listener_, nullptr, nullptr);
        if (a >= 0) {
          int on = 1;
          ::setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
          int b = cut ? -1 : connect_target();
          if (!cut && b < 0)
            ::close(a); // the target is down: so is the proxy's end
          else
            pairs_.push_back({a, b});
        }
      }
      if (cut)
        continue;
      for (size_t i = 0; i < polled; ++i) {
        auto& p = pairs_[i];
        auto ra = fds[2 + 2 * i].revents;
        auto rb = fds[3 + 2 * i].revents;
        bool ok = true;
        if (ra & (POLLIN | POLLHUP | POLLERR))
          ok = pump(p.a, p.b);
        if (ok && !(once && p.answered) && (rb & (POLLIN | POLLHUP | POLLERR))) {
          ok = pump(p.b, p.a);
          p.answered = true;
        }
        if (!ok)
          close_pair(p);
      }
      pairs_.erase(std::remove_if(pairs_.begin(), pairs_.end(),
                                  [](const pair& p) { return p.a < 0; }),
                   pairs_.end());
    }
  }

  uint16_t target_;
  uint16_t port_ = 0;
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<bool> cut_{false};
  std::atomic<bool> restore_{false};
  std::atomic<bool> answer_once_{false};
  std::vector<pair> pairs_; // the proxy thread's alone
  std::thread thread_;
};

} // namespace slacker_test
