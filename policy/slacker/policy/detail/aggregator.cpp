#include "slacker/policy/detail/aggregator.hpp"

#include <algorithm>

#include "slacker/messages/error.hpp"

namespace slacker {

namespace {

/// How a built-in results policy shapes the successes.
reply_shape shape_of(results_kind k) {
  switch (k) {
    case results_kind::nil:
      return reply_shape::nil;
    case results_kind::vector:
      return reply_shape::vector;
    case results_kind::map:
      return reply_shape::map;
    case results_kind::single:
      break;
  }
  return reply_shape::single;
}

} // namespace

aggregator::aggregator(std::string what, std::shared_ptr<const call_policies> policies,
                       std::vector<std::string> addrs)
  : what_(std::move(what)), policies_(std::move(policies)), waiting_(std::move(addrs)) {
  // nop
}

bool aggregator::take(const std::string& addr) {
  auto i = std::find(waiting_.begin(), waiting_.end(), addr);
  if (i == waiting_.end())
    return false;
  waiting_.erase(i);
  return true;
}

bool aggregator::add(const std::string& addr, call_reply rep) {
  if (!take(addr))
    return decided_;
  if (code_of(rep.err) == sc::draining)
    ++left_; // stopping: as if it had not been chosen
  else if (rep.err)
    failures_.push_back({addr, std::move(rep.err)});
  else
    successes_.push_back({addr, std::move(rep)});
  return update();
}

bool aggregator::fail(const std::string& addr, caf::error err) {
  if (!take(addr))
    return decided_;
  if (code_of(err) == sc::draining)
    ++left_; // stopping: as if it had not been chosen
  else
    failures_.push_back({addr, std::move(err)});
  return update();
}

bool aggregator::expire() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(policies_->timeout);
  for (auto& addr : waiting_)
    failures_.push_back(
        {addr, make_error(sc::timeout, what_ + " on " + addr + ": no reply within " +
                                           std::to_string(ms.count()) + " ms")});
  waiting_.clear();
  update();
  return true;
}

bool aggregator::update() {
  if (decided_)
    return true;
  // `all` may settle at the first success when the results keep one answer.
  auto res = std::get_if<results_kind>(&policies_->results);
  auto one = res && (*res == results_kind::single || *res == results_kind::nil);
  verdict_ = exceptions::decide(policies_->exceptions,
                                {what_, successes_, failures_, waiting_, one});
  return decided_ = verdict_.what != verdict::kind::wait;
}

caf::expected<cluster_reply> aggregator::result() {
  std::optional<caf::error> err;
  if (successes_.empty() && failures_.empty() && left_ > 0)
    err = make_error(sc::unavailable, what_ + ": every server chosen is stopping");
  else if (verdict_.what == verdict::kind::fail)
    err = verdict_.err ? verdict_.err : make_error(sc::exception, what_ + ": failed");
  if (err && *err)
    return std::move(*err);
  cluster_reply out;
  for (auto& f : failures_) {
    out.failed.push_back(f.addr);
    out.errors.push_back(f.err);
  }
  // Decided before every server answered (a quorum met): the others are
  // missing from a result that keeps every answer, and may still run.
  auto res = std::get_if<results_kind>(&policies_->results);
  if (!res || (*res != results_kind::single && *res != results_kind::nil))
    for (auto& addr : waiting_) {
      out.failed.push_back(addr);
      out.errors.push_back(
          make_error(sc::outcome_unknown, what_ + " on " + addr +
                                              ": not waited for (the call was decided "
                                              "before it answered); it may have run"));
    }
  if (auto q = std::get_if<quorum>(&policies_->exceptions); q && successes_.size() > q->k)
    successes_.resize(q->k); // shaped from the first k
  if (auto fn = std::get_if<results_fn>(&policies_->results); fn && *fn) {
    auto value = (*fn)(policies_->codec, successes_);
    call_reply rep;
    rep.codec = policies_->codec;
    if (value)
      rep.result = std::move(*value);
    else
      rep.err = std::move(value.error());
    out.shape = reply_shape::whole;
    out.replies.push_back(std::move(rep));
    return out;
  }
  auto kind = std::get_if<results_kind>(&policies_->results);
  auto k = kind ? *kind : results_kind::single;
  out.shape = shape_of(k);
  if (k == results_kind::nil)
    return out;
  for (auto& s : successes_) {
    out.addrs.push_back(std::move(s.addr));
    out.replies.push_back(std::move(s.reply));
    if (k == results_kind::single)
      break;
  }
  successes_.clear();
  return out;
}

std::optional<reply_shape> aggregator::success_shape(const call_policies& policies) {
  auto res = std::get_if<results_kind>(&policies.results);
  if (!res || !std::holds_alternative<exceptions_kind>(policies.exceptions))
    return std::nullopt;
  return shape_of(*res);
}

caf::expected<cluster_reply>
aggregator::one(const call_name& what, std::shared_ptr<const call_policies> policies,
                std::string addr, call_reply rep) {
  // A success under a built-in results and exceptions policy (the common
  // case) is its own outcome, shaped without the aggregator's bookkeeping;
  // the rest as a fan-out's answers are.
  if (auto shape = rep.err ? std::nullopt : success_shape(*policies)) {
    cluster_reply out;
    out.shape = *shape;
    if (*shape == reply_shape::nil)
      return out;
    out.addrs.push_back(std::move(addr));
    out.replies.push_back(std::move(rep));
    return out;
  }
  // The one answer is all there is: straight to the outcome.
  aggregator agg{what.str(), std::move(policies), {}};
  if (rep.err)
    agg.failures_.push_back({std::move(addr), std::move(rep.err)});
  else
    agg.successes_.push_back({std::move(addr), std::move(rep)});
  agg.update();
  return agg.result();
}

caf::expected<cluster_reply> aggregator::none(const std::string& what,
                                              const std::string& where,
                                              const call_policies& policies,
                                              const extensions& ext) {
  if (!policies.unavailable)
    return make_error(sc::unavailable, "no server provides " + what + " in " + where);
  auto value = policies.unavailable(policies.codec);
  if (!value)
    return std::move(value.error());
  call_reply rep;
  rep.codec = policies.codec;
  rep.result = std::move(*value);
  rep.ext = ext;
  cluster_reply out;
  out.shape = reply_shape::whole;
  out.replies.push_back(std::move(rep));
  return out;
}

} // namespace slacker
