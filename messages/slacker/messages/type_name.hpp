#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <typeinfo>
#include <vector>

namespace slacker {

/// The demangled C++ name of a type (for types slacker has no short name for).
std::string demangle(const std::type_info& ti);

/// A short, language-neutral name of `T` for function metadata:
/// `int64`, `string`, `vector<int32>`, `map<string,double>`, `optional<bool>`;
/// other types by their C++ name.
template <class T> struct type_name_of {
  static std::string get() {
    return demangle(typeid(T));
  }
};

template <class T> std::string type_name() {
  return type_name_of<T>::get();
}

#define SLACKER_SHORT_TYPE_NAME(type, text)                                              \
  template <> struct type_name_of<type> {                                                \
    static std::string get() {                                                           \
      return text;                                                                       \
    }                                                                                    \
  };

SLACKER_SHORT_TYPE_NAME(void, "void")
SLACKER_SHORT_TYPE_NAME(bool, "bool")
SLACKER_SHORT_TYPE_NAME(int8_t, "int8")
SLACKER_SHORT_TYPE_NAME(int16_t, "int16")
SLACKER_SHORT_TYPE_NAME(int32_t, "int32")
SLACKER_SHORT_TYPE_NAME(int64_t, "int64")
SLACKER_SHORT_TYPE_NAME(uint8_t, "uint8")
SLACKER_SHORT_TYPE_NAME(uint16_t, "uint16")
SLACKER_SHORT_TYPE_NAME(uint32_t, "uint32")
SLACKER_SHORT_TYPE_NAME(uint64_t, "uint64")
SLACKER_SHORT_TYPE_NAME(float, "float")
SLACKER_SHORT_TYPE_NAME(double, "double")
SLACKER_SHORT_TYPE_NAME(std::string, "string")

#undef SLACKER_SHORT_TYPE_NAME

template <class T> struct type_name_of<std::vector<T>> {
  static std::string get() {
    return "vector<" + type_name<T>() + ">";
  }
};

template <class T> struct type_name_of<std::set<T>> {
  static std::string get() {
    return "set<" + type_name<T>() + ">";
  }
};

template <class T> struct type_name_of<std::optional<T>> {
  static std::string get() {
    return "optional<" + type_name<T>() + ">";
  }
};

template <class K, class V> struct type_name_of<std::map<K, V>> {
  static std::string get() {
    return "map<" + type_name<K>() + "," + type_name<V>() + ">";
  }
};

} // namespace slacker
