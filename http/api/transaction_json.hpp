#pragma once

// The TaggedTransaction JSON of the API: strict parsing of client input into a
// model::transaction, and the fast hand-written rendering of a transaction.
//
// Input fields (anything else is an error naming the field):
//
//   field        type                        rule                                  default
//   tx_id        string                      1..128 printable ASCII, no spaces     required
//   timestamp    string                      ISO 8601 date-time (parse_timestamp)  now
//   chain        string                      <= 32 bytes                           "XRPL"
//   from_addr    string                      <= 128 bytes                          ""
//   to_addr      string                      <= 128 bytes                          ""
//   amount       number or numeric string    finite, |amount| <= max_amount        required
//   symbol       string                      <= 40 bytes (XRPL hex currency codes) "XRP"
//   direction    string                      <= 32 bytes                           ""
//   fee          number or numeric string    finite, 0 <= fee <= max_amount        0
//   memo         string                      <= max_memo_bytes                     ""
//   notes        string                      <= max_notes_bytes                    ""
//   tags         array of strings            <= 32 tags of <= 64 bytes each        []
//   is_internal  boolean                                                           false
//
// Every string must be valid UTF-8. `null` counts as absent (the default applies; a required
// field is then missing). The output-only fields category, risk_score, risk_flags and risk_bucket
// are accepted and ignored whatever their value, so clients can send back items they read from
// the API; the server always recomputes them.
//
// Amounts given as JSON numbers: integers convert exactly; a double converts through its
// shortest round-trip text, so 0.1 becomes exactly 0.1 (not 0.1000000000000000055...).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "actors/model/transaction.hpp"

namespace klerno::http::api {

/// Why an input was refused: the field (as named in the input) and what is wrong with it.
struct field_error {
  std::string field;   ///< the offending field, "" for the document itself
  std::string message; ///< human-readable; names the field and the expected type or limit
};

/// Bounds on client input (the node may fill them from its settings).
struct input_limits {
  /// Largest accepted |amount| and fee: 10^15 keeps every sum and ratio far inside the decimal
  /// range and covers any real amount (the XRP supply is 10^11).
  actors::model::decimal max_amount = actors::model::decimal::from_integer(1000000000000000);
  std::size_t max_id_bytes = 128;     ///< tx_id
  std::size_t max_addr_bytes = 128;   ///< from_addr, to_addr
  std::size_t max_short_bytes = 32;   ///< chain, direction
  std::size_t max_symbol_bytes = 40;  ///< symbol: room for an undecodable 40-hex XRPL currency
  std::size_t max_memo_bytes = 1024;  ///< memo
  std::size_t max_notes_bytes = 4096; ///< notes
  std::size_t max_tags = 32;          ///< number of tags
  std::size_t max_tag_bytes = 64;     ///< each tag
};

/// A parsed transaction or the reason it was refused.
using parse_result = std::variant<actors::model::transaction, field_error>;

/// Parses one TaggedTransaction object; a missing timestamp becomes `now`.
parse_result parse_transaction(const nlohmann::json& j, const input_limits& limits,
                               actors::model::timestamp now);

/// Parses one TaggedTransaction object; a missing timestamp becomes the current time.
parse_result parse_transaction(const nlohmann::json& j, const input_limits& limits);

/// Returns whether `id` is a valid tx_id: 1..max_bytes printable ASCII characters without
/// spaces (0x21..0x7E).
bool valid_tx_id(std::string_view id, std::size_t max_bytes = 128) noexcept;

/// Parses an ISO 8601 / RFC 3339 date-time into UTC microseconds: `YYYY-MM-DD`, `T` (or `t` or a
/// space), `HH:MM[:SS[.fraction]]`, then `Z`, an offset `+HH:MM` / `+HHMM` / `+HH`, or nothing
/// (read as UTC). Years 0001..9999; fraction digits beyond microseconds are truncated. Returns
/// nullopt for anything else, including out-of-range fields (2026-02-30, 24:00, second 60).
std::optional<actors::model::timestamp> parse_timestamp(std::string_view text) noexcept;

/// Appends `t` as ISO 8601 UTC: "2026-11-28T20:17:22Z", or with six fraction digits when the
/// microseconds are not zero ("2026-11-28T20:17:22.123400Z").
void append_timestamp(std::string& out, actors::model::timestamp t);

/// Returns `append_timestamp`'s text for `t`.
std::string format_timestamp(actors::model::timestamp t);

/// Reads an amount given as a JSON number or a numeric string; nullopt for any other value, a
/// non-finite or unparsable number, or one outside the decimal range.
std::optional<actors::model::decimal> decimal_from_json(const nlohmann::json& v) noexcept;

/// Appends `tx` as a TaggedTransaction JSON object with every field, in the order tx_id,
/// timestamp, chain, from_addr, to_addr, amount, symbol, direction, fee, memo, notes, tags,
/// is_internal, category, risk_score, risk_flags, risk_bucket. Amounts and fees are JSON numbers
/// with their exact decimal text; risk_score is a number with two decimals (0.45).
void append_json(std::string& out, const actors::model::transaction& tx);

/// Returns `append_json`'s text for `tx`.
std::string to_json(const actors::model::transaction& tx);

} // namespace klerno::http::api
