#pragma once

// Grouping-results: how the answers of the servers that succeeded become the
// call's result. The gather keeps the encoded answers; these shape the typed
// values on the caller's side.

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <caf/expected.hpp>

#include "slacker/messages/names.hpp"
#include "slacker/policy/exceptions.hpp"

namespace slacker {

enum class results_kind : uint8_t {
  single, // the first good result (the default)
  vector, // every good result, in the order they came
  map,    // every good result, keyed "host:port"
  nil,    // nothing
};

const char* to_string(results_kind x);
bool from_string(const std::string& name, results_kind& out);
template <> std::vector<std::string> all_names<results_kind>();

/// A user policy over the (address, result) pairs that succeeded; returns the
/// call's one result, encoded in `codec` (see `slacker::reduce` for a typed one).
using results_fn = std::function<caf::expected<bytes>(codec_id codec,
                                                      const std::vector<server_result>&)>;

using results_policy = std::variant<results_kind, results_fn>;

namespace results {

/// The (address, decoded result) pairs a typed user policy reduces
/// (`slacker::reduce`).
template <class T> using pairs = std::vector<std::pair<std::string, T>>;

} // namespace results

} // namespace slacker
