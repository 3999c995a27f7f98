#include "actors/scoring/rules.hpp"

#include <algorithm>
#include <cstddef>

namespace klerno::actors::scoring {

namespace {

constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

constexpr bool is_alnum(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = ascii_lower(c);
  }
  return out;
}

// Compares ignoring ASCII case and whitespace around `s`.
bool equals_folded(std::string_view s, std::string_view word) noexcept {
  s = trim(s);
  word = trim(word);
  if (s.size() != word.size()) {
    return false;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (ascii_lower(s[i]) != ascii_lower(word[i])) {
      return false;
    }
  }
  return true;
}

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> words) noexcept {
  return std::any_of(words.begin(), words.end(),
                     [s](std::string_view w) { return equals_folded(s, w); });
}

// Appends the lower-cased words (maximal runs of ASCII letters and digits) of `text`.
void split_words(std::string_view text, std::vector<std::string>& out) {
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !is_alnum(text[i])) {
      ++i;
    }
    std::size_t begin = i;
    while (i < text.size() && is_alnum(text[i])) {
      ++i;
    }
    if (i > begin) {
      out.push_back(lower(text.substr(begin, i - begin)));
    }
  }
}

bool any_keyword(const std::vector<std::string>& words, const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    auto k = lower(key);
    if (!k.empty() && std::binary_search(words.begin(), words.end(), k)) {
      return true;
    }
  }
  return false;
}

void step(assessment& a, model::score_centi weight, const char* flag) {
  a.score += weight;
  if (flag != nullptr) {
    a.flags.emplace_back(flag);
  }
}

} // namespace

void merge(assessment& into, const assessment& more) {
  into.score += more.score;
  into.flags.insert(into.flags.end(), more.flags.begin(), more.flags.end());
}

bool is_outgoing(std::string_view direction) noexcept {
  return is_one_of(direction, {"out", "outgoing", "debit"});
}

bool is_incoming(std::string_view direction) noexcept {
  return is_one_of(direction, {"in", "incoming", "credit"});
}

assessment assess(const model::transaction& tx, const rules_config& config) {
  assessment a;
  a.score = weights::base;
  const auto magnitude = tx.amount.abs();

  if (is_outgoing(tx.direction)) {
    step(a, 0, "outgoing");
    if (magnitude.sign() > 0) {
      step(a, weights::outgoing_nonzero, nullptr);
    }
    if (magnitude > model::decimal::from_integer(100)) {
      step(a, weights::medium_outgoing, "medium_outgoing");
    }
    if (magnitude > model::decimal::from_integer(1000)) {
      step(a, weights::large_outgoing, "large_outgoing");
    }
    if (magnitude > model::decimal::from_integer(10000)) {
      step(a, weights::very_large_outgoing, "very_large_outgoing");
    }
  } else if (is_incoming(tx.direction)) {
    step(a, weights::incoming, "incoming");
  }

  if (tx.fee.sign() > 0) {
    step(a, weights::fee_present, "fee_present");
    if (tx.amount.sign() != 0) {
      if (model::exceeds_ratio(tx.fee, tx.amount, 1, 100)) {
        step(a, weights::high_fee_ratio, "high_fee_ratio");
      }
      if (model::exceeds_ratio(tx.fee, tx.amount, 5, 100)) {
        step(a, weights::very_high_fee_ratio, "very_high_fee_ratio");
      }
    }
  }

  const auto memo = lower(trim(tx.memo));
  if (!memo.empty()) {
    std::vector<std::string> found;
    for (const auto& word : config.suspicious_words) {
      auto w = lower(word);
      if (!w.empty() && memo.find(w) != std::string::npos
          && std::find(found.begin(), found.end(), w) == found.end()) {
        found.push_back(std::move(w));
      }
    }
    if (!found.empty()) {
      step(a, weights::suspicious_memo, "suspicious_memo");
      a.score += weights::per_suspicious_word * static_cast<model::score_centi>(found.size());
    }
  }

  bool risky_tag = std::any_of(tx.tags.begin(), tx.tags.end(), [&](const std::string& tag) {
    return std::any_of(
      config.risky_tags.begin(), config.risky_tags.end(),
      [&](const std::string& risky) { return !trim(risky).empty() && equals_folded(tag, risky); });
  });
  if (risky_tag) {
    step(a, weights::sanctioned_or_mixer, "sanctioned_or_mixer");
  }

  if (tx.is_internal) {
    step(a, weights::internal_transfer, "internal_transfer");
  }
  return a;
}

std::string categorize(const model::transaction& tx, const category_keywords& keywords) {
  std::vector<std::string> words;
  split_words(tx.memo, words);
  split_words(tx.notes, words);
  for (const auto& tag : tx.tags) {
    split_words(tag, words);
  }
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  if (any_keyword(words, keywords.fee)) {
    return "fee";
  }
  if (any_keyword(words, keywords.trade)) {
    return "trade";
  }
  if (any_keyword(words, keywords.income)) {
    return "income";
  }
  if (any_keyword(words, keywords.transfer)) {
    return "transfer";
  }
  return is_outgoing(tx.direction) ? "expense" : "unknown";
}

void apply(model::transaction& tx, const assessment& a) {
  tx.risk_score = model::clamp_score(a.score);
  tx.risk_flags = a.flags;
  tx.risk_bucket = model::bucket_for(tx.risk_score);
}

void score_static(model::transaction& tx, const rules_config& config) {
  tx.category = categorize(tx, config.categories);
  apply(tx, assess(tx, config));
}

} // namespace klerno::actors::scoring
