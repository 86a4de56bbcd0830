#include "slacker/messages/detail/wire.hpp"
#include "slacker/messages/names.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>

#include "slacker/messages/error.hpp"

namespace slacker::wire {

constexpr name_entry<close_code> close_names[] = {
    {close_code::frame_too_large, "frame_too_large"},
    {close_code::malformed, "malformed"},
    {close_code::bad_hello, "bad_hello"},
    {close_code::handshake_timeout, "handshake_timeout"},
    {close_code::idle_timeout, "idle_timeout"},
    {close_code::unexpected_frame, "unexpected_frame"},
    {close_code::shutting_down, "shutting_down"},
    {close_code::overloaded, "overloaded"},
    {close_code::frame_timeout, "frame_timeout"},
    {close_code::unauthorized, "unauthorized"},
    {close_code::too_many_pings, "too_many_pings"},
};

const char* to_string(close_code code) {
  return name_in(close_names, code);
}

// -- writer -------------------------------------------------------------------

writer::writer(std::vector<char>& buf, frame_type type) : buf_(buf), start_(buf.size()) {
  buf_.resize(start_ + header_size);
  u8(static_cast<uint8_t>(type));
}

writer& writer::u16(uint16_t x) {
  buf_.push_back(static_cast<char>(x >> 8));
  buf_.push_back(static_cast<char>(x));
  return *this;
}

writer& writer::u32(uint32_t x) {
  char b[4] = {static_cast<char>(x >> 24), static_cast<char>(x >> 16),
               static_cast<char>(x >> 8), static_cast<char>(x)};
  buf_.insert(buf_.end(), b, b + 4);
  return *this;
}

writer& writer::u64(uint64_t x) {
  u32(static_cast<uint32_t>(x >> 32));
  return u32(static_cast<uint32_t>(x));
}

writer& writer::blob(const char* data, size_t size) {
  u32(static_cast<uint32_t>(size));
  buf_.insert(buf_.end(), data, data + size);
  return *this;
}

writer& writer::ext(const extensions& x) {
  u32(static_cast<uint32_t>(x.size()));
  for (auto& kvp : x)
    str(kvp.first).blob(kvp.second);
  return *this;
}

writer& writer::err(const caf::error& x) {
  u64(static_cast<uint64_t>(x.category())).u8(x.code());
  if (x.category() == error_category && x.context().match_elements<std::string>())
    return str(x.context().get_as<std::string>(0));
  return str(describe(x));
}

writer& writer::strings(const std::vector<std::string>& xs) {
  u32(static_cast<uint32_t>(xs.size()));
  for (auto& x : xs)
    str(x);
  return *this;
}

void writer::finish() {
  auto len = static_cast<uint32_t>(buf_.size() - start_ - header_size);
  buf_[start_] = static_cast<char>(len >> 24);
  buf_[start_ + 1] = static_cast<char>(len >> 16);
  buf_[start_ + 2] = static_cast<char>(len >> 8);
  buf_[start_ + 3] = static_cast<char>(len);
}

// -- reader -------------------------------------------------------------------

bool reader::take(size_t n, const char*& out) {
  if (size_ - pos_ < n)
    return false;
  out = data_ + pos_;
  pos_ += n;
  return true;
}

bool reader::u8(uint8_t& x) {
  const char* p = nullptr;
  if (!take(1, p))
    return false;
  x = static_cast<uint8_t>(*p);
  return true;
}

bool reader::u16(uint16_t& x) {
  const char* p = nullptr;
  if (!take(2, p))
    return false;
  auto b = reinterpret_cast<const unsigned char*>(p);
  x = static_cast<uint16_t>((b[0] << 8) | b[1]);
  return true;
}

bool reader::u32(uint32_t& x) {
  const char* p = nullptr;
  if (!take(4, p))
    return false;
  auto b = reinterpret_cast<const unsigned char*>(p);
  x = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) |
      uint32_t{b[3]};
  return true;
}

bool reader::u64(uint64_t& x) {
  uint32_t hi = 0;
  uint32_t lo = 0;
  if (!u32(hi) || !u32(lo))
    return false;
  x = (uint64_t{hi} << 32) | lo;
  return true;
}

bool reader::i64(int64_t& x) {
  uint64_t u = 0;
  if (!u64(u))
    return false;
  x = static_cast<int64_t>(u);
  return true;
}

bool reader::str(std::string& x) {
  uint32_t n = 0;
  const char* p = nullptr;
  if (!u32(n) || !take(n, p))
    return false;
  x.assign(p, n);
  return true;
}

bool reader::blob(std::vector<char>& x) {
  uint32_t n = 0;
  const char* p = nullptr;
  if (!u32(n) || !take(n, p))
    return false;
  x.assign(p, p + n);
  return true;
}

bool reader::blob_view(const char*& p, uint32_t& n) {
  return u32(n) && take(n, p);
}

bool reader::ext(extensions& x) {
  uint32_t n = 0;
  if (!u32(n))
    return false;
  // Each entry takes at least 8 bytes: a count beyond that is a lie.
  if (n > (size_ - pos_) / 8)
    return false;
  for (uint32_t i = 0; i < n; ++i) {
    std::string key;
    bytes value;
    if (!str(key) || !blob(value))
      return false;
    x[std::move(key)] = std::move(value);
  }
  return true;
}

bool reader::err(caf::error& x) {
  uint64_t category = 0;
  uint8_t code = 0;
  std::string text;
  if (!u64(category) || !u8(code) || !str(text))
    return false;
  auto atom = static_cast<caf::atom_value>(category);
  if (atom == error_category)
    x = make_error(static_cast<sc>(code), std::move(text));
  else
    x = caf::error{code, atom, caf::make_message(std::move(text))};
  if (!x) // a code of 0 is no error: the peer sent nonsense
    x = make_error(sc::invalid_request, "the peer sent an error without a code");
  return true;
}

bool reader::strings(std::vector<std::string>& xs) {
  uint32_t n = 0;
  if (!u32(n) || n > (size_ - pos_) / 4)
    return false;
  xs.resize(n);
  for (auto& x : xs)
    if (!str(x))
      return false;
  return true;
}

// -- frames -------------------------------------------------------------------

void write_hello(std::vector<char>& buf, uint32_t max_message_size) {
  writer out{buf, frame_type::hello};
  out.u32(magic).u16(version).u32(0).u32(max_message_size);
  out.finish();
}

bool read_hello(reader& in, hello& out) {
  return in.u32(out.magic) && in.u16(out.version) && in.u32(out.features) &&
         in.u32(out.max_message_size) && in.at_end();
}

void write_call(std::vector<char>& buf, const call_request& req) {
  writer out{buf, frame_type::call};
  out.u64(req.id).str(req.ns).str(req.fn).u8(static_cast<uint8_t>(req.codec));
  out.i64(req.deadline_ns).ext(req.ext).blob(req.args);
  out.finish();
}

size_t call_length(const call_request& req) {
  size_t ext = 4;
  for (auto& kvp : req.ext)
    ext += 8 + kvp.first.size() + kvp.second.size();
  return 1 + 8 + 4 + req.ns.size() + 4 + req.fn.size() + 1 + 8 + ext + 4 +
         req.args.size();
}

caf::error check_call_size(const call_request& req, uint32_t cap) {
  auto len = call_length(req);
  if (len <= cap)
    return {};
  return make_error(sc::too_large,
                    excerpt(req.ns + "/" + req.fn) + ": a call of " +
                        std::to_string(len) + " bytes is larger than the limit of " +
                        std::to_string(cap) + " bytes (slacker.max-message-size)");
}

bool read_call(reader& in, call_request& out, frame_buffer* from) {
  uint8_t codec = 0;
  const char* args = nullptr;
  uint32_t n = 0;
  if (!(in.u64(out.id) && in.str(out.ns) && in.str(out.fn) && in.u8(codec) &&
        in.i64(out.deadline_ns) && in.ext(out.ext) && in.blob_view(args, n) &&
        in.at_end()))
    return false;
  out.codec = static_cast<codec_id>(codec);
  constexpr uint32_t large = 1u << 20;
  if (!(from && n >= large && from->adopt_tail(args, n, out.args)))
    out.args.assign(args, args + n);
  return true;
}

void write_reply(std::vector<char>& buf, const call_reply& rep) {
  writer out{buf, frame_type::reply};
  out.u64(rep.id).u8(static_cast<uint8_t>(rep.codec)).ext(rep.ext);
  if (rep.err)
    out.u8(0).err(rep.err);
  else
    out.u8(1).blob(rep.result);
  out.finish();
}

void write_reply_within(std::vector<char>& buf, const call_reply& rep, uint32_t cap) {
  auto len = write_within(buf, cap, [&](std::vector<char>& b) { write_reply(b, rep); });
  if (len == 0)
    return;
  call_reply err;
  err.id = rep.id;
  err.codec = rep.codec;
  err.err = make_error(sc::too_large, "a result of " + std::to_string(len) +
                                          " bytes is larger than the limit of " +
                                          std::to_string(cap) +
                                          " bytes (slacker.max-message-size)");
  write_reply(buf, err);
}

bool read_reply(reader& in, call_reply& out) {
  uint8_t codec = 0;
  uint8_t ok = 0;
  if (!(in.u64(out.id) && in.u8(codec) && in.ext(out.ext) && in.u8(ok)))
    return false;
  out.codec = static_cast<codec_id>(codec);
  return (ok ? in.blob(out.result) : in.err(out.err)) && in.at_end();
}

void write_function_infos(writer& out, const std::vector<function_info>& xs) {
  out.u32(static_cast<uint32_t>(xs.size()));
  for (auto& x : xs) {
    out.str(x.name).str(x.doc).strings(x.arg_types).str(x.result_type).strings(x.codecs);
    out.u8(static_cast<uint8_t>((x.blocking ? 1 : 0) | (x.idempotent ? 2 : 0)));
  }
}

bool read_function_infos(reader& in, std::vector<function_info>& xs) {
  uint32_t n = 0;
  if (!in.u32(n))
    return false;
  for (uint32_t i = 0; i < n; ++i) {
    function_info x;
    uint8_t flags = 0;
    if (!(in.str(x.name) && in.str(x.doc) && in.strings(x.arg_types) &&
          in.str(x.result_type) && in.strings(x.codecs) && in.u8(flags)))
      return false;
    x.blocking = (flags & 1) != 0;
    x.idempotent = (flags & 2) != 0;
    xs.push_back(std::move(x));
  }
  return true;
}

void write_close(std::vector<char>& buf, close_code code, const std::string& text) {
  writer out{buf, frame_type::error};
  out.u8(static_cast<uint8_t>(code)).str(text);
  out.finish();
}

void write_send(std::vector<char>& buf, uint64_t id, const std::string& ns,
                const std::vector<char>& msg) {
  writer out{buf, frame_type::send};
  out.u64(id).str(ns).blob(msg);
  out.finish();
}

void write_send_reply(std::vector<char>& buf, uint64_t id, const std::vector<char>& msg) {
  writer out{buf, frame_type::send_reply};
  out.u64(id).u8(1).blob(msg);
  out.finish();
}

void write_send_error(std::vector<char>& buf, uint64_t id, const caf::error& err) {
  writer out{buf, frame_type::send_reply};
  out.u64(id).u8(0).err(err);
  out.finish();
}

void write_going_away(std::vector<char>& buf, const std::string& why) {
  writer out{buf, frame_type::going_away};
  out.str(why);
  out.finish();
}

void write_u64(std::vector<char>& buf, frame_type type, uint64_t x) {
  writer out{buf, type};
  out.u64(x);
  out.finish();
}

void write_id_str(std::vector<char>& buf, frame_type type, uint64_t id,
                  const std::string& s) {
  writer out{buf, type};
  out.u64(id).str(s);
  out.finish();
}

} // namespace slacker::wire
