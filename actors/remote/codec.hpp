#pragma once

// Conversions between the domain model and the cluster's wire format (proto/cluster.proto).

#include <optional>
#include <string>

#include "actors/model/transaction.hpp"
#include "actors/wallet/region.hpp"
#include "proto/cluster.pb.h"

namespace klerno::actors::remote {

/// Writes `tx` into `out`.
void encode(const model::transaction& tx, cluster::v1::Transaction& out);

/// Reads a transaction; nullopt when an amount or fee is not an exact decimal.
std::optional<model::transaction> decode(const cluster::v1::Transaction& in);

/// Writes the outcome of one store.
void encode(const wallet::item_outcome& o, cluster::v1::StoreOutcome& out);

/// Reads the outcome of one store: errors come back as the klerno error codes they were
/// (`not_owner` becomes errc::unavailable with the context "not_owner").
wallet::item_outcome decode(const cluster::v1::StoreOutcome& in);

/// Returns whether an outcome says the receiver did not own the wallet (retry on the owner).
bool is_not_owner(const caf::error& err);

} // namespace klerno::actors::remote
