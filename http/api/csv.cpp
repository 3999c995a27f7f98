#include "http/api/csv.hpp"

#include <vector>

#include "http/api/transaction_json.hpp"

namespace klerno::http::api {

namespace {

// A plain number: optional sign, digits, optional fraction.
bool plain_number(std::string_view s) noexcept {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    ++i;
  }
  std::size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    ++i;
    ++digits;
  }
  if (digits == 0) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t frac = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ++frac;
    }
    if (frac == 0) {
      return false;
    }
  }
  return i == s.size();
}

bool formula_start(char c) noexcept {
  return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += '|';
    }
    out += items[i];
  }
  return out;
}

} // namespace

void append_csv_field(std::string& out, std::string_view field) {
  bool guard = !field.empty() && formula_start(field.front()) && !plain_number(field);
  bool quote = field.find_first_of(",\"\r\n") != std::string_view::npos;
  if (quote) {
    out += '"';
  }
  if (guard) {
    out += '\'';
  }
  for (char c : field) {
    if (c == '"') {
      out += '"';
    }
    out += c;
  }
  if (quote) {
    out += '"';
  }
}

void append_csv_header(std::string& out) {
  out += "tx_id,timestamp,chain,from_addr,to_addr,amount,symbol,direction,fee,memo,notes,tags,"
         "is_internal,category,risk_score,risk_bucket,risk_flags\r\n";
}

void append_csv_row(std::string& out, const actors::model::transaction& tx) {
  append_csv_field(out, tx.tx_id);
  out += ',';
  append_timestamp(out, tx.time); // digits, '-', ':', 'T', '.', 'Z': never needs quoting
  out += ',';
  append_csv_field(out, tx.chain);
  out += ',';
  append_csv_field(out, tx.from_addr);
  out += ',';
  append_csv_field(out, tx.to_addr);
  out += ',';
  tx.amount.append_to(out); // a plain number
  out += ',';
  append_csv_field(out, tx.symbol);
  out += ',';
  append_csv_field(out, tx.direction);
  out += ',';
  tx.fee.append_to(out);
  out += ',';
  append_csv_field(out, tx.memo);
  out += ',';
  append_csv_field(out, tx.notes);
  out += ',';
  append_csv_field(out, joined(tx.tags));
  out += ',';
  out += tx.is_internal ? "true" : "false";
  out += ',';
  append_csv_field(out, tx.category);
  out += ',';
  actors::model::append_score(out, tx.risk_score);
  out += ',';
  append_csv_field(out, tx.risk_bucket);
  out += ',';
  append_csv_field(out, joined(tx.risk_flags));
  out += "\r\n";
}

} // namespace klerno::http::api
