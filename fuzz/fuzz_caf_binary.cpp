// libFuzzer target: the caf_binary decoder on arbitrary bytes (arguments a server
// receives, results a client receives).
#include <cstddef>
#include <cstdint>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

#include "fuzz_types.hpp"
#include "slacker/messages/bounded.hpp"

namespace {

caf::actor_system& system() {
  // Never destroyed: CAF's own globals may be gone by the time static
  // destructors run at exit (an actor system destroyed then crashes in CAF).
  static auto* sys = new caf::actor_system(*new caf::actor_system_config);
  return *sys;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  slacker::bytes in(reinterpret_cast<const char*>(data),
                    reinterpret_cast<const char*>(data) + size);
  slacker_fuzz::decode_all(slacker::codec_id::caf_binary, in);
  // A typed message, as a server's connection deserializes a `send` frame.
  caf::message msg;
  slacker::bounded_deserializer source{&system(), in.data(), in.size()};
  (void)source(msg);
  return 0;
}
