#pragma once

// Klerno's static rule table: the risk score and the category of one transaction, computed from
// the transaction alone. Scores are integers in hundredths (45 means 0.45), so every step is
// exact and the boundaries (0.33, 0.66, amount 100, fee ratio 0.01) behave the same on every
// machine. Reproduces the original Klerno rules:
//
//   rule                                                  step    flag
//   base                                                  +0.10
//   direction out|outgoing|debit                                  outgoing
//     |amount| > 0                                        +0.10
//     |amount| > 100                                      +0.10   medium_outgoing
//     |amount| > 1000                                     +0.15   large_outgoing
//     |amount| > 10000                                    +0.15   very_large_outgoing
//   direction in|incoming|credit                          -0.05   incoming
//   fee > 0                                               +0.05   fee_present
//     amount != 0 and fee / |amount| > 0.01               +0.05   high_fee_ratio
//     amount != 0 and fee / |amount| > 0.05               +0.10   very_high_fee_ratio
//   memo contains a suspicious word (substring)           +0.20   suspicious_memo
//     and per distinct suspicious word found              +0.05
//   a tag is `sanctioned` or `mixer`                      +0.20   sanctioned_or_mixer
//   is_internal                                           -0.25   internal_transfer
//
// Directions and tags compare ignoring ASCII case and surrounding whitespace; thresholds are
// strict (an amount of exactly 100 is not medium). Steps are cumulative and flags are listed in
// the order of the table. The raw sum is clamped to [0, 1] only by `apply`, after the stateful
// signals (scoring/signals.hpp) have been added, so a negative static sum can still be lifted by
// a signal.

#include <string>
#include <string_view>
#include <vector>

#include "actors/model/transaction.hpp"

namespace klerno::actors::scoring {

/// Score steps of the static rules, in hundredths.
namespace weights {
constexpr model::score_centi base = 10;
constexpr model::score_centi outgoing_nonzero = 10;
constexpr model::score_centi medium_outgoing = 10;
constexpr model::score_centi large_outgoing = 15;
constexpr model::score_centi very_large_outgoing = 15;
constexpr model::score_centi incoming = -5;
constexpr model::score_centi fee_present = 5;
constexpr model::score_centi high_fee_ratio = 5;
constexpr model::score_centi very_high_fee_ratio = 10;
constexpr model::score_centi suspicious_memo = 20;
constexpr model::score_centi per_suspicious_word = 5;
constexpr model::score_centi sanctioned_or_mixer = 20;
constexpr model::score_centi internal_transfer = -25;
} // namespace weights

/// Keywords of the categories. Each keyword is one word (letters and digits); it matches a whole
/// word of the memo, the notes or a tag, ignoring ASCII case ("fee" matches "Network-FEE" but not
/// "feed"). A keyword with other characters can never match.
struct category_keywords {
  std::vector<std::string> income = {"salary", "airdrop", "reward", "interest", "yield"};
  std::vector<std::string> fee = {"fee", "gas", "network"};
  std::vector<std::string> trade = {"swap", "trade", "exchange"};
  std::vector<std::string> transfer = {"transfer", "send", "receive"};
};

/// Configuration of the static rules (the node fills it from its settings).
struct rules_config {
  /// Words searched as substrings of the lower-cased memo (compared lower-cased; empty entries
  /// are ignored, duplicates count once).
  std::vector<std::string> suspicious_words = {"scam",    "phish",    "hack",      "fraud",
                                               "ransom",  "malware",  "blackmail", "mixer",
                                               "tornado", "sanction", "darknet"};
  /// Tags that mark a sanctioned or mixing counterparty (compared ignoring case and whitespace).
  std::vector<std::string> risky_tags = {"sanctioned", "mixer"};
  /// Keywords of `categorize`.
  category_keywords categories;
};

/// A (partial) risk assessment: the unclamped sum of the rule steps and the flags that fired.
struct assessment {
  model::score_centi score = 0;   ///< hundredths, not clamped
  std::vector<std::string> flags; ///< rule names in rule order
};

/// Adds `more` to `into`: scores add, flags are appended after `into`'s (static rules first,
/// then signals).
void merge(assessment& into, const assessment& more);

/// Returns whether `direction` (ignoring case and surrounding whitespace) is out, outgoing or
/// debit.
bool is_outgoing(std::string_view direction) noexcept;

/// Returns whether `direction` (ignoring case and surrounding whitespace) is in, incoming or
/// credit.
bool is_incoming(std::string_view direction) noexcept;

/// Evaluates the static rule table on `tx` (its score fields are ignored).
assessment assess(const model::transaction& tx, const rules_config& config);

/// Returns the category of `tx`: the first of fee > trade > income > transfer whose keywords
/// match a word of the memo, the notes or the tags; otherwise `expense` for an outgoing
/// direction and `unknown` for anything else.
std::string categorize(const model::transaction& tx, const category_keywords& keywords);

/// Stores an assessment in `tx`: risk_score (clamped to [0, 100]), risk_flags and risk_bucket.
void apply(model::transaction& tx, const assessment& a);

/// Sets the category and the static assessment of `tx` (no stateful signals): the whole scoring
/// of POST /analyze/tx.
void score_static(model::transaction& tx, const rules_config& config);

} // namespace klerno::actors::scoring
