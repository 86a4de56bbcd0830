#pragma once

// The answer of a cluster call as it crosses actor boundaries (registered
// with CAF), and its decoding into a typed result.

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "slacker/messages/call.hpp"
#include "slacker/messages/codec.hpp"
#include "slacker/messages/error.hpp"

namespace slacker {

/// How a `cluster_reply` is shaped: the results policy it was made under,
/// so that it decodes without the policies.
enum class reply_shape : uint8_t {
  single, // at most one reply: the first success
  vector, // every success, in the order they came
  map,    // every success, with its server in `addrs`
  nil,    // nothing
  whole,  // one value that is the call's entire result (the unavailable
          // value, or a user results function's output)
};

const char* to_string(reply_shape x);

/// The answer of a cluster call: the successful results the policies kept,
/// with their servers, and how they were shaped; and the servers that failed
/// (`failed[i]` with `errors[i]`, e.g. `timeout` for one that did not answer
/// by the deadline), for a call that succeeded with partial results.
struct cluster_reply {
  reply_shape shape = reply_shape::single;
  std::vector<std::string> addrs;
  std::vector<call_reply> replies;
  std::vector<std::string> failed;
  std::vector<caf::error> errors;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_reply& x) {
  return f(caf::meta::type_name("slacker::cluster_reply"), x.shape, x.addrs, x.replies,
           x.failed, x.errors);
}

/// A server a call went to that is missing from its result, and why (its
/// error, `timeout` when it had not answered by the deadline).
struct missing_server {
  std::string addr;
  caf::error error;
};

/// A result with its missing part: ask for `partial<R>` instead of `R` to
/// know which servers of a fan-out are not in `value` (a quorum met, the
/// `all`/`any` exceptions policy letting a failure pass, a map or vector
/// without a server that timed out).
/// ```
/// auto r = cc.call<slacker::partial<std::map<std::string, int64_t>>>(
///     opts, "my.api/load");
/// for (auto& m : r->missing)
///   std::cerr << m.addr << ": " << slacker::describe(m.error) << "\n";
/// ```
template <class R> struct partial {
  R value;
  std::vector<missing_server> missing;
};

namespace detail {

template <class T> struct as_type { using type = T; };

template <class T> struct is_partial : std::false_type {};
template <class T> struct is_partial<partial<T>> : std::true_type {};

/// Shapes `n` answers as the typed result `R`: `element<T>(i)` decodes
/// answer `i` as a `T`, `addrs[i]` is its server. The one decode path of
/// cluster replies and of typed-message answers.
template <class R, class Element>
caf::expected<R> shaped(reply_shape shape, const std::vector<std::string>& addrs,
                        size_t n, const std::string& what, Element element) {
  auto mismatch = [&] {
    return make_error(
        sc::invalid_request,
        what + ": results " + to_string(shape) +
            " needs a std::vector (vector) or std::map<std::string, T> (map) "
            "result type");
  };
  if constexpr (std::is_void_v<R>) {
    if (shape == reply_shape::whole && n > 0) {
      auto x = element(as_type<void>{}, 0);
      if (!x)
        return std::move(x.error());
    }
    return caf::unit;
  } else {
    switch (shape) {
      case reply_shape::nil:
        return R{};
      case reply_shape::whole:
      case reply_shape::single:
        if (n == 0)
          return make_error(sc::unavailable, what + ": no server returned a result");
        return element(as_type<R>{}, 0);
      case reply_shape::vector:
        if constexpr (is_std_vector<R>::value) {
          R out;
          for (size_t i = 0; i < n; ++i) {
            auto x = element(as_type<typename R::value_type>{}, i);
            if (!x)
              return std::move(x.error());
            out.push_back(std::move(*x));
          }
          return out;
        } else {
          return mismatch();
        }
      case reply_shape::map:
        if constexpr (is_string_map<R>::value) {
          R out;
          for (size_t i = 0; i < n && i < addrs.size(); ++i) {
            auto x = element(as_type<typename R::mapped_type>{}, i);
            if (!x)
              return std::move(x.error());
            out.emplace(addrs[i], std::move(*x));
          }
          return out;
        } else {
          return mismatch();
        }
    }
    return mismatch();
  }
}

} // namespace detail

/// Turns a cluster reply into the typed result `R`, as its shape says:
/// `single` and `whole` decode `R`; `vector` needs `R = std::vector<T>`; `map`
/// needs `R = std::map<std::string, T>` (keyed "host:port"); `nil` gives
/// `R{}`. `what` (ns/fn) names the call in errors.
/// `R = partial<T>` decodes `T` and adds the servers missing from it.
template <class R>
caf::expected<R> decode_cluster(const cluster_reply& rep, const std::string& what) {
  if constexpr (detail::is_partial<R>::value) {
    using T = decltype(R::value);
    auto value = decode_cluster<T>(rep, what);
    if (!value)
      return std::move(value.error());
    R out{std::move(*value), {}};
    for (size_t i = 0; i < rep.failed.size(); ++i)
      out.missing.push_back(
          {rep.failed[i], i < rep.errors.size() ? rep.errors[i] : caf::error{}});
    return out;
  } else {
    return detail::shaped<R>(rep.shape, rep.addrs, rep.replies.size(), what,
                             [&](auto type, size_t i) {
                               using T = typename decltype(type)::type;
                               return result_of<T>(rep.replies[i]);
                             });
  }
}

/// Turns one server's answer into the typed result `R` as `decode_cluster`
/// turns a `cluster_reply` holding that answer alone, shaped `shape`
/// (`single`, `whole`, `vector` or `nil`; not `map`, which is keyed by the
/// server).
template <class R>
caf::expected<R> decode_one(reply_shape shape, const call_reply& rep,
                            const std::string& what) {
  if constexpr (detail::is_partial<R>::value) {
    using T = decltype(R::value);
    auto value = decode_one<T>(shape, rep, what);
    if (!value)
      return std::move(value.error());
    return R{std::move(*value), {}};
  } else {
    static const std::vector<std::string> no_addrs;
    return detail::shaped<R>(shape, no_addrs, 1, what, [&](auto type, size_t) {
      using T = typename decltype(type)::type;
      return result_of<T>(rep);
    });
  }
}

} // namespace slacker
