#pragma once

// The one way an enum gets its names: a table of (value, name) pairs, read by
// both `to_string` and `from_string`, so that the two cannot disagree and a
// new value is named in one place.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slacker {

template <class E> using name_entry = std::pair<E, const char*>;

/// The name of `x` in `table`; "unknown" for a value it lacks.
template <class E, size_t N>
const char* name_in(const name_entry<E> (&table)[N], E x) noexcept {
  for (auto& entry : table)
    if (entry.first == x)
      return entry.second;
  return "unknown";
}

/// The value named `name` in `table`; false (and `out` unchanged) for none.
template <class E, size_t N>
bool value_in(const name_entry<E> (&table)[N], std::string_view name, E& out) noexcept {
  for (auto& entry : table)
    if (name == entry.second) {
      out = entry.first;
      return true;
    }
  return false;
}

/// Every name in `table`, in its order.
template <class E, size_t N>
std::vector<std::string> names_in(const name_entry<E> (&table)[N]) {
  std::vector<std::string> out;
  for (auto& entry : table)
    out.emplace_back(entry.second);
  return out;
}

/// Every name of the enum `E` (e.g. for a command line's choices); declared
/// beside each enum that has a table.
template <class E> std::vector<std::string> all_names();

} // namespace slacker
