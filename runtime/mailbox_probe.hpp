#pragma once

// Mailbox depth of the node's main actors (klerno_actor_mailbox_depth{actor}).
//
// CAF 0.17 lets only the owning actor read its mailbox (counting moves messages between its
// queues), so the depth is asked, not read from outside: an actor that calls
// `answer_mailbox_probes` answers `(mailbox_atom)` with the number of messages waiting behind the
// probe. The answer comes from the actor's default handler, so typed actors answer too without
// listing the message in their interface; every other unexpected message is handled as before
// (logged and dropped). The health actor asks the registered main actors every
// HEALTH_CHECK_INTERVAL; a probe that waits long is itself the sign of a deep mailbox.

#include <cstdint>

#include <caf/atom.hpp>
#include <caf/scheduled_actor.hpp>

namespace klerno::runtime {

using mailbox_atom = caf::atom_constant<caf::atom("mailbox")>;

/// Makes `self` answer `(mailbox_atom)` with its mailbox depth as uint64_t. Call in the actor's
/// initialization (it replaces the default handler).
void answer_mailbox_probes(caf::scheduled_actor* self);

} // namespace klerno::runtime
