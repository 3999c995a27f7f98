#pragma once

// The domain model: a transaction as Klerno tags it. Field names follow the original Klerno API
// (TaggedTransaction), so existing clients keep working.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/model/decimal.hpp"

namespace klerno::actors::model {

/// Microsecond-precision UTC time, as stored in PostgreSQL's timestamptz.
using timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

/// A risk score in hundredths: 45 means 0.45. Always within [0, 100] once clamped.
using score_centi = int;

/// A transaction, its tags and its risk assessment.
struct transaction {
  std::string tx_id;             ///< unique id (for XRPL: the transaction hash)
  timestamp time;                ///< JSON `timestamp`, ISO 8601 UTC
  std::string chain = "XRPL";    ///< ledger name
  std::string from_addr;         ///< sending account (the wallet the stateful signals follow)
  std::string to_addr;           ///< receiving account
  decimal amount;                ///< exact decimal; may be negative (debits)
  std::string symbol = "XRP";    ///< currency code
  std::string direction;         ///< as given: out|outgoing|debit, in|incoming|credit, or other
  decimal fee;                   ///< exact decimal, >= 0
  std::string memo;              ///< free text (XRPL memos decoded)
  std::string notes;             ///< free text
  std::vector<std::string> tags; ///< labels such as "sanctioned", "mixer", "exchange"
  bool is_internal = false;      ///< a transfer between the owner's own accounts
  // Set by tagging and scoring:
  std::string category;                ///< income|expense|fee|trade|transfer|unknown
  score_centi risk_score = 0;          ///< 0..100 hundredths
  std::vector<std::string> risk_flags; ///< names of the rules that fired, in rule order
  std::string risk_bucket;             ///< low|medium|high
};

/// Returns "low" (< 0.33), "medium" (< 0.66) or "high".
const char* bucket_for(score_centi score) noexcept;

/// Returns `score` clamped to [0, 100] (0.00 .. 1.00).
constexpr score_centi clamp_score(score_centi score) noexcept {
  return score < 0 ? 0 : (score > 100 ? 100 : score);
}

/// Appends a score as a decimal with two places: 45 -> "0.45", 100 -> "1.00", 7 -> "0.07"
/// (negative scores, never stored, print with a leading '-').
void append_score(std::string& out, score_centi score);

/// Returns `append_score`'s text for `score`.
std::string format_score(score_centi score);

} // namespace klerno::actors::model
