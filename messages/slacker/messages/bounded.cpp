#include "slacker/messages/bounded.hpp"

#include <algorithm>
#include <stdexcept>

#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>
#include <caf/actor_system.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>
#include <caf/uniform_type_info_map.hpp>

#include "slacker/messages/error.hpp"
#include "slacker/messages/type_name.hpp"

namespace slacker {

// -- CAF ----------------------------------------------------------------------

namespace {

const char* const register_hint =
    ": register it in the actor system config of both sides "
    "(add_message_type<T>(\"name\"))";

} // namespace

std::string save_message(caf::actor_system& sys, const caf::message& msg,
                         std::vector<char>& out) {
  auto& types = sys.types();
  std::string unknown;
  for (size_t i = 0; i < msg.size(); ++i) {
    auto rtti = msg.type(i);
    if (types.portable_name(rtti) != types.default_type_name())
      continue;
    unknown += unknown.empty() ? "" : ", ";
    unknown += rtti.second ? demangle(*rtti.second) : "element " + std::to_string(i);
  }
  if (!unknown.empty())
    return "type " + unknown + " is not registered on this side" + register_hint;
  caf::binary_serializer sink{sys, out};
  if (auto err = sink(const_cast<caf::message&>(msg)))
    return describe(err);
  return {};
}

std::string load_message(caf::actor_system& sys, const std::vector<char>& bytes,
                         caf::message& msg) {
  bounded_deserializer source{&sys, bytes.data(), bytes.size()};
  auto err = source(msg);
  if (!err && !msg.empty())
    return {};
  // CAF reads a message holding a type it does not know as an empty one (or
  // fails). The element types' names come first ("@<>+a+b"): name those
  // this side does not know.
  bounded_deserializer header{&sys, bytes.data(), bytes.size()};
  uint16_t nr = 0;
  std::string names;
  const std::string tag = "@<>+";
  std::string unknown;
  if (!header.begin_object(nr, names) && nr == 0 && names.rfind(tag, 0) == 0) {
    for (size_t pos = tag.size(); pos <= names.size();) {
      auto end = std::min(names.find('+', pos), names.size());
      auto name = names.substr(pos, end - pos);
      if (!name.empty() && !sys.types().make_value(name)) {
        unknown += unknown.empty() ? "" : ", ";
        unknown += name.size() > 100 ? name.substr(0, 100) + "..." : name;
      }
      pos = end + 1;
    }
  }
  if (!unknown.empty())
    return "type " + unknown + " is not registered on this side" + register_hint;
  return err ? describe(err) : std::string{};
}

bounded_deserializer::bounded_deserializer(caf::actor_system* sys, const char* data,
                                           size_t size)
  : caf::deserializer(sys ? sys->dummy_execution_unit() : nullptr),
    inner_(sys ? sys->dummy_execution_unit() : nullptr, data, size) {
  // nop
}

caf::error bounded_deserializer::begin_object(uint16_t& typenr, std::string& name) {
  return inner_.begin_object(typenr, name);
}

caf::error bounded_deserializer::end_object() {
  return inner_.end_object();
}

caf::error bounded_deserializer::begin_sequence(size_t& num) {
  if (auto err = inner_.begin_sequence(num))
    return err;
  if (num / 8 > inner_.remaining())
    return make_error(sc::codec_error, "a sequence declares " + std::to_string(num) +
                                           " elements with only " +
                                           std::to_string(inner_.remaining()) +
                                           " bytes left");
  return {};
}

caf::error bounded_deserializer::end_sequence() {
  return inner_.end_sequence();
}

caf::error bounded_deserializer::apply_raw(size_t num_bytes, void* data) {
  return inner_.apply_raw(num_bytes, data);
}

#define SLACKER_FORWARD(type)                                                            \
  caf::error bounded_deserializer::apply_impl(type& x) {                                 \
    return inner_.apply(x);                                                              \
  }
SLACKER_FORWARD(int8_t)
SLACKER_FORWARD(uint8_t)
SLACKER_FORWARD(int16_t)
SLACKER_FORWARD(uint16_t)
SLACKER_FORWARD(int32_t)
SLACKER_FORWARD(uint32_t)
SLACKER_FORWARD(int64_t)
SLACKER_FORWARD(uint64_t)
SLACKER_FORWARD(float)
SLACKER_FORWARD(double)
SLACKER_FORWARD(long double)
SLACKER_FORWARD(std::string)
SLACKER_FORWARD(std::u16string)
SLACKER_FORWARD(std::u32string)
#undef SLACKER_FORWARD

// -- Boost --------------------------------------------------------------------

bounded_iarchive::bounded_iarchive(detail::memory_buf& buf, unsigned flags)
  : base(buf, flags), buf_(buf) {
  init(flags);
}

void bounded_iarchive::check(size_t count, size_t unit, const char* what) {
  if (unit != 0 && count > buf_.left() / unit)
    throw std::length_error(std::string{what} + " declares " + std::to_string(count) +
                            " elements with only " + std::to_string(buf_.left()) +
                            " bytes left");
}

void bounded_iarchive::load(bool& b) {
  unsigned char byte = 0;
  load_binary(&byte, 1);
  if (byte > 1)
    throw std::invalid_argument("a boolean byte of " + std::to_string(byte));
  b = byte != 0;
}

void bounded_iarchive::load(std::string& s) {
  std::size_t len = 0;
  base::load(len);
  check(len, 1, "a string");
  s.resize(len);
  if (len > 0)
    load_binary(s.data(), len);
}

void bounded_iarchive::load(std::wstring& s) {
  std::size_t len = 0;
  base::load(len);
  check(len, sizeof(wchar_t), "a wide string");
  s.resize(len);
  if (len > 0)
    load_binary(s.data(), len * sizeof(wchar_t));
}

void bounded_iarchive::load_override(boost::serialization::collection_size_type& t) {
  base::load_override(t);
  check(static_cast<size_t>(t), 1, "a collection");
}

} // namespace slacker

// The archive's templates, instantiated once here (as Boost does for its own
// archives in libboost_serialization).
namespace boost::archive {
template class basic_binary_iprimitive<slacker::bounded_iarchive, char,
                                       std::char_traits<char>>;
template class basic_binary_iarchive<slacker::bounded_iarchive>;
template class binary_iarchive_impl<slacker::bounded_iarchive, char,
                                    std::char_traits<char>>;
template class detail::archive_serializer_map<slacker::bounded_iarchive>;
} // namespace boost::archive
