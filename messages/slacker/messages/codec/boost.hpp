#pragma once

// The Boost.Serialization codec: which types it carries, std::optional, and
// the archive flags (with the header, so that garbage fails at once).

#include <map>
#include <optional>
#include <set>
#include <string>
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

// std::optional for Boost 1.74, which predates it here.
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

namespace slacker::detail {

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

// With the archive header: bytes that are not a Boost archive fail at once,
// before any length read from them can ask for a huge allocation.
constexpr unsigned boost_flags = 0;

} // namespace slacker::detail
