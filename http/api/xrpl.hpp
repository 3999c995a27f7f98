#pragma once

// Maps a raw XRPL transaction (rippled's JSON) to a model::transaction, for
// POST /integrations/xrpl/parse.
//
//   XRPL field                        transaction field
//   hash                              tx_id (required)
//   TransactionType                   must be "Payment" (required; others: unsupported_type)
//   Account                           from_addr (required)
//   Destination                       to_addr ("" when absent)
//   Amount (or API v2's DeliverMax)   amount and symbol (required):
//                                       "1000000" drops -> 1 XRP (symbol XRP, exact);
//                                       {currency, issuer, value} -> value, symbol = currency
//                                       (a 40-hex code is decoded to its ASCII text when
//                                       printable, else kept as upper-case hex)
//   Fee                               fee, drops -> XRP (0 when absent)
//   Memos[].Memo.MemoData             memo: hex-decoded UTF-8 texts joined with "\n"
//   date                              time: seconds since 2000-01-01T00:00:00Z (the ripple
//                                     epoch); `now` when absent (not yet validated)
//
// chain is "XRPL". The transaction may come bare or wrapped as {"tx": {...}} (account_tx's
// shape). Other fields (meta, validated, Sequence, ...) are ignored; the delivered amount of a
// partial payment (meta.delivered_amount) is not used: the amount is what the sender asked for.
//
// Direction: without `owner` it is "out" (the Account's point of view). With `owner`:
// Destination == owner -> "in"; Account == owner -> "out"; both -> "out" and is_internal; neither
// -> "out".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "actors/model/transaction.hpp"
#include "http/api/transaction_json.hpp"

namespace klerno::http::api {

/// Seconds from the Unix epoch to the ripple epoch (2000-01-01T00:00:00Z).
constexpr int64_t ripple_epoch_offset = 946684800;

/// Options of the XRPL mapping.
struct xrpl_options {
  std::string owner;   ///< the account that is "ours" (decides direction), "" for none
  input_limits limits; ///< bounds of the mapped fields (as for POST /transactions)
};

/// Why an XRPL transaction could not be mapped.
struct xrpl_error {
  enum class kind {
    invalid,          ///< malformed or missing field (HTTP 400)
    unsupported_type, ///< a well-formed transaction of a type we do not map (HTTP 422)
  };
  kind what = kind::invalid; ///< the class of the error
  std::string field;         ///< the XRPL field at fault ("" for the document)
  std::string message;       ///< human-readable; names the field
};

/// A mapped transaction or the reason it was refused.
using xrpl_result = std::variant<actors::model::transaction, xrpl_error>;

/// Returns the comma-separated TransactionTypes that `parse_xrpl` maps ("Payment").
std::string_view supported_xrpl_types() noexcept;

/// Maps rippled's JSON for one transaction; a missing `date` becomes `now`.
xrpl_result parse_xrpl(const nlohmann::json& tx, const xrpl_options& options,
                       actors::model::timestamp now);

/// Maps rippled's JSON for one transaction; a missing `date` becomes the current time.
xrpl_result parse_xrpl(const nlohmann::json& tx, const xrpl_options& options);

/// Returns the symbol for an XRPL currency code: a 3-character code as it is; 40 hex digits
/// decoded to their text (zero padding stripped) when printable ASCII, otherwise the code in
/// upper-case hex. nullopt for anything else.
std::optional<std::string> xrpl_currency_symbol(std::string_view code);

/// Decodes hex text (either case, even length) into bytes; nullopt when malformed.
std::optional<std::string> hex_decode(std::string_view hex);

} // namespace klerno::http::api
