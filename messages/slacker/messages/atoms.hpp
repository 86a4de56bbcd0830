#pragma once

#include <caf/atom.hpp>

namespace slacker {

/// Asks a server front for the actor that serves a namespace.
using lookup_atom = caf::atom_constant<caf::atom("sl_lookup")>;
/// Asks a server front for its namespaces, or for a namespace's functions.
using inspect_atom = caf::atom_constant<caf::atom("sl_inspect")>;
/// Adds or replaces a namespace on a server front.
using publish_atom = caf::atom_constant<caf::atom("sl_publish")>;
/// Removes a namespace from a server front.
using unpublish_atom = caf::atom_constant<caf::atom("sl_unpub")>;
/// A blocking function finished on the worker pool.
using job_done_atom = caf::atom_constant<caf::atom("sl_jobdone")>;
/// The earliest pending deadline of a client may have passed.
using deadline_atom = caf::atom_constant<caf::atom("sl_dline")>;
/// Sends a plain CAF message to a namespace served by a user actor.
using forward_atom = caf::atom_constant<caf::atom("sl_forward")>;

/// Subscribes an actor to membership events; unsubscribes it.
using subscribe_atom = caf::atom_constant<caf::atom("sl_sub")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("sl_unsub")>;
/// Asks a registry actor or a dispatcher for its membership view.
using view_atom = caf::atom_constant<caf::atom("sl_view")>;
/// Asks a dispatcher for a server's server-data.
using server_data_atom = caf::atom_constant<caf::atom("sl_sdata")>;
/// Gives a registrar its server's new server-data.
using set_data_atom = caf::atom_constant<caf::atom("sl_setdata")>;
/// An event of the ZooKeeper client, posted from its thread.
using zk_event_atom = caf::atom_constant<caf::atom("sl_zkev")>;
/// Time to try a ZooKeeper session again: `(retry_atom, generation)`.
using retry_atom = caf::atom_constant<caf::atom("sl_retry")>;
/// Time for a registrar to register what failed to register.
using register_atom = caf::atom_constant<caf::atom("sl_reg")>;
/// Tells a registrar that its server began to leave: out of routing, marked
/// leaving in ZooKeeper, still registered until it stops.
using leave_atom = caf::atom_constant<caf::atom("sl_leave")>;
/// Asks a registrar for the namespaces it leads, with their fencing tokens.
using leaders_atom = caf::atom_constant<caf::atom("sl_leaders")>;

/// Starts a gather (the caller's request, delegated to it).
using gather_atom = caf::atom_constant<caf::atom("sl_gather")>;
/// An actor's fan-out, sent to the first server's connection broker, which
/// sends each other server's part to its broker on the network thread.
using fan_out_atom = caf::atom_constant<caf::atom("sl_fanout")>;
/// Periodic housekeeping of a dispatcher.
using sweep_atom = caf::atom_constant<caf::atom("sl_sweep")>;

/// Answers once every call a namespace actor is running has finished.
using drain_atom = caf::atom_constant<caf::atom("sl_drain")>;

/// Wire protocol housekeeping in connection brokers (docs/protocol.md):
/// a server stops accepting and says so; a periodic check; the end of the
/// time allowed for a hello; a connect attempt finished; a connection of a
/// link went down or came up (to the link's observer).
using going_away_atom = caf::atom_constant<caf::atom("sl_goaway")>;
using tick_atom = caf::atom_constant<caf::atom("sl_tick")>;
/// A broker to itself: send what its turn wrote (one write per turn).
using flush_atom = caf::atom_constant<caf::atom("sl_flush")>;
using handshake_atom = caf::atom_constant<caf::atom("sl_hshake")>;
/// A client broker to itself: a call's share of a connect attempt is over.
using connect_bound_atom = caf::atom_constant<caf::atom("sl_cbound")>;
using connected_atom = caf::atom_constant<caf::atom("sl_conned")>;
using conn_down_atom = caf::atom_constant<caf::atom("sl_cdown")>;
using conn_up_atom = caf::atom_constant<caf::atom("sl_cup")>;
using wait_atom = caf::atom_constant<caf::atom("sl_wait")>;
/// The address a registrar registers its server under (empty: not known yet).
using address_atom = caf::atom_constant<caf::atom("sl_addr")>;
/// A connection broker whose server left: answer the calls in flight, then end.
using retire_atom = caf::atom_constant<caf::atom("sl_retire")>;
/// A connection broker hands a failed call back to its dispatcher, to be
/// sent to another server (draining, never sent, or idempotent).
using resend_atom = caf::atom_constant<caf::atom("sl_resend")>;
/// A server failed calls in a row (failure accrual): out of routing.
using suspect_atom = caf::atom_constant<caf::atom("sl_suspct")>;
/// The ZooKeeper requests a registry actor or registrar sent: `(reads, writes)`.
using zk_requests_atom = caf::atom_constant<caf::atom("sl_zkreqs")>;
/// A hedged call asks for its backup.
using hedge_atom = caf::atom_constant<caf::atom("sl_hedge")>;
/// The registry's view has settled after a new session (its grace ended).
using settle_atom = caf::atom_constant<caf::atom("sl_settle")>;
/// A leader's ZooKeeper link has been down long enough: step down.
using step_down_atom = caf::atom_constant<caf::atom("sl_stepdn")>;

} // namespace slacker
