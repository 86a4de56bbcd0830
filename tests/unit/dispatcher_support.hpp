#pragma once

// What the deterministic tests of a dispatcher share: their configuration and
// the answer of a stand-in connection broker.

#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/config_option_adder.hpp>

#include "slacker/actors/cluster_call.hpp"
#include "slacker/messages/codec.hpp"
#include "slacker/runtime/config.hpp"

namespace slacker_test {

/// Slacker's message types, and gathers on the scheduler: no middleman in a
/// deterministic test.
struct unit_config : caf::actor_system_config {
  unit_config() {
    slacker::add_message_types(*this);
    opt_group{custom_options_, "slacker"}.add<std::string>("gather-hot-path", "");
    set("slacker.gather-hot-path", "scheduled");
  }
};

/// A stand-in broker's answer to a one-server call: its own address as the
/// call's one result.
inline slacker::cluster_reply address_reply(const std::string& addr,
                                            const slacker::cluster_call& call) {
  slacker::cluster_reply out;
  out.addrs.push_back(addr);
  slacker::call_reply rep;
  rep.codec = call.req.codec;
  rep.result = *slacker::encode_value(slacker::codec_id::caf_binary, addr);
  out.replies.push_back(rep);
  return out;
}

} // namespace slacker_test
