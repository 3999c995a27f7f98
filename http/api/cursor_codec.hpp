#pragma once

// The opaque `cursor` token of keyset pagination (GET /transactions?cursor=...): URL-safe base64
// without padding of a small versioned binary record
//
//   byte 0      version (1)
//   bytes 1..8  time, microseconds since the Unix epoch, signed 64-bit big-endian
//   bytes 9..   tx_id (1..128 printable ASCII, as valid_tx_id)
//
// Clients must treat it as opaque. It is not signed: a forged cursor only moves the caller's own
// position in a listing it may read anyway, and storage binds it as query parameters.

#include <optional>
#include <string>
#include <string_view>

#include "actors/model/cursor.hpp"

namespace klerno::http::api {

/// Returns the token for `c`.
std::string encode_cursor(const actors::model::cursor& c);

/// Returns the position of a token, or nullopt for anything `encode_cursor` cannot have produced
/// (wrong alphabet or length, padding, unknown version, bad tx_id). Never throws.
std::optional<actors::model::cursor> decode_cursor(std::string_view token) noexcept;

} // namespace klerno::http::api
