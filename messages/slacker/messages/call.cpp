#include "slacker/messages/call.hpp"
#include "slacker/messages/membership.hpp"
#include "slacker/messages/names.hpp"

namespace slacker {

constexpr name_entry<codec_id> codec_names[] = {
    {codec_id::caf_binary, "caf"},
    {codec_id::json, "json"},
    {codec_id::boost_binary, "boost"},
};

const char* to_string(codec_id id) {
  return name_in(codec_names, id);
}

call_reply error_reply(const call_request& req, caf::error err) {
  call_reply rep;
  rep.id = req.id;
  rep.codec = req.codec;
  rep.ext = req.ext;
  rep.err = std::move(err);
  return rep;
}

constexpr name_entry<registry_status> registry_status_names[] = {
    {registry_status::connecting, "connecting"},
    {registry_status::connected, "connected"},
    {registry_status::suspended, "suspended"},
    {registry_status::expired, "expired"},
};

const char* to_string(registry_status x) {
  return name_in(registry_status_names, x);
}

template <> std::vector<std::string> all_names<codec_id>() {
  return names_in(codec_names);
}

bool from_string(const std::string& name, codec_id& out) {
  return value_in(codec_names, name, out);
}

bool split_address(const std::string& address, std::string& host, uint16_t& port) {
  auto pos = address.rfind(':');
  if (pos == std::string::npos || pos == 0 || pos + 1 == address.size())
    return false;
  auto digits = address.substr(pos + 1);
  if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  auto value = std::stoul(digits);
  if (value == 0 || value > 65535)
    return false;
  host = address.substr(0, pos);
  port = static_cast<uint16_t>(value);
  return true;
}

bool split_function_name(const std::string& qualified, std::string& ns, std::string& fn) {
  auto pos = qualified.rfind('/');
  if (pos == std::string::npos || pos == 0 || pos + 1 == qualified.size())
    return false;
  ns = qualified.substr(0, pos);
  fn = qualified.substr(pos + 1);
  return true;
}

} // namespace slacker

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

#include "slacker/messages/type_name.hpp"

namespace slacker {

std::string demangle(const std::type_info& ti) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name{
      abi::__cxa_demangle(ti.name(), nullptr, nullptr, &status), std::free};
  return status == 0 && name ? std::string{name.get()} : std::string{ti.name()};
}

} // namespace slacker
