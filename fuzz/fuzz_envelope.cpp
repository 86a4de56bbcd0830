// libFuzzer target: the bytes a connection receives, through both sides'
// protocol state machines (server_protocol, client_protocol), as the first
// bytes of a connection and after a valid hello. Frames are reassembled by the
// bounded frame buffer; each call that names a function of the namespace below
// is decoded and run as a server would; replies and function lists are read as
// a client would.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "slacker/actors/namespace.hpp"
#include "slacker/messages/detail/protocol.hpp"
#include "slacker/messages/detail/wire.hpp"

namespace {

const slacker::ns& api() {
  static const slacker::ns functions =
      slacker::ns("fuzz.api")
          .def("add",
               [](int64_t a, int64_t b) {
                 return static_cast<int64_t>(static_cast<uint64_t>(a) +
                                             static_cast<uint64_t>(b));
               })
          .def("echo", [](std::string s) { return s; })
          .def("sizes",
               [](std::map<std::string, std::vector<int32_t>> m) {
                 return static_cast<int64_t>(m.size());
               })
          .def("bits", [](std::vector<bool> xs) { return xs; })
          .def("maybe", [](std::optional<double> x) { return x.value_or(0.0); })
          .def("nothing", [] {});
  return functions;
}

/// A server's side: runs the calls of the namespace above, answers queries.
struct server_side : slacker::wire::server_protocol::callee {
  void on_call(slacker::call_request& req, std::vector<char>&) override {
    auto& fns = api().functions();
    if (auto i = fns.find(req.fn); i != fns.end())
      (void)i->second.invoke(req.codec, req.args);
  }
  void on_send(uint64_t, const std::string&, const std::vector<char>&,
               std::vector<char>&) override {}
  void on_query(slacker::wire::frame_type, uint64_t id, const std::string&,
                std::vector<char>& out) override {
    slacker::wire::write_lookup_reply(out, id, slacker::wire::ns_kind::functions);
  }
};

/// A client's side: reads query answers as function lists.
struct client_side : slacker::wire::client_protocol::callee {
  void on_greeted() override {}
  void on_reply(slacker::call_reply&) override {}
  void on_send_reply(uint64_t, bool, std::vector<char>&, caf::error&) override {}
  bool on_query_reply(slacker::wire::frame_type, slacker::wire::reader& r) override {
    uint64_t id = 0;
    uint8_t ok = 0;
    std::vector<slacker::function_info> infos;
    return r.u64(id) && r.u8(ok) && slacker::wire::read_function_infos(r, infos);
  }
  void on_going_away() override {}
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slacker;
  constexpr uint32_t cap = 64 * 1024;
  auto bytes = reinterpret_cast<const char*>(data);
  std::vector<char> out;
  // As the first bytes of a connection, and after a valid hello.
  std::vector<char> greeted;
  wire::write_hello(greeted, cap);
  greeted.insert(greeted.end(), bytes, bytes + size);
  server_side s;
  wire::server_protocol after_hello{s, cap};
  (void)after_hello.feed(greeted.data(), greeted.size(), out);
  wire::server_protocol first{s, cap};
  (void)first.feed(bytes, size, out);
  client_side c;
  wire::client_protocol client{c, cap, "fuzz"};
  (void)client.feed(greeted.data(), greeted.size(), out);
  return 0;
}
