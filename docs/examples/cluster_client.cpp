// The examples of docs/guide.md, "Cluster client". Built with the tests, so
// that the guide's code compiles; each block of the guide marked with this
// file's name appears here verbatim (checked by the docs.examples test).
#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <slacker/cluster/cluster_client.hpp>
#include <slacker/runtime/config.hpp>

// -- registered grouping
/// The server that answered fastest lately (servers not heard from first).
class fastest : public slacker::grouping::policy {
public:
  slacker::addresses select(const slacker::grouping_call& call) override {
    const slacker::candidate* best = nullptr;
    for (auto& server : call.view.servers)
      if (!best || latency(server.addr) < latency(best->addr))
        best = &server;
    if (!best)
      return {};
    return {best->addr};
  }
  void feedback(const slacker::call_feedback& fb) override {
    latency_us_[fb.addr] = fb.ok ? fb.latency.count() : 1'000'000;
  }
  bool wants_feedback() const override {
    return true; // each call's outcome travels to the dispatcher
  }

private:
  int64_t latency(const std::string& addr) const {
    auto i = latency_us_.find(addr);
    return i == latency_us_.end() ? 0 : i->second;
  }
  std::map<std::string, int64_t> latency_us_;
};

void register_fastest() {
  slacker::grouping::add("fastest", [] { return std::make_unique<fastest>(); });
  // then: opts.grouping = slacker::grouping_name{"fastest"};
  //       or --grouping=fastest, or slacker.grouping=fastest
}

void caf_main(caf::actor_system& sys, const slacker::config&) {
  // -- connect
  slacker::cluster_client sc{sys, "example-cluster", "127.0.0.1:2181"};
  auto ts = sc.call<int64_t>("slacker.example.api/timestamp");
  if (!ts)
    std::cerr << slacker::describe(ts.error()) << '\n';
  // -- all and map
  slacker::cluster_options everyone;
  everyone.grouping = slacker::grouping_kind::all;
  everyone.results = slacker::results_kind::map;
  auto stamps =
      sc.call<std::map<std::string, int64_t>>(everyone, "slacker.example.api/timestamp");
  // stamps: {"10.0.0.5:2104": 1795711804289, "10.0.0.6:2104": 1795711804290}
  // -- vector, any
  slacker::cluster_options strict;
  strict.grouping = slacker::grouping_kind::all;
  strict.results = slacker::results_kind::vector;
  strict.exceptions = slacker::exceptions_kind::any; // one failure fails the call
  strict.timeout = std::chrono::milliseconds{500};
  auto echoes =
      sc.call<std::vector<std::string>>(strict, "slacker.example.api/echo", "hi");
  // -- user grouping
  slacker::cluster_options heavy_only;
  heavy_only.grouping = slacker::grouping_fn{
      [](const slacker::grouping_call& call) -> slacker::grouping_choice {
        slacker::addresses picked;
        for (auto& server : call.view.servers)
          if (slacker::grouping::weight_of(call.view.server_data(server.addr)) >= 2)
            picked.push_back(server.addr);
        if (picked.empty())
          return slacker::grouping_kind::random; // fall back to a built-in
        return picked;
      }};
  auto who = sc.call<std::string>(heavy_only, "slacker.example.api/whoami");
  // -- sick servers: retries, hedging, quorum
  slacker::cluster_options patient;
  patient.idempotent = true;                           // may run twice
  patient.hedge_after = std::chrono::milliseconds{20}; // a backup after 20 ms
  auto stamp = sc.call<int64_t>(patient, "slacker.example.api/timestamp");
  slacker::cluster_options two_of_all;
  two_of_all.grouping = slacker::grouping_kind::all;
  two_of_all.results = slacker::results_kind::map;
  two_of_all.exceptions = slacker::quorum{2}; // the first 2 successes
  // partial<R>: the result and the servers missing from it, with why.
  auto two = sc.call<slacker::partial<std::map<std::string, int64_t>>>(
      two_of_all, "slacker.example.api/timestamp");
  if (two)
    for (auto& m : two->missing) // e.g. the third: not waited for, may have run
      std::cout << m.addr << " is missing: " << slacker::describe(m.error) << "\n";
  // -- unavailable value
  slacker::cluster_options lenient;
  lenient.unavailable = slacker::fallback(int64_t{0});
  auto zero = sc.call<int64_t>(lenient, "slacker.example.missing/timestamp"); // 0
  // -- reduce
  slacker::cluster_options sum_all;
  sum_all.grouping = slacker::grouping_kind::all;
  sum_all.results = slacker::reduce<int64_t>([](const auto& pairs) {
    int64_t total = 0;
    for (auto& [addr, value] : pairs)
      total += value;
    return total;
  });
  auto total = sc.call<int64_t>(sum_all, "slacker.example.api/inc-m", int64_t{1});
  // -- remote fn
  slacker::remote_fn<int64_t()> timestamp{sc, "slacker.example.api/timestamp"};
  slacker::remote_fn<std::vector<std::string>(std::string)> echo_all{
      sc, "slacker.example.api/echo", strict};
  auto one = timestamp();
  auto all = echo_all("hello");
  auto first_only = echo_all.with(heavy_only, "hello"); // per call wins
  // -- async
  sc.call_async<int64_t>(slacker::cluster_options{}, "slacker.example.api/timestamp",
                         [](caf::expected<int64_t> r) {
                           if (r)
                             std::cout << "async: " << *r << '\n';
                         });
  sc.send("slacker.example.api/inc-m", int64_t{1}); // fire and forget
  sc.on_server_data_change([](const std::string& addr, const std::string& data) {
    std::cout << addr << " now has " << data << '\n';
  });
  auto data = sc.server_data("127.0.0.1:2104");
  // -- from an actor
  auto call = sc.prepare(slacker::cluster_options{}, slacker::cluster_options{},
                         "slacker.example.api/timestamp");
  sys.spawn([&sc, c = std::move(*call)](caf::event_based_actor* self) {
    // No blocking: the typed result comes back to this actor.
    sc.request<int64_t>(self, c, [](caf::expected<int64_t> ts) {
      if (!ts)
        std::cerr << slacker::describe(ts.error()) << '\n';
    });
  });
  // -- user actors
  auto doubled =
      sc.ask<std::map<std::string, int32_t>>(everyone, "example.actor", int32_t{21});
  // -- end
  (void)stamps, (void)echoes, (void)who, (void)zero, (void)total, (void)one, (void)all,
      (void)first_only, (void)data, (void)doubled;
}

CAF_MAIN()
