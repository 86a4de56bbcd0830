#pragma once

// Decoders that never size anything from a length before the bytes it claims
// are there (docs/security.md): CAF's binary deserializer and Boost's binary
// archive both resize a container to a declared length before reading it, so
// one short hostile input could ask for gigabytes. These wrappers check each
// declared length against the bytes left first.

#include <cstddef>
#include <streambuf>
#include <string>
#include <vector>

#include <boost/archive/binary_iarchive_impl.hpp>
#include <boost/archive/detail/register_archive.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/deserializer.hpp>
#include <caf/fwd.hpp>

namespace slacker {

/// CAF's binary deserializer with every declared sequence length checked
/// against the bytes left. A sequence may declare at most 8 elements per byte
/// left (CAF packs `std::vector<bool>` 8 to a byte), so what a decoder
/// allocates stays within a small multiple of what arrived.
class bounded_deserializer final : public caf::deserializer {
public:
  bounded_deserializer(caf::actor_system* sys, const char* data, size_t size);

  size_t remaining() const noexcept {
    return inner_.remaining();
  }

  caf::error begin_object(uint16_t& typenr, std::string& name) override;
  caf::error end_object() override;
  caf::error begin_sequence(size_t& num) override;
  caf::error end_sequence() override;
  caf::error apply_raw(size_t num_bytes, void* data) override;

protected:
  caf::error apply_impl(int8_t& x) override;
  caf::error apply_impl(uint8_t& x) override;
  caf::error apply_impl(int16_t& x) override;
  caf::error apply_impl(uint16_t& x) override;
  caf::error apply_impl(int32_t& x) override;
  caf::error apply_impl(uint32_t& x) override;
  caf::error apply_impl(int64_t& x) override;
  caf::error apply_impl(uint64_t& x) override;
  caf::error apply_impl(float& x) override;
  caf::error apply_impl(double& x) override;
  caf::error apply_impl(long double& x) override;
  caf::error apply_impl(std::string& x) override;
  caf::error apply_impl(std::u16string& x) override;
  caf::error apply_impl(std::u32string& x) override;

private:
  caf::binary_deserializer inner_;
};

/// Writes a typed message (CAF's binary format) to `out`: empty, or why not,
/// naming each element type this actor system has not registered
/// (`add_message_type`), before CAF would complain on standard error.
std::string save_message(caf::actor_system& sys, const caf::message& msg,
                         std::vector<char>& out);

/// Reads a typed message from `bytes` (bounded): empty, or why not, naming
/// each type the sender wrote that this actor system does not know.
std::string load_message(caf::actor_system& sys, const std::vector<char>& bytes,
                         caf::message& msg);

namespace detail {

/// A read-only stream buffer over bytes held elsewhere (no copy).
class memory_buf : public std::streambuf {
public:
  memory_buf(const char* data, size_t size) {
    auto p = const_cast<char*>(data);
    setg(p, p, p + size);
  }
  size_t left() const noexcept {
    return static_cast<size_t>(egptr() - gptr());
  }
};

} // namespace detail

/// Boost's binary input archive with string lengths and collection sizes
/// checked against the bytes left (a collection element takes at least one
/// byte) before anything is resized, and booleans that must be 0 or 1 (Boost
/// copies the byte into the bool as it is: undefined behaviour for others).
class bounded_iarchive
  : public boost::archive::binary_iarchive_impl<bounded_iarchive, char,
                                                std::char_traits<char>> {
  using base = boost::archive::binary_iarchive_impl<bounded_iarchive, char,
                                                    std::char_traits<char>>;
  friend class boost::archive::detail::interface_iarchive<bounded_iarchive>;
  friend class boost::archive::basic_binary_iarchive<bounded_iarchive>;
  friend class boost::archive::basic_binary_iprimitive<bounded_iarchive, char,
                                                       std::char_traits<char>>;
  friend class boost::archive::load_access;

public:
  bounded_iarchive(detail::memory_buf& buf, unsigned flags);

protected:
  using base::load;
  void load(bool& b);
  void load(std::string& s);
  void load(std::wstring& s);
  using base::load_override;
  void load_override(boost::serialization::collection_size_type& t);

private:
  void check(size_t count, size_t unit, const char* what);
  detail::memory_buf& buf_;
};

} // namespace slacker

BOOST_SERIALIZATION_REGISTER_ARCHIVE(slacker::bounded_iarchive)
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(slacker::bounded_iarchive)
