#include "slacker/messages/error.hpp"
#include "slacker/messages/names.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace slacker {

constexpr name_entry<sc> error_names[] = {
    {sc::none, "none"},
    {sc::not_found, "not_found"},
    {sc::exception, "exception"},
    {sc::codec_error, "codec_error"},
    {sc::timeout, "timeout"},
    {sc::canceled, "canceled"},
    {sc::connection_broken, "connection_broken"},
    {sc::overloaded, "overloaded"},
    {sc::unavailable, "unavailable"},
    {sc::invalid_request, "invalid_request"},
    {sc::forbidden, "forbidden"},
    {sc::too_large, "too_large"},
    {sc::draining, "draining"},
    {sc::outcome_unknown, "outcome_unknown"},
};

const char* to_string(sc code) {
  return name_in(error_names, code);
}

std::string excerpt(const std::string& text, size_t max) {
  if (text.size() <= max)
    return text;
  return text.substr(0, max) + "... (" + std::to_string(text.size()) + " bytes)";
}

std::string printable(const std::string& text, size_t max) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  auto n = std::min(text.size(), max);
  out.reserve(n + 16);
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f) // UTF-8 (0x80 and up) passes
      out += std::string{"\\x"} + hex[c >> 4] + hex[c & 0xf];
    else
      out += static_cast<char>(c);
  }
  if (text.size() > max)
    out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

caf::error make_error(sc code, std::string what) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(what))};
}

sc code_of(const caf::error& err) {
  if (!err || err.category() != error_category)
    return sc::none;
  return static_cast<sc>(err.code());
}

std::string render_error(uint8_t code, caf::atom_value, const caf::message& ctx) {
  std::string result = to_string(static_cast<sc>(code));
  if (ctx.match_elements<std::string>()) {
    result += ": ";
    result += ctx.get_as<std::string>(0);
  } else if (!ctx.empty()) {
    result += ": ";
    result += caf::to_string(ctx);
  }
  return result;
}

caf::error connection_failed(bool sent, const std::string& what) {
  if (!sent)
    return make_error(sc::connection_broken, what);
  return make_error(sc::outcome_unknown,
                    what + " after the call was sent: it may have run");
}

caf::error with_origin(const caf::error& err, const std::string& addr) {
  auto code = code_of(err);
  if (code == sc::none)
    return make_error(sc::connection_broken, addr + ": " + describe(err));
  std::string text;
  if (err.context().match_elements<std::string>())
    text = err.context().get_as<std::string>(0);
  return make_error(code, text + " (on " + addr + ")");
}

std::string describe(const caf::error& err) {
  if (!err)
    return "no error";
  if (err.category() == error_category)
    return render_error(err.code(), err.category(), err.context());
  if (err.category() == caf::atom("system"))
    return caf::to_string(static_cast<caf::sec>(err.code())) +
           (err.context().empty() ? "" : ": " + caf::to_string(err.context()));
  return caf::to_string(err);
}

} // namespace slacker
