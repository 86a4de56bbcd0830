#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace slacker {

/// The error category of slacker, registered with CAF as `slacker`.
enum class sc : uint8_t {
  none = 0,
  not_found,         // namespace or function unknown to the server
  exception,         // the function threw; the context holds its text
  codec_error,       // arguments or result could not be (de)coded
  timeout,           // no reply before the call's deadline
  canceled,          // the deadline passed before the function started
  connection_broken, // the server went away while the call was in flight
  overloaded,        // the worker pool's bounded queue was full
  unavailable,       // no server provides the function
  invalid_request,   // a request that makes no sense (bad name, bad option)
  forbidden,         // the caller may not call this function (manager token, loopback)
  too_large,         // an argument or result larger than slacker.max-message-size
  draining, // the server is stopping: the call was not run (safe to send elsewhere)
  outcome_unknown, // the call was sent, then its connection failed: it may have run
};

/// The atom CAF uses to tell slacker's errors apart from others.
constexpr caf::atom_value error_category = caf::atom("slacker");

/// Short name of a code, e.g. `not_found`.
const char* to_string(sc code);

/// An error of slacker's category whose context is one readable sentence.
caf::error make_error(sc code, std::string what);

/// The code of a slacker error, or `sc::none` for errors of other categories.
sc code_of(const caf::error& err);

/// The error of a call whose connection failed before its answer: once
/// written to the connection (`sent`), `outcome_unknown` (it may have run
/// there); before, `connection_broken` (it did not run). `what` says what
/// happened ("NS/FN: connection to ADDR lost").
caf::error connection_failed(bool sent, const std::string& what);

/// A readable sentence for any error, without needing an actor system:
/// `not_found: no function f in namespace ns on 127.0.0.1:2104`.
std::string describe(const caf::error& err);

/// The same error with " (on addr)" added to its sentence; errors of other
/// categories (CAF's own) become `connection_broken` naming `addr`.
caf::error with_origin(const caf::error& err, const std::string& addr);

/// At most `max` bytes of `text` for an error message, with how much was cut:
/// an error never echoes a whole (possibly huge, possibly hostile) input.
std::string excerpt(const std::string& text, size_t max = 200);

/// `text` (from a peer) made safe to print on one line: control characters
/// and backslashes escaped (`\n`, `\x1b`, `\\`), at most `max` bytes kept
/// (then "... (N bytes)"): a name or an error text from the wire can neither
/// forge a log line nor drive a terminal.
std::string printable(const std::string& text, size_t max = 200);

/// Renders slacker errors for `actor_system::render`.
std::string render_error(uint8_t code, caf::atom_value, const caf::message& ctx);

} // namespace slacker
