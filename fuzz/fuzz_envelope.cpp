// libFuzzer target: the bytes a server's connection receives. Frames are
// reassembled by the bounded frame buffer; each call envelope is read and, when
// it names a function of the namespace below, decoded and run as a server
// would; replies, hellos and function lists are read as a client would.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "slacker/actors/namespace.hpp"
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

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slacker;
  wire::frame_buffer in{64 * 1024};
  (void)in.feed(reinterpret_cast<const char*>(data), size,
                [](wire::frame_type type, wire::reader& r) {
                  switch (type) {
                    case wire::frame_type::call: {
                      call_request req;
                      if (!wire::read_call(r, req))
                        return false;
                      auto& fns = api().functions();
                      if (auto i = fns.find(req.fn); i != fns.end())
                        (void)i->second.invoke(req.codec, req.args);
                      return true;
                    }
                    case wire::frame_type::reply: {
                      call_reply rep;
                      return wire::read_reply(r, rep);
                    }
                    case wire::frame_type::hello: {
                      wire::hello h;
                      return wire::read_hello(r, h);
                    }
                    case wire::frame_type::inspect_reply: {
                      uint64_t id = 0;
                      uint8_t ok = 0;
                      std::vector<function_info> infos;
                      return r.u64(id) && r.u8(ok) && wire::read_function_infos(r, infos);
                    }
                    default: {
                      std::vector<std::string> strings;
                      extensions ext;
                      caf::error err;
                      return r.strings(strings) || r.ext(ext) || r.err(err);
                    }
                  }
                });
  return 0;
}
