// gRPC C++ as the peer of apps/bench: a sync or a callback server, and a sync
// and a callback client measured exactly like the other systems. apps/bench
// runs it against both servers (gRPC at its best is the callback pair).
//   bench-grpc --role=server [--server=sync|callback]
//                                            prints "port N", serves until stdin closes
//   bench-grpc --role=client --port=N --millis=MS [--server=sync|callback]
//                                            prints one "row ..." line per measurement
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include "echo.grpc.pb.h"

namespace {

using clock_type = std::chrono::steady_clock;
using slacker::bench::Echo;
using slacker::bench::Int64;
using slacker::bench::Text;

/// The callback (reactor) server: gRPC at its best on the server side.
class echo_callback_service final : public Echo::CallbackService {
  grpc::ServerUnaryReactor* EchoInt(grpc::CallbackServerContext* ctx, const Int64* in,
                                    Int64* out) override {
    out->set_value(in->value());
    return finished(ctx);
  }
  grpc::ServerUnaryReactor* EchoText(grpc::CallbackServerContext* ctx, const Text* in,
                                     Text* out) override {
    out->set_value(in->value());
    return finished(ctx);
  }
  static grpc::ServerUnaryReactor* finished(grpc::CallbackServerContext* ctx) {
    auto reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

/// The sync server (a thread per call in flight).
class echo_service final : public Echo::Service {
  grpc::Status EchoInt(grpc::ServerContext*, const Int64* in, Int64* out) override {
    out->set_value(in->value());
    return grpc::Status::OK;
  }
  grpc::Status EchoText(grpc::ServerContext*, const Text* in, Text* out) override {
    out->set_value(in->value());
    return grpc::Status::OK;
  }
};

struct row {
  std::string name;
  std::string payload;
  size_t in_flight = 0;
  size_t calls = 0;
  size_t errors = 0;
  double seconds = 0;
  std::vector<int64_t> lat_ns;

  double pct(double p) {
    if (lat_ns.empty())
      return 0;
    std::sort(lat_ns.begin(), lat_ns.end());
    return lat_ns[std::min(lat_ns.size() - 1, static_cast<size_t>(p * lat_ns.size()))] /
           1000.0;
  }

  void print() {
    std::printf("row %s|%s|%zu|%.0f|%.1f|%.1f|%.1f|%zu\n", name.c_str(), payload.c_str(),
                in_flight, seconds > 0 ? calls / seconds : 0, pct(0.5), pct(0.99),
                pct(0.999), errors);
    std::fflush(stdout);
  }
};

template <class Req, class Resp>
using sync_method = grpc::Status (Echo::Stub::*)(grpc::ClientContext*, const Req&, Resp*);

template <class Req, class Resp>
row sync_client(Echo::Stub& stub, sync_method<Req, Resp> method, const Req& req,
                std::string payload, std::chrono::milliseconds duration) {
  row r;
  r.name = "gRPC C++ sync client";
  r.payload = std::move(payload);
  r.in_flight = 1;
  auto start = clock_type::now();
  for (auto t0 = start; t0 < start + duration;) {
    grpc::ClientContext ctx;
    Resp resp;
    auto ok = (stub.*method)(&ctx, req, &resp).ok();
    auto t1 = clock_type::now();
    ++(ok ? r.calls : r.errors);
    r.lat_ns.push_back((t1 - t0).count());
    t0 = t1;
  }
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  return r;
}

/// The callback API: each completion starts the next call, `in_flight` at once.
template <class Req, class Resp, class Start>
row callback_client(Start start_call, const Req& req, std::string payload,
                    size_t in_flight, std::chrono::milliseconds duration) {
  row r;
  r.name = "gRPC C++ callback client";
  r.payload = std::move(payload);
  r.in_flight = in_flight;
  std::mutex mtx;
  std::condition_variable cv;
  size_t active = in_flight;
  auto start = clock_type::now();
  auto end = start + duration;
  struct call {
    grpc::ClientContext ctx;
    Resp resp;
    clock_type::time_point t0;
  };
  std::function<void()> launch = [&] {
    auto c = new call;
    c->t0 = clock_type::now();
    start_call(&c->ctx, &req, &c->resp, [&, c](grpc::Status st) {
      auto t1 = clock_type::now();
      bool again = false;
      {
        std::lock_guard<std::mutex> guard{mtx};
        ++(st.ok() ? r.calls : r.errors);
        if (in_flight == 1)
          r.lat_ns.push_back((t1 - c->t0).count());
        again = t1 < end;
        if (!again && --active == 0) {
          r.seconds = std::chrono::duration<double>(t1 - start).count();
          cv.notify_all();
        }
      }
      delete c;
      if (again)
        launch();
    });
  };
  for (size_t i = 0; i < in_flight; ++i)
    launch();
  std::unique_lock<std::mutex> guard{mtx};
  cv.wait(guard, [&] { return active == 0; });
  return r;
}

std::string option(int argc, char** argv, const std::string& name, std::string fallback) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--" + name + "=", 0) == 0)
      return arg.substr(name.size() + 3);
  }
  return fallback;
}

} // namespace

int main(int argc, char** argv) {
  auto role = option(argc, argv, "role", "client");
  if (role == "server") {
    echo_service sync_service;
    echo_callback_service callback_service;
    auto callback = option(argc, argv, "server", "sync") == "callback";
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    if (callback)
      builder.RegisterService(&callback_service);
    else
      builder.RegisterService(&sync_service);
    auto server = builder.BuildAndStart();
    std::printf("port %d\n", port);
    std::fflush(stdout);
    char buf[16];
    while (read(0, buf, sizeof(buf)) > 0) {
    }
    server->Shutdown();
    return 0;
  }
  auto port = option(argc, argv, "port", "");
  // Rows name the server they were measured against.
  auto server = option(argc, argv, "server", "sync");
  auto suffix = std::string{", "} + server + " server";
  std::chrono::milliseconds duration{std::stoi(option(argc, argv, "millis", "3000"))};
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + port, grpc::InsecureChannelCredentials());
  auto stub = Echo::NewStub(channel);
  Int64 small;
  small.set_value(42);
  Text kib;
  kib.set_value(std::string(1024, 'x'));
  { // connect first
    grpc::ClientContext ctx;
    Int64 out;
    if (!stub->EchoInt(&ctx, small, &out).ok()) {
      std::fprintf(stderr, "error: no gRPC server at port %s\n", port.c_str());
      return 1;
    }
  }
  auto async_int = [&](grpc::ClientContext* ctx, const Int64* in, Int64* out,
                       std::function<void(grpc::Status)> done) {
    stub->async()->EchoInt(ctx, in, out, std::move(done));
  };
  auto async_text = [&](grpc::ClientContext* ctx, const Text* in, Text* out,
                        std::function<void(grpc::Status)> done) {
    stub->async()->EchoText(ctx, in, out, std::move(done));
  };
  auto print = [&](row r) {
    r.name += suffix;
    r.print();
  };
  print(sync_client(*stub, &Echo::Stub::EchoInt, small, "int64", duration));
  for (size_t n : {size_t{1}, size_t{64}})
    print(callback_client<Int64, Int64>(async_int, small, "int64", n, duration));
  print(sync_client(*stub, &Echo::Stub::EchoText, kib, "1 KiB", duration));
  for (size_t n : {size_t{1}, size_t{64}})
    print(callback_client<Text, Text>(async_text, kib, "1 KiB", n, duration));
  return 0;
}
