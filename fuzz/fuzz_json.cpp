// libFuzzer target: the json decoder on arbitrary bytes (arguments a server
// receives, results a client receives).
#include <cstddef>
#include <cstdint>

#include "fuzz_types.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  slacker::bytes in(reinterpret_cast<const char*>(data),
                    reinterpret_cast<const char*>(data) + size);
  slacker_fuzz::decode_all(slacker::codec_id::json, in);
  // What the CLI does with a result: parse, then print (printing recurses).
  if (auto doc = slacker::parse_json(in.data(), in.size()))
    (void)doc->dump();
  return 0;
}
