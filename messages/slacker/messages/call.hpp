#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>

#include "slacker/messages/names.hpp"

namespace slacker {

/// Encoded arguments or results.
using bytes = std::vector<char>;

/// Key/value metadata carried with a call to the server and back.
using extensions = std::map<std::string, bytes>;

/// How arguments and results are encoded.
enum class codec_id : uint8_t {
  caf_binary = 0,   // CAF's binary serializer (`inspect`), the default
  json = 1,         // nlohmann JSON (`to_json` / `from_json`); arguments are an array
  boost_binary = 2, // Boost.Serialization binary archive (`serialize`)
};

/// `caf`, `json` or `boost`.
const char* to_string(codec_id id);

/// Parses `caf`, `json` or `boost`; false for anything else.
bool from_string(const std::string& name, codec_id& out);
template <> std::vector<std::string> all_names<codec_id>();

/// One call of `ns/fn`, from a client to a namespace actor.
struct call_request {
  uint64_t id = 0; // chosen by the sender, echoed in the reply
  std::string ns;
  std::string fn;
  codec_id codec = codec_id::caf_binary;
  bytes args;
  int64_t deadline_ns = 0; // system_clock nanoseconds since the epoch; 0: none
  extensions ext;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_request& x) {
  return f(caf::meta::type_name("slacker::call_request"), x.id, x.ns, x.fn, x.codec,
           x.args, x.deadline_ns, x.ext);
}

/// A call's `ns/fn` as its errors' messages name it: spelled out when a
/// message is made, not on every call (a name longer than what a
/// `std::string` holds inline would cost allocations on each).
struct call_name {
  explicit call_name(const call_request& req) : ns(req.ns), fn(req.fn) {}

  const std::string& ns;
  const std::string& fn;

  std::string str() const {
    std::string out;
    out.reserve(ns.size() + 1 + fn.size());
    return out.append(ns).append(1, '/').append(fn);
  }
};

inline std::string operator+(const call_name& x, const char* s) {
  return x.str() + s;
}

/// The answer to a `call_request`: a result or an error, never both.
struct call_reply {
  uint64_t id = 0;
  codec_id codec = codec_id::caf_binary;
  bytes result;
  caf::error err;
  extensions ext; // the request's extensions, echoed
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_reply& x) {
  return f(caf::meta::type_name("slacker::call_reply"), x.id, x.codec, x.result, x.err,
           x.ext);
}

/// The reply that fails `req` with `err`: the request's id, codec and
/// extensions echoed, as every reply does.
call_reply error_reply(const call_request& req, caf::error err);

/// How one cluster call went on one server: what a grouping policy may learn
/// from (its connection broker tells its dispatcher).
struct call_feedback {
  std::string ns;
  std::string addr;
  std::chrono::microseconds latency{0};
  bool ok = true; // false: it failed there (any error code)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_feedback& x) {
  return f(caf::meta::type_name("slacker::call_feedback"), x.ns, x.addr, x.latency, x.ok);
}

/// What a server tells about one of its functions.
struct function_info {
  std::string name;
  std::string doc;
  std::vector<std::string> arg_types;
  std::string result_type;
  std::vector<std::string> codecs; // the codecs its types support
  bool blocking = false;
  bool idempotent = false; // may run twice: clients retry and hedge it
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, function_info& x) {
  return f(caf::meta::type_name("slacker::function_info"), x.name, x.doc, x.arg_types,
           x.result_type, x.codecs, x.blocking, x.idempotent);
}

/// Splits `ns/fn` at its last slash; false when either part is empty.
bool split_function_name(const std::string& qualified, std::string& ns, std::string& fn);

/// Splits `host:port`; false when it is not of that form (port 1..65535).
bool split_address(const std::string& address, std::string& host, uint16_t& port);

} // namespace slacker
