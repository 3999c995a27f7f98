#pragma once

// The writer actor: group commit in front of the primary pool. It gathers `(store, rows)`
// requests into a batch for at most `max_delay` after the batch's first request, or until the
// batch holds `max_rows` rows (a request is never split: one that would overflow the batch starts
// the next one, one larger than `max_rows` goes alone), and sends each batch as ONE insert (one
// transaction) to the pool, with at most `max_inflight` batches in flight. While all are in
// flight the open batch keeps gathering (up to `max_rows`), so batches grow with the load.
//
// Every request is answered only after its batch COMMITted, with its own slice of the results,
// in its input order. A failed batch fails exactly the requests in it, each with the batch's
// error. A request whose rows fail `validate` (types.hpp) is refused on its own with
// `errc::invalid_argument` before it joins a batch; one that would push the rows waiting in the
// writer beyond `max_pending_rows` is refused with `errc::unavailable`.
//
// `max_rows = 1` with `max_delay = 0` is the one-INSERT-per-request baseline.

#include <chrono>
#include <cstddef>

#include <caf/actor_system.hpp>

#include "actors/storage/messages.hpp"
#include "actors/storage/metrics.hpp"

namespace klerno::actors::storage {

/// Settings of the writer.
struct writer_config {
  insert_actor pool;                          ///< the primary pool (or a fake in tests)
  std::size_t max_rows = 512;                 ///< WRITER_BATCH_MAX_ROWS (at least 1)
  std::chrono::microseconds max_delay{2'000}; ///< WRITER_BATCH_MAX_DELAY
  std::size_t max_inflight = 4;               ///< WRITER_MAX_INFLIGHT (at least 1)
  std::size_t max_pending_rows = 65'536;      ///< WRITER_MAX_PENDING_ROWS
  metrics_ptr metrics;                        ///< may be null
};

/// Spawns a writer.
writer_actor spawn_writer(caf::actor_system& sys, writer_config cfg);

} // namespace klerno::actors::storage
