#pragma once

// The argument lists the fuzz targets decode: scalars at their limits,
// strings, byte sequences, nested containers, optionals.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "slacker/messages/codec.hpp"

namespace slacker_fuzz {

/// Decodes `in` as each argument list in codec `c`; the results are
/// discarded: only crashes, hangs, leaks and large allocations count.
inline void decode_all(slacker::codec_id c, const slacker::bytes& in) {
  using namespace slacker;
  (void)decode<std::string, int64_t>(c, in);
  (void)decode<int32_t, uint8_t, double, bool>(c, in);
  (void)decode<std::vector<std::string>>(c, in);
  (void)decode<std::vector<char>, std::optional<int32_t>>(c, in);
  (void)decode<std::map<std::string, std::vector<int64_t>>>(c, in);
  (void)decode<std::vector<std::vector<std::string>>>(c, in);
  (void)decode<std::optional<std::map<std::string, std::string>>>(c, in);
  (void)decode_value<std::vector<double>>(c, in);
  (void)decode_value<uint64_t>(c, in);
}

} // namespace slacker_fuzz
