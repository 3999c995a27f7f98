#include "http/api/xrpl.hpp"

#include <array>
#include <chrono>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/api/query.hpp"
#include "runtime/text.hpp"

namespace klerno::http::api {

namespace {

using actors::model::decimal;
using actors::model::timestamp;
using actors::model::transaction;
using nlohmann::json;

constexpr decimal::units_type units_per_drop = 1000000000000; // 10^18 / 10^6

xrpl_error invalid(std::string field, std::string message) {
  return {xrpl_error::kind::invalid, std::move(field), std::move(message)};
}

// Returns a non-negative JSON integer (parsed text gives unsigned, built values may be signed).
std::optional<uint64_t> as_unsigned(const json& v) {
  if (v.is_number_unsigned()) {
    return v.get<uint64_t>();
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    return static_cast<uint64_t>(v.get<int64_t>());
  }
  return std::nullopt;
}

// Reads an XRP amount in drops: a string of 1..19 digits (or a non-negative JSON integer).
std::optional<decimal> drops(const json& v) {
  if (auto n = as_unsigned(v)) {
    return decimal::from_units(static_cast<decimal::units_type>(*n) * units_per_drop);
  }
  if (!v.is_string()) {
    return std::nullopt;
  }
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty() || s.size() > 19) {
    return std::nullopt;
  }
  decimal::units_type n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    n = n * 10 + (c - '0');
  }
  return decimal::from_units(n * units_per_drop);
}

const json* member(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::optional<xrpl_error> read_account(const json& v, const char* field, const input_limits& limits,
                                       std::string& out) {
  if (!v.is_string()) {
    return invalid(field, std::string(field) + " must be a string, not " + v.type_name());
  }
  const auto& s = v.get_ref<const std::string&>();
  if (!valid_utf8(s) || s.size() > limits.max_addr_bytes) {
    return invalid(field, std::string(field) + " must be valid UTF-8 of at most "
                            + std::to_string(limits.max_addr_bytes) + " bytes");
  }
  out = s;
  return std::nullopt;
}

std::optional<xrpl_error> read_amount(const json& v, const char* field, const input_limits& limits,
                                      transaction& tx) {
  if (v.is_object()) {
    const json* currency = member(v, "currency");
    const json* value = member(v, "value");
    if (currency == nullptr || !currency->is_string() || value == nullptr || !value->is_string()) {
      return invalid(field, std::string(field)
                              + " must be drops or an object with string currency and value");
    }
    auto symbol = xrpl_currency_symbol(currency->get_ref<const std::string&>());
    if (!symbol) {
      return invalid(field,
                     std::string(field) + ".currency must be a 3-character code or 40 hex digits");
    }
    auto d = decimal::parse(value->get_ref<const std::string&>());
    if (!d || d->abs() > limits.max_amount) {
      return invalid(field, std::string(field)
                              + ".value must be a decimal number of magnitude at most "
                              + limits.max_amount.to_string());
    }
    tx.amount = *d;
    tx.symbol = std::move(*symbol);
    return std::nullopt;
  }
  auto d = drops(v);
  if (!d || d->abs() > limits.max_amount) {
    return invalid(field, std::string(field)
                            + " must be a string of XRP drops or an issued-currency object");
  }
  tx.amount = *d;
  tx.symbol = "XRP";
  return std::nullopt;
}

std::optional<xrpl_error> read_memos(const json& v, const input_limits& limits, std::string& out) {
  if (!v.is_array()) {
    return invalid("Memos", std::string("Memos must be an array, not ") + v.type_name());
  }
  std::string memo;
  bool first = true;
  std::size_t i = 0;
  for (const auto& item : v) {
    auto where = "Memos[" + std::to_string(i++) + "]";
    const json* m = item.is_object() ? member(item, "Memo") : nullptr;
    if (m == nullptr || !m->is_object()) {
      return invalid("Memos", where + " must be an object with a Memo object");
    }
    const json* data = member(*m, "MemoData");
    if (data == nullptr) {
      continue; // a memo with only a type or format carries no text
    }
    if (!data->is_string()) {
      return invalid("Memos", where + ".Memo.MemoData must be a hex string");
    }
    auto text = hex_decode(data->get_ref<const std::string&>());
    if (!text) {
      return invalid("Memos", where + ".Memo.MemoData is not valid hex");
    }
    if (!valid_utf8(*text)) {
      return invalid("Memos", where + ".Memo.MemoData is not UTF-8 text");
    }
    if (!first) {
      memo += '\n';
    }
    memo += *text;
    first = false;
    if (memo.size() > limits.max_memo_bytes) {
      return invalid("Memos", "Memos decode to more than " + std::to_string(limits.max_memo_bytes)
                                + " bytes");
    }
  }
  out = std::move(memo);
  return std::nullopt;
}

} // namespace

std::string_view supported_xrpl_types() noexcept {
  return "Payment";
}

std::optional<std::string> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = runtime::hex_digit_value(hex[i]);
    int lo = runtime::hex_digit_value(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::optional<std::string> xrpl_currency_symbol(std::string_view code) {
  auto printable = [](char c) {
    return c >= 0x20 && c <= 0x7E;
  };
  if (code.size() == 3) {
    for (char c : code) {
      if (!printable(c)) {
        return std::nullopt;
      }
    }
    return std::string(code);
  }
  if (code.size() != 40) {
    return std::nullopt;
  }
  auto bytes = hex_decode(code);
  if (!bytes) {
    return std::nullopt;
  }
  // The standard form has the ASCII code at bytes 12..14 between zeros; a non-standard code is
  // text padded with trailing zeros. Strip the zeros and keep the text when all of it prints.
  std::string_view text(*bytes);
  while (!text.empty() && text.front() == '\0') {
    text.remove_prefix(1);
  }
  while (!text.empty() && text.back() == '\0') {
    text.remove_suffix(1);
  }
  bool ok = !text.empty();
  for (char c : text) {
    ok = ok && printable(c);
  }
  if (ok) {
    return std::string(text);
  }
  std::string upper(code);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'f') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return upper;
}

xrpl_result parse_xrpl(const json& tx, const xrpl_options& options) {
  auto now =
    std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  return parse_xrpl(tx, options, now);
}

xrpl_result parse_xrpl(const json& doc, const xrpl_options& options, timestamp now) {
  if (!doc.is_object()) {
    return invalid("", std::string("an XRPL transaction must be a JSON object, not ")
                         + doc.type_name());
  }
  const json* src = &doc;
  if (member(doc, "TransactionType") == nullptr) {
    if (const json* inner = member(doc, "tx"); inner != nullptr && inner->is_object()) {
      src = inner;
    }
  }
  const json& j = *src;

  const json* type = member(j, "TransactionType");
  if (type != nullptr) {
    if (!type->is_string()) {
      return invalid("TransactionType",
                     std::string("TransactionType must be a string, not ") + type->type_name());
    }
    const auto& name = type->get_ref<const std::string&>();
    if (name != "Payment") {
      std::string shown = valid_utf8(name) && name.size() <= 64 ? name : "(unprintable)";
      return xrpl_error{xrpl_error::kind::unsupported_type, "TransactionType",
                        "TransactionType \"" + shown + "\" is not supported; supported: "
                          + std::string(supported_xrpl_types())};
    }
  }
  const json* account = member(j, "Account");
  const json* amount = member(j, "Amount");
  const char* amount_field = "Amount";
  if (amount == nullptr) {
    amount = member(j, "DeliverMax");
    amount_field = "DeliverMax";
  }
  const json* hash = member(j, "hash");
  std::vector<const char*> missing;
  if (type == nullptr) {
    missing.push_back("TransactionType");
  }
  if (account == nullptr) {
    missing.push_back("Account");
  }
  if (amount == nullptr) {
    missing.push_back("Amount");
  }
  if (hash == nullptr) {
    missing.push_back("hash");
  }
  if (!missing.empty()) {
    std::string list;
    for (auto* m : missing) {
      list += list.empty() ? "" : ", ";
      list += m;
    }
    return invalid(missing.front(),
                   (missing.size() == 1 ? "missing required field: " : "missing required fields: ")
                     + list);
  }

  const auto& limits = options.limits;
  transaction t;
  t.chain = "XRPL";
  t.time = now;
  if (!hash->is_string()
      || !valid_tx_id(hash->get_ref<const std::string&>(), limits.max_id_bytes)) {
    return invalid("hash", "hash must be a string of 1 to " + std::to_string(limits.max_id_bytes)
                             + " printable ASCII characters");
  }
  t.tx_id = hash->get_ref<const std::string&>();
  if (auto e = read_account(*account, "Account", limits, t.from_addr)) {
    return std::move(*e);
  }
  if (const json* dest = member(j, "Destination")) {
    if (auto e = read_account(*dest, "Destination", limits, t.to_addr)) {
      return std::move(*e);
    }
  }
  if (auto e = read_amount(*amount, amount_field, limits, t)) {
    return std::move(*e);
  }
  if (const json* fee = member(j, "Fee")) {
    auto d = drops(*fee);
    if (!d || *d > limits.max_amount) {
      return invalid("Fee", "Fee must be a string of XRP drops");
    }
    t.fee = *d;
  }
  if (const json* memos = member(j, "Memos")) {
    if (auto e = read_memos(*memos, limits, t.memo)) {
      return std::move(*e);
    }
  }
  if (const json* date = member(j, "date")) {
    // At most ~2^40 seconds: far beyond any ledger, and no overflow in microseconds.
    auto n = as_unsigned(*date);
    if (!n || *n > (uint64_t{1} << 40)) {
      return invalid("date",
                     "date must be a non-negative integer of seconds since the ripple epoch");
    }
    auto secs = static_cast<int64_t>(*n) + ripple_epoch_offset;
    t.time = timestamp(std::chrono::seconds(secs));
  }

  t.direction = "out";
  if (!options.owner.empty()) {
    bool from_owner = t.from_addr == options.owner;
    bool to_owner = t.to_addr == options.owner;
    if (to_owner && !from_owner) {
      t.direction = "in";
    }
    t.is_internal = from_owner && to_owner;
  }
  return t;
}

} // namespace klerno::http::api
