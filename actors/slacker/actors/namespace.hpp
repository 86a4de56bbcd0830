#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/expected.hpp>

#include "slacker/messages/call.hpp"
#include "slacker/messages/codec.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/messages/type_name.hpp"

namespace slacker {

/// Marks a function that may block: it runs on the server's worker pool,
/// never on CAF's scheduler or network threads.
struct blocking_t {};
inline constexpr blocking_t blocking{};

/// One function of a namespace, with its types erased.
struct function_entry {
  function_info info;
  /// Decodes the arguments, runs the function, encodes the result. Never throws.
  std::function<caf::expected<bytes>(codec_id, const bytes&)> invoke;
  /// An operator's function (`ns::guard`): callers must be authorized.
  bool guarded = false;
  /// Runs on the server's operator lane, never behind user work (guarded
  /// functions always do; `ns::operator_lane`).
  bool operator_lane = false;
};

/// The call extension that carries the manager token.
inline constexpr const char* manager_token_ext = "slacker.manager-token";

namespace detail {

template <class F> struct signature : signature<decltype(&F::operator())> {};

template <class R, class... Args> struct signature<R (*)(Args...)> {
  using result = R;
  using args = std::tuple<std::decay_t<Args>...>;
};

template <class R, class... Args>
struct signature<R(Args...)> : signature<R (*)(Args...)> {};

template <class C, class R, class... Args>
struct signature<R (C::*)(Args...) const> : signature<R (*)(Args...)> {};

template <class C, class R, class... Args>
struct signature<R (C::*)(Args...)> : signature<R (*)(Args...)> {};

template <class... Ts> std::vector<std::string> codecs_of() {
  std::vector<std::string> result;
  for (auto c : {codec_id::caf_binary, codec_id::json, codec_id::boost_binary})
    if (supports_all<Ts...>(c))
      result.emplace_back(to_string(c));
  return result;
}

template <class R, class... Args, class F>
function_entry make_entry(const std::string& qualified, std::string doc, bool is_blocking,
                          F fn, std::tuple<Args...>*) {
  using result_type = std::conditional_t<std::is_void_v<R>, bool, R>;
  static_assert((must_travel<std::decay_t<Args>>::value && ...) &&
                must_travel<result_type>::value);
  function_entry entry;
  auto pos = qualified.rfind('/');
  entry.info.name = qualified.substr(pos + 1);
  entry.info.doc = std::move(doc);
  entry.info.arg_types = {type_name<Args>()...};
  entry.info.result_type = type_name<R>();
  entry.info.codecs = codecs_of<Args..., result_type>();
  entry.info.blocking = is_blocking;
  entry.invoke = [qualified, fn = std::move(fn)](
                     codec_id c, const bytes& in) mutable -> caf::expected<bytes> {
    if (!supports_all<Args..., result_type>(c))
      return make_error(sc::codec_error,
                        qualified + " does not support codec " + to_string(c));
    auto args = decode<Args...>(c, in);
    if (!args)
      return make_error(sc::codec_error,
                        "arguments of " + qualified + ": " + describe(args.error()));
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply(fn, std::move(*args));
        return encode_value(c, true);
      } else {
        return encode_value(c, std::apply(fn, std::move(*args)));
      }
    } catch (const std::exception& e) {
      return make_error(sc::exception, qualified + " threw: " + e.what());
    } catch (...) {
      return make_error(sc::exception, qualified + " threw a non-standard exception");
    }
  };
  return entry;
}

} // namespace detail

/// A namespace of functions, built with `def`:
/// ```
/// auto api = slacker::ns("slacker.example.api")
///                .def("timestamp", [] { return now_ms(); }, "ms since the epoch")
///                .def("slow", [](int64_t ms) { sleep(ms); return ms; },
///                     "sleeps", slacker::blocking);
/// ```
/// Argument and result types decide the codecs a function supports; a function
/// returning `void` answers `true`.
class ns {
public:
  explicit ns(std::string name) : name_(std::move(name)) {}

  template <class F> ns& def(const std::string& fn, F f, std::string doc = {}) {
    return add<F>(fn, std::move(f), std::move(doc), false);
  }

  template <class F> ns& def(const std::string& fn, F f, std::string doc, blocking_t) {
    return add<F>(fn, std::move(f), std::move(doc), true);
  }

  /// Marks `fn` (defined already) as an operator's function: a remote caller
  /// must send the server's `slacker.manager.token` (call extension
  /// `slacker.manager-token`), or, when the server has none configured, call
  /// from the server's own host (loopback). Others get `forbidden`.
  /// A guarded function runs on the operator lane (see `operator_lane`).
  ns& guard(const std::string& fn) {
    if (auto i = functions_.find(fn); i != functions_.end()) {
      i->second.guarded = true;
      i->second.operator_lane = true;
    }
    return *this;
  }

  /// Runs `fn` (defined already, blocking) on the server's operator lane: a
  /// thread of its own with a small queue, so that an operator's reads and
  /// commands answer whatever the worker pool holds (docs/security.md).
  ns& operator_lane(const std::string& fn) {
    if (auto i = functions_.find(fn); i != functions_.end())
      i->second.operator_lane = true;
    return *this;
  }

  /// Declares `fn` (defined already) idempotent: running it twice does no
  /// harm. Published in its metadata; cluster clients then retry it on
  /// another server after `connection_broken` or `overloaded`, and may hedge
  /// it (docs/reliability.md).
  ns& idempotent(const std::string& fn) {
    if (auto i = functions_.find(fn); i != functions_.end())
      i->second.info.idempotent = true;
    return *this;
  }

  const std::string& name() const noexcept {
    return name_;
  }

  const std::map<std::string, function_entry>& functions() const noexcept {
    return functions_;
  }

  std::vector<function_info> infos() const;

private:
  template <class F>
  ns& add(const std::string& fn, F f, std::string doc, bool is_blocking) {
    using sig = detail::signature<std::decay_t<F>>;
    using args = typename sig::args;
    functions_[fn] = detail::make_entry<typename sig::result>(
        name_ + "/" + fn, std::move(doc), is_blocking, std::move(f),
        static_cast<args*>(nullptr));
    return *this;
  }

  std::string name_;
  std::map<std::string, function_entry> functions_;
};

} // namespace slacker
