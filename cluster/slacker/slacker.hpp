#pragma once

// Everything a program needs to serve and call namespaces in a cluster. Each
// header can also be included on its own; <slacker/fwd.hpp> only names types.

#include "slacker/fwd.hpp"

#include "slacker/messages/atoms.hpp"
#include "slacker/messages/call.hpp"
#include "slacker/messages/cluster_reply.hpp"
#include "slacker/messages/codec.hpp"
#include "slacker/messages/error.hpp"
#include "slacker/messages/membership.hpp"

#include "slacker/runtime/config.hpp"
#include "slacker/runtime/signals.hpp"
#include "slacker/runtime/version.hpp"

#include "slacker/policy/options.hpp"

#include "slacker/actors/client.hpp"
#include "slacker/actors/namespace.hpp"
#include "slacker/actors/server.hpp"

#include "slacker/registry/lookup.hpp"
#include "slacker/registry/registry.hpp"

#include "slacker/cluster/cluster_client.hpp"
#include "slacker/cluster/manager.hpp"
#include "slacker/cluster/registration.hpp"
#include "slacker/cluster/server_config.hpp"
