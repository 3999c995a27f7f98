#include "actors/remote/codec.hpp"

#include "actors/storage/messages.hpp"
#include "runtime/errc.hpp"

namespace klerno::actors::remote {

namespace v1 = cluster::v1;

void encode(const model::transaction& tx, v1::Transaction& out) {
  out.set_tx_id(tx.tx_id);
  out.set_time_us(tx.time.time_since_epoch().count());
  out.set_chain(tx.chain);
  out.set_from_addr(tx.from_addr);
  out.set_to_addr(tx.to_addr);
  out.set_amount(tx.amount.to_string());
  out.set_fee(tx.fee.to_string());
  out.set_symbol(tx.symbol);
  out.set_direction(tx.direction);
  out.set_memo(tx.memo);
  out.set_notes(tx.notes);
  for (const auto& t : tx.tags) {
    out.add_tags(t);
  }
  out.set_is_internal(tx.is_internal);
  out.set_category(tx.category);
  out.set_risk_score(tx.risk_score);
  for (const auto& f : tx.risk_flags) {
    out.add_risk_flags(f);
  }
  out.set_risk_bucket(tx.risk_bucket);
}

std::optional<model::transaction> decode(const v1::Transaction& in) {
  auto amount = model::decimal::parse(in.amount());
  auto fee = model::decimal::parse(in.fee().empty() ? std::string_view{"0"} : in.fee());
  if (!amount || !fee) {
    return std::nullopt;
  }
  model::transaction tx;
  tx.tx_id = in.tx_id();
  tx.time = model::timestamp{std::chrono::microseconds{in.time_us()}};
  tx.chain = in.chain();
  tx.from_addr = in.from_addr();
  tx.to_addr = in.to_addr();
  tx.amount = *amount;
  tx.fee = *fee;
  tx.symbol = in.symbol();
  tx.direction = in.direction();
  tx.memo = in.memo();
  tx.notes = in.notes();
  tx.tags.assign(in.tags().begin(), in.tags().end());
  tx.is_internal = in.is_internal();
  tx.category = in.category();
  tx.risk_score = in.risk_score();
  tx.risk_flags.assign(in.risk_flags().begin(), in.risk_flags().end());
  tx.risk_bucket = in.risk_bucket();
  return tx;
}

namespace {

const char* code_of(const caf::error& err) {
  using runtime::errc;
  if (runtime::is(err, errc::unavailable)) {
    return is_not_owner(err) ? "not_owner" : "unavailable";
  }
  if (runtime::is(err, errc::deadline_exceeded) || err == caf::sec::request_timeout) {
    return "deadline_exceeded";
  }
  if (runtime::is(err, errc::invalid_argument)) {
    return "invalid_argument";
  }
  if (runtime::is(err, errc::shutting_down)) {
    return "shutting_down";
  }
  return "internal";
}

} // namespace

void encode(const wallet::item_outcome& o, v1::StoreOutcome& out) {
  if (!o.error) {
    auto* stored = out.mutable_stored();
    stored->set_inserted(o.result.inserted);
    encode(o.result.row, *stored->mutable_row());
    return;
  }
  auto* f = out.mutable_failure();
  f->set_code(code_of(o.error));
  f->set_message(storage::error_text(o.error));
  if (auto after = storage::retry_after(o.error)) {
    f->set_retry_after_ms(after->count());
  }
}

wallet::item_outcome decode(const v1::StoreOutcome& in) {
  using runtime::errc;
  wallet::item_outcome o;
  if (in.has_stored()) {
    auto row = decode(in.stored().row());
    if (row) {
      o.result.inserted = in.stored().inserted();
      o.result.row = std::move(*row);
      return o;
    }
    o.error = runtime::make_error(errc::invalid_argument,
                                  caf::make_message(std::string{"malformed stored row"}));
    return o;
  }
  const auto& f = in.failure();
  auto msg = f.message();
  if (f.code() == "not_owner") {
    o.error = runtime::make_error(errc::unavailable,
                                  caf::make_message(std::string{"not_owner"}, int64_t{0}));
  } else if (f.code() == "unavailable") {
    o.error =
      runtime::make_error(errc::unavailable, caf::make_message(msg, int64_t{f.retry_after_ms()}));
  } else if (f.code() == "deadline_exceeded") {
    o.error = runtime::make_error(errc::deadline_exceeded, caf::make_message(msg));
  } else if (f.code() == "invalid_argument") {
    o.error = runtime::make_error(errc::invalid_argument, caf::make_message(msg));
  } else if (f.code() == "shutting_down") {
    o.error = runtime::make_error(errc::shutting_down, caf::make_message(msg));
  } else {
    o.error = caf::make_error(caf::sec::runtime_error, msg);
  }
  return o;
}

bool is_not_owner(const caf::error& err) {
  if (!runtime::is(err, runtime::errc::unavailable)) {
    return false;
  }
  const auto& ctx = err.context();
  return !ctx.empty() && ctx.match_element<std::string>(0)
         && ctx.get_as<std::string>(0) == "not_owner";
}

} // namespace klerno::actors::remote
