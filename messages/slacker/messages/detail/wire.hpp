#pragma once

// The frame layout of slacker's wire protocol (docs/protocol.md): how frames
// are written, and a bounded reader that never trusts a declared length.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>

#include "slacker/messages/call.hpp"

namespace slacker::wire {

constexpr uint32_t magic = 0x534C4B52; // "SLKR"
constexpr uint16_t version = 1;
constexpr size_t header_size = 4;
constexpr uint32_t default_max_message_size = 16u * 1024u * 1024u;

/// Bytes asked of the socket per read: frames are reassembled in our own
/// buffer, so one read carries many small frames under load. Larger reads
/// cost more: CAF zeroes its whole read buffer before each read (measured in
/// docs/benchmarks.md).
constexpr size_t read_chunk = 8 * 1024;

enum class frame_type : uint8_t {
  hello = 1,
  call = 2,
  reply = 3,
  send = 4,
  send_reply = 5,
  ping = 6,
  pong = 7,
  going_away = 8,
  inspect = 9,
  inspect_reply = 10,
  lookup = 11,
  lookup_reply = 12,
  error = 13,
};

/// Why a side closes a connection (the code of an `error` frame).
enum class close_code : uint8_t {
  frame_too_large = 1,
  malformed = 2,
  bad_hello = 3,
  handshake_timeout = 4,
  idle_timeout = 5,
  unexpected_frame = 6,
  shutting_down = 7,
  overloaded = 8,      // a server-wide budget is spent (connections, buffered bytes)
  frame_timeout = 9,   // a frame that began was not complete in time
  unauthorized = 10,   // too many wrong manager tokens
  too_many_pings = 11, // pings more often than slacker.min-ping-interval allows
};

const char* to_string(close_code code);

/// What the server serves under a namespace (`lookup_reply`).
enum class ns_kind : uint8_t { functions = 0, actor = 1 };

/// Writes one frame at the end of `buf`: the constructor reserves the length
/// and writes the type, `finish` patches the length in.
class writer {
public:
  writer(std::vector<char>& buf, frame_type type);

  writer& u8(uint8_t x) {
    buf_.push_back(static_cast<char>(x));
    return *this;
  }
  writer& u16(uint16_t x);
  writer& u32(uint32_t x);
  writer& u64(uint64_t x);
  writer& i64(int64_t x) {
    return u64(static_cast<uint64_t>(x));
  }
  writer& str(const std::string& x) {
    return blob(x.data(), x.size());
  }
  writer& blob(const std::vector<char>& x) {
    return blob(x.data(), x.size());
  }
  writer& blob(const char* data, size_t size);
  writer& ext(const extensions& x);
  writer& err(const caf::error& x);
  writer& strings(const std::vector<std::string>& xs);

  void finish();

private:
  std::vector<char>& buf_;
  size_t start_;
};

/// Reads the payload of one frame. Every read checks the bytes left and fails
/// (false) instead of reading past the frame; nothing is sized from a length
/// before the bytes it claims are known to be there.
class reader {
public:
  reader(const char* data, size_t size) : data_(data), size_(size) {}

  bool u8(uint8_t& x);
  bool u16(uint16_t& x);
  bool u32(uint32_t& x);
  bool u64(uint64_t& x);
  bool i64(int64_t& x);
  bool str(std::string& x);
  bool blob(std::vector<char>& x);
  /// A blob without copying it: where its `n` bytes are in the frame.
  bool blob_view(const char*& p, uint32_t& n);
  bool ext(extensions& x);
  bool err(caf::error& x);
  bool strings(std::vector<std::string>& xs);

  /// True when every byte of the frame was read, and nothing more.
  bool at_end() const noexcept {
    return pos_ == size_;
  }

private:
  bool take(size_t n, const char*& out);

  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

/// The fields of a `hello` frame.
struct hello {
  uint32_t magic = 0;
  uint16_t version = 0;
  uint32_t features = 0;
  uint32_t max_message_size = 0;
};

void write_hello(std::vector<char>& buf, uint32_t max_message_size);
bool read_hello(reader& in, hello& out);

void write_call(std::vector<char>& buf, const call_request& req);

/// The length a `call` frame for `req` declares (type byte and payload).
size_t call_length(const call_request& req);

/// A `too_large` error when `req` does not fit a frame of `cap` bytes.
caf::error check_call_size(const call_request& req, uint32_t cap);
class frame_buffer;

/// Reads a call. With `from` (the frame buffer the frame is in), large
/// arguments that end the buffer are adopted from it, not copied: a 15 MiB
/// argument costs a move within memory already written instead of 15 MiB
/// of fresh pages on the thread that reads.
bool read_call(reader& in, call_request& out, frame_buffer* from = nullptr);

void write_reply(std::vector<char>& buf, const call_reply& rep);
bool read_reply(reader& in, call_reply& out);

/// Appends a frame with `write(buf)` unless it would declare a length above
/// `cap`: then `buf` is left as it was and the return is the length the frame
/// would have had (0 when it fit).
template <class F> size_t write_within(std::vector<char>& buf, uint32_t cap, F write) {
  auto start = buf.size();
  write(buf);
  auto len = buf.size() - start - header_size;
  if (len <= cap)
    return 0;
  buf.resize(start);
  return len;
}

/// A reply, or in its place a `too_large` error reply when the result does
/// not fit `cap` (the smaller of the two sides' `max_message_size`).
void write_reply_within(std::vector<char>& buf, const call_reply& rep, uint32_t cap);

void write_function_infos(writer& out, const std::vector<function_info>& xs);
bool read_function_infos(reader& in, std::vector<function_info>& xs);

/// An `error` frame.
void write_close(std::vector<char>& buf, close_code code, const std::string& text);

/// A typed message (CAF-serialized) to the actor serving `ns`, and its answer:
/// the serialized reply, or an error.
void write_send(std::vector<char>& buf, uint64_t id, const std::string& ns,
                const std::vector<char>& msg);
void write_send_reply(std::vector<char>& buf, uint64_t id, const std::vector<char>& msg);
void write_send_error(std::vector<char>& buf, uint64_t id, const caf::error& err);

/// The server is stopping (`why` for the client's log).
void write_going_away(std::vector<char>& buf, const std::string& why);

/// A frame with one `u64` (ping, pong) or an id and a name (inspect, lookup).
void write_u64(std::vector<char>& buf, frame_type type, uint64_t x);
void write_id_str(std::vector<char>& buf, frame_type type, uint64_t id,
                  const std::string& s);

/// Reassembles frames from a byte stream, never holding more than one frame
/// cap of bytes (plus the bytes of one read).
class frame_buffer {
public:
  explicit frame_buffer(uint32_t max_message_size) : max_(max_message_size) {}

  /// Feeds the bytes that arrived and calls `on_frame(frame_type, reader&)`
  /// for each complete frame; `on_frame` returns false to stop (the
  /// connection is being closed). Returns why the stream must be closed, if
  /// it must: a declared length of 0 or beyond the cap.
  template <class F>
  std::optional<close_code> feed(const char* data, size_t size, F&& on_frame) {
    if (paused_) {
      buf_.insert(buf_.end(), data, data + size); // kept for `resume`
      return std::nullopt;
    }
    if (buf_.empty()) {
      // Fast path: frames straight from the read buffer, keep only the rest.
      size_t used = 0;
      auto res = parse(data, size, used, on_frame);
      if (!res && !stopped_) {
        buf_.insert(buf_.end(), data + used, data + size);
        make_room();
      }
      return res;
    }
    auto had_header = buf_.size() >= header_size;
    buf_.insert(buf_.end(), data, data + size);
    if (!had_header)
      make_room();
    return parse_buffered(on_frame);
  }

  /// From a frame handler: when the `n` bytes at `p` are the end of the
  /// frame being handled and of this buffer, moves them into `out` (the
  /// buffer's memory, without the bytes before them) and true.
  bool adopt_tail(const char* p, size_t n, std::vector<char>& out) {
    if (buf_.empty() || p < buf_.data() || p + n != buf_.data() + buf_.size())
      return false;
    buf_.erase(buf_.begin(), buf_.begin() + (p - buf_.data()));
    out.clear();
    out.swap(buf_);
    adopted_ = true;
    return true;
  }

  /// Bytes held of an incomplete frame (and, paused, of frames not taken).
  size_t buffered() const noexcept {
    return buf_.size();
  }

  /// Memory held: the buffer's capacity.
  size_t held() const noexcept {
    return buf_.capacity();
  }

  /// Frames taken since the start.
  uint64_t frames() const noexcept {
    return frames_;
  }

  /// Stops after the frame being handled and keeps the rest of the read:
  /// the transport takes no frames for now (its output is backed up).
  void pause() noexcept {
    paused_ = true;
  }

  bool paused() const noexcept {
    return paused_;
  }

  /// Takes the frames kept since `pause` (until paused again).
  template <class F> std::optional<close_code> resume(F&& on_frame) {
    paused_ = false;
    return parse_buffered(on_frame);
  }

private:
  /// Parses what the buffer holds; keeps the rest.
  template <class F> std::optional<close_code> parse_buffered(F& on_frame) {
    size_t used = 0;
    auto res = parse(buf_.data(), buf_.size(), used, on_frame);
    if (adopted_) {
      // The last frame's tail went with its handler (adopt_tail), and
      // with it everything the buffer held.
      adopted_ = false;
      buf_.clear();
      return res;
    }
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(used));
    release();
    return res;
  }

  /// The length field of the frame header at `data`.
  static uint32_t length_at(const char* data) {
    auto b = reinterpret_cast<const unsigned char*>(data);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) |
           uint32_t{b[3]};
  }

  /// The size of the frame the buffer begins with, once its header is there
  /// and its length within the cap; 0 otherwise.
  size_t frame_size() const {
    if (buf_.size() < header_size)
      return 0;
    auto len = length_at(buf_.data());
    return len > 0 && len <= max_ ? header_size + len : 0;
  }

  /// Room for the whole of a large frame the buffer begins with, once its
  /// header is there: one allocation instead of doublings that copy what
  /// came so far (charged to the budget of incomplete frames at once). Each
  /// read then fills, and faults in, only its own part.
  void make_room() {
    auto need = frame_size();
    if (need >= (size_t{1} << 20))
      buf_.reserve(need);
  }

  /// Gives a large buffer back once it holds little: a connection that sent
  /// one big frame does not keep its size for the rest of its life.
  void release() {
    constexpr size_t keep = 64 * 1024;
    // Room made for the frame under way stays.
    if (buf_.capacity() > keep && buf_.size() * 4 < buf_.capacity() &&
        frame_size() * 2 <= buf_.capacity()) {
      std::vector<char> smaller(buf_.begin(), buf_.end());
      buf_.swap(smaller);
    }
  }

  template <class F>
  std::optional<close_code> parse(const char* data, size_t size, size_t& used,
                                  F& on_frame) {
    while (size - used >= header_size) {
      auto len = length_at(data + used);
      if (len == 0)
        return close_code::malformed;
      if (len > max_)
        return close_code::frame_too_large;
      if (size - used - header_size < len)
        break;
      auto type = static_cast<frame_type>(static_cast<uint8_t>(data[used + header_size]));
      reader in{data + used + header_size + 1, len - 1};
      used += header_size + len;
      ++frames_;
      if (!on_frame(type, in)) {
        stopped_ = true;
        return std::nullopt;
      }
      if (paused_)
        break;
    }
    return std::nullopt;
  }

  uint32_t max_;
  bool stopped_ = false;
  bool paused_ = false;
  bool adopted_ = false;
  uint64_t frames_ = 0;
  std::vector<char> buf_;
};

} // namespace slacker::wire
