#include "slacker/policy/options.hpp"

namespace slacker {

namespace {

template <class T>
void pick(T& out, const std::optional<T>& a, const std::optional<T>& b,
          const std::optional<T>& c) {
  if (a)
    out = *a;
  else if (b)
    out = *b;
  else if (c)
    out = *c;
}

} // namespace

bool sets_nothing(const cluster_options& x) {
  return !x.grouping && !x.results && !x.exceptions && !x.timeout && !x.codec &&
         !x.unavailable && !x.idempotent && !x.hedge_after && x.ext.empty();
}

call_policies resolve(const cluster_options& per_call, const cluster_options& per_fn,
                      const cluster_options& client) {
  call_policies result;
  pick(result.grouping, per_call.grouping, per_fn.grouping, client.grouping);
  pick(result.results, per_call.results, per_fn.results, client.results);
  pick(result.exceptions, per_call.exceptions, per_fn.exceptions, client.exceptions);
  pick(result.timeout, per_call.timeout, per_fn.timeout, client.timeout);
  pick(result.codec, per_call.codec, per_fn.codec, client.codec);
  pick(result.unavailable, per_call.unavailable, per_fn.unavailable, client.unavailable);
  pick(result.idempotent, per_call.idempotent, per_fn.idempotent, client.idempotent);
  pick(result.hedge_after, per_call.hedge_after, per_fn.hedge_after, client.hedge_after);
  result.ext = client.ext;
  for (auto& kvp : per_fn.ext)
    result.ext[kvp.first] = kvp.second;
  for (auto& kvp : per_call.ext)
    result.ext[kvp.first] = kvp.second;
  return result;
}

} // namespace slacker
