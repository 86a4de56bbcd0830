#include "slacker/messages/call.hpp"
#include "slacker/messages/membership.hpp"

namespace slacker {

const char* to_string(codec_id id) {
  switch (id) {
    case codec_id::caf_binary:
      return "caf";
    case codec_id::json:
      return "json";
    case codec_id::boost_binary:
      return "boost";
  }
  return "unknown";
}

const char* to_string(registry_status x) {
  switch (x) {
    case registry_status::connecting:
      return "connecting";
    case registry_status::connected:
      return "connected";
    case registry_status::suspended:
      return "suspended";
    case registry_status::expired:
      return "expired";
  }
  return "unknown";
}

bool from_string(const std::string& name, codec_id& out) {
  for (auto id : {codec_id::caf_binary, codec_id::json, codec_id::boost_binary})
    if (name == to_string(id)) {
      out = id;
      return true;
    }
  return false;
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
