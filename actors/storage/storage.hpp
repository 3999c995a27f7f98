#pragma once

// Assembly of the storage layer: from `settings` and a session factory maker (the pg library's
// `pg::session_factories`, or fakes) to running actors, either unsupervised (`spawn_storage`,
// tests and tools) or as the `storage` supervisor of the node's tree (`storage_supervisor`).
//
// Actors and registry names (the supervisor publishes them; clients look them up by name so a
// restarted instance is found):
// - db_primary  pool_actor    the primary pool (also: `(migrate)` at startup, `(ping)` health)
// - db_writer   writer_actor  group commit on the primary: POST /transactions[/batch]
// - db_rep_<i>  pool_actor    one pool per replica URL (i = 0, 1, ...)
// - db_reads    reads_actor   reads for the HTTP layer (replicas with fallback to the primary)
// The supervisor's strategy is rest_for_one in that start order: when the primary pool restarts,
// the writer and the router (which hold its handle) restart with it.

#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include "actors/storage/messages.hpp"
#include "actors/storage/metrics.hpp"
#include "actors/storage/pool.hpp"
#include "actors/storage/reads.hpp"
#include "actors/storage/session.hpp"
#include "actors/storage/settings.hpp"
#include "actors/storage/writer.hpp"
#include "runtime/supervisor.hpp"

namespace klerno::actors::storage {

/// Registry name of the primary pool.
constexpr caf::atom_value primary_name = caf::atom("db_primary");
/// Registry name of the writer.
constexpr caf::atom_value writer_name = caf::atom("db_writer");
/// Registry name of the reads router.
constexpr caf::atom_value reads_name = caf::atom("db_reads");
/// Returns the registry name of replica pool `index` ("db_rep_0", ...; index < 1000).
caf::atom_value replica_name(std::size_t index);

/// Returns the settings of the pool for `url` (bounds resolved from the settings and the URL;
/// throws `std::invalid_argument` on bad pool parameters in the URL).
pool_config make_pool_config(const settings& cfg, const std::string& name, const std::string& url,
                             session_factory factory, metrics_ptr metrics);

/// The storage actors of a node.
struct storage_actors {
  pool_actor primary;
  std::vector<pool_actor> replicas;
  writer_actor writer;
  reads_actor reads;
};

/// Spawns the pools, the writer and the reads router without supervision (throws
/// `std::invalid_argument` on bad pool parameters in a URL). Stop them with `stop_storage`.
storage_actors spawn_storage(caf::actor_system& sys, const settings& cfg,
                             const session_factory_maker& make, metrics_ptr metrics);

/// Stops what `spawn_storage` started (router, replicas, writer, primary), each with
/// `exit_reason::user_shutdown`; pending requests fail with `errc::shutting_down`.
void stop_storage(const storage_actors& actors);

/// Returns the spec of the `storage` supervisor (rest_for_one; children as listed above, each
/// published under its registry name). Add it to the node's tree with
/// `runtime::supervisor_child(storage_supervisor(...))`. Pass the node's supervisor hooks so
/// restarts are logged and counted.
runtime::supervisor_spec storage_supervisor(const settings& cfg, session_factory_maker make,
                                            metrics_ptr metrics,
                                            runtime::supervisor_hooks hooks = {});

} // namespace klerno::actors::storage
