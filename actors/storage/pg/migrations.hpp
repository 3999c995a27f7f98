#pragma once

// The schema migrations, embedded at build time from the top-level migrations/ directory (files
// `NNNN_name.sql`, applied in version order; see embed_migrations.cmake). A migration is
// applied once per database, in its own transaction, and recorded in schema_migrations. Never
// edit an applied migration: add the next one.

#include <string_view>
#include <vector>

namespace klerno::actors::storage::pg {

/// One versioned migration.
struct migration {
  int version;           ///< NNNN of the file name
  std::string_view name; ///< the rest of the file name, without ".sql"
  std::string_view sql;  ///< the file's content
};

/// Returns every migration, ordered by version.
const std::vector<migration>& migrations();

} // namespace klerno::actors::storage::pg
