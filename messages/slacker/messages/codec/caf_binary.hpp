#pragma once

// The CAF binary codec: CAF's inspect, std::optional at the top level,
// decoding through the bounded deserializer.

#include <optional>
#include <type_traits>
#include <utility>

#include <caf/binary_serializer.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/error.hpp>

#include "slacker/messages/bounded.hpp"
#include "slacker/messages/codec/traits.hpp"

namespace slacker::detail {

template <class T>
struct caf_codec_ok : std::bool_constant<caf::detail::is_serializable<T>::value> {};
template <class T> struct caf_codec_ok<std::optional<T>> : caf_codec_ok<T> {};

template <class T> caf::error caf_save(caf::binary_serializer& sink, const T& x) {
  if constexpr (is_std_optional<T>::value) {
    bool has = x.has_value();
    if (auto err = sink(has))
      return err;
    return has ? caf_save(sink, *x) : caf::error{};
  } else {
    return sink(const_cast<T&>(x));
  }
}

template <class T> caf::error caf_load(bounded_deserializer& source, T& x) {
  if constexpr (is_std_optional<T>::value) {
    bool has = false;
    if (auto err = source(has))
      return err;
    if (!has) {
      x.reset();
      return {};
    }
    typename T::value_type value{};
    if (auto err = caf_load(source, value))
      return err;
    x = std::move(value);
    return {};
  } else {
    return source(x);
  }
}

} // namespace slacker::detail
