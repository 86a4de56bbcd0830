#pragma once

// Encoding of arguments and results in the three codecs. A type works with a
// codec when it has what that codec needs, detected at compile time:
// - caf_binary: CAF's `inspect` (or a type CAF knows), plus std::optional at top level;
// - json: nlohmann `to_json`/`from_json` (or a type nlohmann knows);
// - boost_binary: Boost.Serialization `serialize` (member or free), or a
//   standard container/optional of such types.
// This header is the front; each codec has a header of its own in codec/.
// Arguments travel as a sequence: one value after the other (CAF, Boost) or a
// JSON array. Decoding never trusts its input: any failure is a codec_error.

#include <cstddef>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "slacker/messages/bounded.hpp"
#include "slacker/messages/call.hpp"
#include "slacker/messages/codec/boost.hpp"
#include "slacker/messages/codec/caf_binary.hpp"
#include "slacker/messages/codec/json.hpp"
#include "slacker/messages/error.hpp"

namespace slacker {

namespace detail {

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
          // Small arguments (most calls') in one allocation, not one per
          // field as the buffer grows.
          if constexpr (sizeof...(Ts) > 0)
            out.reserve(64);
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
    return make_error(sc::codec_error, std::string{"cannot encode as "} + to_string(c) +
                                           ": " + detail::plain_message(e));
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
          size_t i = 0; // the argument being read, from 1
          try {
            std::apply([&](auto&... xs) { ((detail::json_get(doc->at(i++), xs)), ...); },
                       out);
          } catch (const std::exception& e) {
            return fail("argument " + std::to_string(i) + ": " +
                        detail::plain_message(e));
          }
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
    return fail(detail::plain_message(e));
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
                          "cannot encode json: " + detail::plain_message(e));
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
                          "cannot decode json: " + detail::plain_message(e));
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
