#pragma once

// Types shared by the tests and the test server: a user struct that works
// with every codec, and one that works with CAF's codec only.

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

namespace slacker_test {

struct point {
  int32_t x = 0;
  int32_t y = 0;
  std::string label;

  friend bool operator==(const point&, const point&) = default;

  template <class Archive> void serialize(Archive& ar, unsigned) {
    ar& x& y& label;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, point& p) {
  return f(caf::meta::type_name("slacker_test::point"), p.x, p.y, p.label);
}

inline void to_json(nlohmann::json& j, const point& p) {
  j = nlohmann::json{{"x", p.x}, {"y", p.y}, {"label", p.label}};
}

inline void from_json(const nlohmann::json& j, point& p) {
  j.at("x").get_to(p.x);
  j.at("y").get_to(p.y);
  j.at("label").get_to(p.label);
}

/// Has `inspect` only: travels in CAF's codec, not in JSON or Boost.
struct caf_only {
  int64_t value = 0;
  friend bool operator==(const caf_only&, const caf_only&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, caf_only& x) {
  return f(caf::meta::type_name("slacker_test::caf_only"), x.value);
}

/// Registered (add_message_type) by the test server only.
struct server_only {
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, server_only& x) {
  return f(caf::meta::type_name("slacker_test::server_only"), x.text);
}

/// Registered by the test clients only.
struct client_only {
  int32_t value = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_only& x) {
  return f(caf::meta::type_name("slacker_test::client_only"), x.value);
}

} // namespace slacker_test
