#include "slacker/messages/codec.hpp"

#include <atomic>

namespace slacker {

namespace {

std::atomic<size_t> max_depth{256};

/// True when brackets nest deeper than `max` anywhere outside strings: one
/// pass, no allocation, before the parser builds anything.
bool too_deep(const char* data, size_t size, size_t max) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < size; ++i) {
    char c = data[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max)
        return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

} // namespace

size_t json_max_depth() noexcept {
  return max_depth.load(std::memory_order_relaxed);
}

void set_json_max_depth(size_t depth) noexcept {
  max_depth.store(depth, std::memory_order_relaxed);
}

caf::expected<nlohmann::json> parse_json(const char* data, size_t size) {
  auto limit = json_max_depth();
  if (too_deep(data, size, limit))
    return make_error(sc::codec_error, "cannot decode json: nested deeper than " +
                                           std::to_string(limit) +
                                           " levels (slacker.json.max-depth), " +
                                           std::to_string(size) + " bytes");
  auto doc = nlohmann::json::parse(data, data + size, nullptr, false);
  if (doc.is_discarded())
    return make_error(sc::codec_error, "cannot decode json: not valid JSON, " +
                                           std::to_string(size) + " bytes");
  return doc;
}

namespace detail {

const char* json_type_name(const nlohmann::json& j) noexcept {
  return j.type_name();
}

std::string plain_message(const std::exception& e) {
  std::string what = e.what();
  if (what.rfind("[json.exception.", 0) == 0)
    if (auto end = what.find("] "); end != std::string::npos)
      return what.substr(end + 2);
  return what;
}

void throw_number_error(const nlohmann::json& j, const char* target) {
  throw std::out_of_range("the number " + excerpt(j.dump(), 40) + " does not fit " +
                          target);
}

} // namespace detail

} // namespace slacker
