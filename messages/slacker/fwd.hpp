#pragma once

// Forward declarations of slacker's public types, for headers that only name
// them. Include <slacker/slacker.hpp> (or the one header of a type) to use them.

#include <cstdint>

namespace slacker {

// messages/
enum class codec_id : uint8_t;
enum class sc : uint8_t;
enum class registry_status : uint8_t;
struct call_request;
struct call_reply;
struct function_info;
struct cluster_reply;
struct member_up;
struct member_down;
struct member_leaving;
struct member_unreachable;
struct member_reachable;
struct server_data_changed;
struct namespace_up;
struct namespace_down;
struct leader_changed;
struct fencing_token;
struct leadership;
struct registry_state;
struct membership_view;

// runtime/
class config;
class worker_pool;
class scoped_pool;
struct wire_options;

// policy/
enum class grouping_kind : uint8_t;
enum class results_kind : uint8_t;
enum class exceptions_kind : uint8_t;
struct cluster_options;
struct call_policies;

// actors/
class ns;
class server;
class client;
struct call_options;
struct cluster_call;
struct ask_request;
struct ask_reply;

// registry/
struct zk_options;
class registry;

// cluster/
class cluster_client;
class registration;
struct registration_options;
class cluster_server_config;
template <class Signature> class remote_fn;

} // namespace slacker
