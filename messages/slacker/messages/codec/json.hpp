#pragma once

// The JSON codec (nlohmann): bounded parsing of untrusted text, numbers
// checked against their targets, std::optional as null.

#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "slacker/messages/codec/traits.hpp"

// std::optional for nlohmann 3.11.2, which predates it here.
namespace nlohmann {

template <class T> struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& x) {
    if (x)
      j = *x;
    else
      j = nullptr;
  }
  static void from_json(const json& j, std::optional<T>& x) {
    if (j.is_null())
      x.reset();
    else
      x = j.get<T>();
  }
};

} // namespace nlohmann

namespace slacker {

/// The deepest JSON nesting a decoder accepts (`slacker.json.max-depth`,
/// default 256): deeper input is a codec_error before it is parsed.
size_t json_max_depth() noexcept;
void set_json_max_depth(size_t depth) noexcept;

/// Parses JSON text that came from outside: nesting deeper than
/// `json_max_depth()` or text that is not JSON is a codec_error whose
/// message quotes none of the input.
caf::expected<nlohmann::json> parse_json(const char* data, size_t size);

namespace detail {

/// The name of a JSON value's type, for error messages.
const char* json_type_name(const nlohmann::json& j) noexcept;

/// What an exception says, without nlohmann's "[json.exception.type_error.302] "
/// prefix (for users: "type must be number, but is string").
std::string plain_message(const std::exception& e);

[[noreturn]] void throw_number_error(const nlohmann::json& j, const char* target);

/// `j.get_to(out)`, except that numbers must fit their target: no wrapping,
/// no truncation, no fraction for an integer (nlohmann converts silently).
/// Containers of numbers are checked element by element; a user type's own
/// `from_json` decides for itself.
template <class T> void json_get(const nlohmann::json& j, T& out);

template <class T> void json_get(const nlohmann::json& j, T& out) {
  if constexpr (std::is_same_v<T, bool> || !std::is_arithmetic_v<T>) {
    if constexpr (is_std_optional<T>::value) {
      if (j.is_null()) {
        out.reset();
      } else {
        typename T::value_type value{};
        json_get(j, value);
        out = std::move(value);
      }
    } else if constexpr (is_std_vector<T>::value || is_std_set<T>::value) {
      if (!j.is_array()) {
        j.get_to(out); // nlohmann's own error
        return;
      }
      out.clear();
      for (auto& x : j) {
        typename T::value_type value{};
        json_get(x, value);
        out.insert(out.end(), std::move(value));
      }
    } else if constexpr (is_string_map<T>::value) {
      if (!j.is_object()) {
        j.get_to(out);
        return;
      }
      out.clear();
      for (auto& kvp : j.items()) {
        typename T::mapped_type value{};
        json_get(kvp.value(), value);
        out.emplace(kvp.key(), std::move(value));
      }
    } else {
      j.get_to(out);
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number())
      j.get_to(out);
    else if (auto d = j.get<double>();
             std::isfinite(d) && std::fabs(d) > double(std::numeric_limits<T>::max()))
      throw_number_error(j, "this floating-point type");
    else
      out = static_cast<T>(d);
  } else {
    constexpr const char* target = std::is_signed_v<T> ? (sizeof(T) == 8   ? "int64"
                                                          : sizeof(T) == 4 ? "int32"
                                                          : sizeof(T) == 2 ? "int16"
                                                                           : "int8")
                                                       : (sizeof(T) == 8   ? "uint64"
                                                          : sizeof(T) == 4 ? "uint32"
                                                          : sizeof(T) == 2 ? "uint16"
                                                                           : "uint8");
    if (j.is_number_unsigned()) {
      auto v = j.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max()))
        throw_number_error(j, target);
      out = static_cast<T>(v);
    } else if (j.is_number_integer()) {
      auto v = j.get<int64_t>();
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          (v > 0 && static_cast<uint64_t>(v) >
                        static_cast<uint64_t>(std::numeric_limits<T>::max())))
        throw_number_error(j, target);
      out = static_cast<T>(v);
    } else if (j.is_number_float()) {
      auto d = j.get<double>();
      // 2^63 and beyond are not representable in int64: the bounds are
      // compared as doubles, exclusive at the top.
      constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
      constexpr double hi = static_cast<double>(std::numeric_limits<T>::max()) + 1.0;
      // The bottom is exclusive for 64 bits: -2^63 written as an integer is
      // parsed as one; as a double it may stand for -2^63 - 1 (rounded).
      constexpr bool low_open = sizeof(T) == 8 && std::is_signed_v<T>;
      if (!std::isfinite(d) || d != std::trunc(d) || d < lo || (low_open && d == lo) ||
          d >= hi)
        throw_number_error(j, target);
      out = static_cast<T>(d);
    } else {
      j.get_to(out);
    }
  }
}

template <class T>
constexpr bool json_codec_ok = std::is_same_v<T, nlohmann::json> ||
                               requires(nlohmann::json& j, const T& in, T& out) {
  nlohmann::adl_serializer<T>::to_json(j, in);
  nlohmann::adl_serializer<T>::from_json(std::as_const(j), out);
};

} // namespace detail

} // namespace slacker
