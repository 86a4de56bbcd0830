#pragma once

// Encoding of arguments and results in the three codecs. A type works with a
// codec when it has what that codec needs, detected at compile time:
// - caf_binary: CAF's `inspect` (or a type CAF knows), plus std::optional at top level;
// - json: nlohmann `to_json`/`from_json` (or a type nlohmann knows);
// - boost_binary: Boost.Serialization `serialize` (member or free), or a
//   standard container/optional of such types.
// Arguments travel as a sequence: one value after the other (CAF, Boost) or a
// JSON array. Decoding never trusts its input: any failure is a codec_error.

#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/set.hpp>
#include <boost/serialization/split_free.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "slacker/messages/bounded.hpp"
#include "slacker/messages/call.hpp"
#include "slacker/messages/error.hpp"

// std::optional for the two libraries that predate it here (Boost 1.74, nlohmann 3.11.2).
namespace boost::serialization {

template <class Archive, class T>
void save(Archive& ar, const std::optional<T>& x, unsigned) {
  bool has = x.has_value();
  ar << has;
  if (has)
    ar << *x;
}

template <class Archive, class T> void load(Archive& ar, std::optional<T>& x, unsigned) {
  bool has = false;
  ar >> has;
  if (has) {
    T value{};
    ar >> value;
    x = std::move(value);
  } else {
    x.reset();
  }
}

template <class Archive, class T>
void serialize(Archive& ar, std::optional<T>& x, unsigned version) {
  split_free(ar, x, version);
}

} // namespace boost::serialization

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

template <class T> struct is_std_optional : std::false_type {};
template <class T> struct is_std_optional<std::optional<T>> : std::true_type {};

/// The name of a JSON value's type, for error messages.
const char* json_type_name(const nlohmann::json& j) noexcept;

[[noreturn]] void throw_number_error(const nlohmann::json& j, const char* target);

/// `j.get_to(out)`, except that numbers must fit their target: no wrapping,
/// no truncation, no fraction for an integer (nlohmann converts silently).
/// Containers of numbers are checked element by element; a user type's own
/// `from_json` decides for itself.
template <class T> void json_get(const nlohmann::json& j, T& out);

template <class T> struct is_std_vector : std::false_type {};
template <class T, class A> struct is_std_vector<std::vector<T, A>> : std::true_type {};
template <class T> struct is_std_set : std::false_type {};
template <class T> struct is_std_set<std::set<T>> : std::true_type {};
template <class T> struct is_string_map : std::false_type {};
template <class V> struct is_string_map<std::map<std::string, V>> : std::true_type {};

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
      if (!std::isfinite(d) || d != std::trunc(d) || d < lo || d >= hi)
        throw_number_error(j, target);
      out = static_cast<T>(d);
    } else {
      j.get_to(out);
    }
  }
}

// -- detection ------------------------------------------------------------

template <class T>
struct caf_codec_ok : std::bool_constant<caf::detail::is_serializable<T>::value> {};
template <class T> struct caf_codec_ok<std::optional<T>> : caf_codec_ok<T> {};

template <class T>
constexpr bool json_codec_ok = std::is_same_v<T, nlohmann::json> ||
                               requires(nlohmann::json& j, const T& in, T& out) {
  nlohmann::adl_serializer<T>::to_json(j, in);
  nlohmann::adl_serializer<T>::from_json(std::as_const(j), out);
};

template <class T>
        struct boost_codec_ok : std::bool_constant < std::is_arithmetic_v<T> ||
    std::is_enum_v<T> || requires(T& x, boost::archive::binary_oarchive& ar) {
  x.serialize(ar, 0u);
} || requires(T& x, boost::archive::binary_oarchive& ar) {
  serialize(ar, x, 0u);
}
> {};
template <> struct boost_codec_ok<std::string> : std::true_type {};
template <class T, class A>
struct boost_codec_ok<std::vector<T, A>> : boost_codec_ok<T> {};
template <class T> struct boost_codec_ok<std::set<T>> : boost_codec_ok<T> {};
template <class K, class V>
struct boost_codec_ok<std::map<K, V>>
  : std::bool_constant<boost_codec_ok<K>::value && boost_codec_ok<V>::value> {};
template <class A, class B>
struct boost_codec_ok<std::pair<A, B>>
  : std::bool_constant<boost_codec_ok<A>::value && boost_codec_ok<B>::value> {};
template <class T> struct boost_codec_ok<std::optional<T>> : boost_codec_ok<T> {};

/// Stops the build, naming `T` (in `must_travel<T>`), when no codec can
/// carry it: a function's argument or result type needs an `inspect`
/// overload (CAF binary), `to_json`/`from_json` (JSON) or `serialize`
/// (Boost).
template <class T> struct must_travel {
  static_assert(caf_codec_ok<T>::value || json_codec_ok<T> || boost_codec_ok<T>::value,
                "slacker: this argument or result type (see must_travel<T> above) cannot "
                "travel in any codec: give it an inspect() overload (CAF binary), "
                "to_json/from_json (JSON) or serialize() (Boost)");
  static constexpr bool value = true;
};

// -- CAF binary -------------------------------------------------------------

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

// -- Boost ----------------------------------------------------------------

// With the archive header: bytes that are not a Boost archive fail at once,
// before any length read from them can ask for a huge allocation.
constexpr unsigned boost_flags = 0;

} // namespace detail

/// True when `T` can travel in codec `C`.
template <class T> constexpr bool supports(codec_id c) {
  using U = std::decay_t<T>;
  switch (c) {
    case codec_id::caf_binary:
      return detail::caf_codec_ok<U>::value;
    case codec_id::json:
      return detail::json_codec_ok<U>;
    case codec_id::boost_binary:
      return detail::boost_codec_ok<U>::value;
  }
  return false;
}

/// True when every one of `Ts` can travel in codec `c`.
template <class... Ts> constexpr bool supports_all(codec_id c) {
  return (supports<Ts>(c) && ...);
}

/// Encodes `xs...` as a sequence in codec `c`.
template <class... Ts> caf::expected<bytes> encode(codec_id c, const Ts&... xs) {
  bytes out;
  try {
    switch (c) {
      case codec_id::caf_binary:
        if constexpr ((detail::caf_codec_ok<Ts>::value && ...)) {
          caf::binary_serializer sink{nullptr, out};
          caf::error err;
          ((err = err ? std::move(err) : detail::caf_save(sink, xs)), ...);
          if (err)
            return make_error(sc::codec_error,
                              "cannot encode as caf: " + caf::to_string(err));
          return out;
        }
        break;
      case codec_id::json:
        if constexpr ((detail::json_codec_ok<Ts> && ...)) {
          auto doc = nlohmann::json::array({nlohmann::json(xs)...});
          auto text = doc.dump();
          return bytes(text.begin(), text.end());
        }
        break;
      case codec_id::boost_binary:
        if constexpr ((detail::boost_codec_ok<Ts>::value && ...)) {
          std::ostringstream os;
          {
            boost::archive::binary_oarchive ar{os, detail::boost_flags};
            (static_cast<void>(ar << xs), ...);
          }
          auto text = os.str();
          return bytes(text.begin(), text.end());
        }
        break;
    }
  } catch (const std::exception& e) {
    return make_error(sc::codec_error,
                      std::string{"cannot encode as "} + to_string(c) + ": " + e.what());
  }
  return make_error(sc::codec_error, std::string{"codec "} + to_string(c) +
                                         " is not supported by these types");
}

/// Decodes a sequence of `Ts...` in codec `c`; all input must be consumed.
template <class... Ts>
caf::expected<std::tuple<Ts...>> decode(codec_id c, const bytes& in) {
  std::tuple<Ts...> out;
  auto fail = [c](const std::string& why) {
    return make_error(sc::codec_error,
                      std::string{"cannot decode "} + to_string(c) + ": " + why);
  };
  try {
    switch (c) {
      case codec_id::caf_binary:
        if constexpr ((detail::caf_codec_ok<Ts>::value && ...)) {
          bounded_deserializer source{nullptr, in.data(), in.size()};
          caf::error err;
          std::apply(
              [&](auto&... xs) {
                ((err = err ? std::move(err) : detail::caf_load(source, xs)), ...);
              },
              out);
          if (err)
            return fail(describe(err));
          if (source.remaining() != 0)
            return fail(std::to_string(source.remaining()) + " trailing bytes");
          return out;
        }
        break;
      case codec_id::json:
        if constexpr ((detail::json_codec_ok<Ts> && ...)) {
          auto doc = parse_json(in.data(), in.size());
          if (!doc)
            return std::move(doc.error());
          if (!doc->is_array() || doc->size() != sizeof...(Ts))
            return fail("expected a JSON array of " + std::to_string(sizeof...(Ts)) +
                        " values, got " + detail::json_type_name(*doc) +
                        (doc->is_array()
                             ? " of " + std::to_string(doc->size()) + " values"
                             : std::string{}));
          size_t i = 0;
          std::apply([&](auto&... xs) { ((detail::json_get(doc->at(i++), xs)), ...); },
                     out);
          return out;
        }
        break;
      case codec_id::boost_binary:
        if constexpr ((detail::boost_codec_ok<Ts>::value && ...)) {
          detail::memory_buf buf{in.data(), in.size()};
          {
            bounded_iarchive ar{buf, detail::boost_flags};
            std::apply([&](auto&... xs) { (static_cast<void>(ar >> xs), ...); }, out);
          }
          if (buf.left() != 0)
            return fail(std::to_string(buf.left()) + " trailing bytes");
          return out;
        }
        break;
    }
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return make_error(sc::codec_error, std::string{"codec "} + to_string(c) +
                                         " is not supported by these types");
}

/// Encodes one value (a function's result).
template <class T> caf::expected<bytes> encode_value(codec_id c, const T& x) {
  if (c == codec_id::json) {
    if constexpr (detail::json_codec_ok<T>) {
      try {
        auto text = nlohmann::json(x).dump();
        return bytes(text.begin(), text.end());
      } catch (const std::exception& e) {
        return make_error(sc::codec_error,
                          std::string{"cannot encode json: "} + e.what());
      }
    }
  }
  return encode(c, x);
}

/// Decodes one value (a function's result).
template <class T> caf::expected<T> decode_value(codec_id c, const bytes& in) {
  if (c == codec_id::json) {
    if constexpr (detail::json_codec_ok<T>) {
      try {
        auto doc = parse_json(in.data(), in.size());
        if (!doc)
          return std::move(doc.error());
        if constexpr (std::is_same_v<T, nlohmann::json>) {
          return std::move(*doc); // any JSON value
        } else {
          T value{};
          detail::json_get(*doc, value);
          return value;
        }
      } catch (const std::exception& e) {
        return make_error(sc::codec_error,
                          std::string{"cannot decode json: "} + e.what());
      }
    }
  }
  auto res = decode<T>(c, in);
  if (!res)
    return std::move(res.error());
  return std::move(std::get<0>(*res));
}

/// Decodes the result of a reply as a `R` (`void` ignores it); the reply's
/// error, if it has one.
template <class R> caf::expected<R> result_of(const call_reply& rep) {
  if (rep.err)
    return rep.err;
  if constexpr (std::is_void_v<R>)
    return caf::unit;
  else
    return decode_value<R>(rep.codec, rep.result);
}

} // namespace slacker
