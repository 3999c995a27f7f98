#include "http/api/routes.hpp"

#include <charconv>
#include <cmath>
#include <map>

#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/sec.hpp>
#include <fmt/format.h>

#include "actors/model/transaction.hpp"
#include "actors/storage/messages.hpp"
#include "actors/storage/storage.hpp"
#include "actors/wallet/region.hpp"
#include "http/api/body.hpp"
#include "http/api/csv.hpp"
#include "http/api/cursor_codec.hpp"
#include "http/api/gateway.hpp"
#include "http/api/query.hpp"
#include "http/api/xrpl.hpp"
#include "http/bridge.hpp"
#include "runtime/errc.hpp"
#include "runtime/logging.hpp"
#include "runtime/text.hpp"

namespace klerno::http::api {

namespace {

using actors::model::transaction;

// Authenticated routes by rate-limit class (RATE_LIMIT_<CLASS>_*).
const route_options read_route{access::api_key, std::nullopt, "read"};
const route_options write_route{access::api_key, std::nullopt, "write"};
const route_options analyze_route{access::api_key, std::nullopt, "analyze"};

/// Scores `tx` with the rule table and counts it.
void score(const api_context& ctx, transaction& tx) {
  actors::scoring::score_static(tx, ctx.rules);
  if (ctx.scored != nullptr) {
    ctx.scored->with({tx.risk_bucket}).inc();
  }
}

/// Appends a hundredths value as a JSON number with two decimals ("0.45").
void append_centi(std::string& out, long long centi) {
  if (centi < 0) {
    out += '-';
    centi = -centi;
  }
  fmt::format_to(std::back_inserter(out), "{}.{:02}", centi / 100, centi % 100);
}

/// Tallies the items of a batch for its summary.
struct batch_tally {
  std::size_t count = 0;
  std::size_t ok = 0;
  std::size_t failed = 0;
  std::size_t alerts = 0;
  long long score_sum = 0;
  std::map<std::string, std::size_t> buckets{{"low", 0}, {"medium", 0}, {"high", 0}};
  std::map<std::string, std::size_t> categories;

  void add(const transaction& tx, int threshold) {
    ++ok;
    score_sum += tx.risk_score;
    ++buckets[tx.risk_bucket];
    ++categories[tx.category];
    if (tx.risk_score >= threshold) {
      ++alerts;
    }
  }

  void append_json(std::string& out, std::string_view ok_name) const {
    fmt::format_to(std::back_inserter(out), "{{\"count\":{},\"{}\":{},\"failed\":{},\"alerts\":{}",
                   count, ok_name, ok, failed, alerts);
    out += ",\"avg_risk\":";
    // Rounded to hundredths, half away from zero.
    append_centi(out, ok == 0 ? 0 : (score_sum * 2 + static_cast<long long>(ok)) / (2 * ok));
    out += ",\"buckets\":{";
    bool first = true;
    for (const auto& [name, n] : buckets) {
      out += first ? "" : ",";
      first = false;
      runtime::append_json_string(out, name);
      fmt::format_to(std::back_inserter(out), ":{}", n);
    }
    out += "},\"categories\":{";
    first = true;
    for (const auto& [name, n] : categories) {
      out += first ? "" : ",";
      first = false;
      runtime::append_json_string(out, name);
      fmt::format_to(std::back_inserter(out), ":{}", n);
    }
    out += "}}";
  }
};

/// Appends one failed batch item: {"index":i,"status":422,"error":{...}}.
void append_item_error(std::string& out, std::size_t index, unsigned status, std::string_view code,
                       const field_error& e) {
  fmt::format_to(std::back_inserter(out),
                 "{{\"index\":{},\"status\":{},\"error\":{{\"code\":", index, status);
  runtime::append_json_string(out, code);
  out += ",\"field\":";
  runtime::append_json_string(out, e.field);
  out += ",\"message\":";
  runtime::append_json_string(out, e.message);
  out += "}}";
}

// -- POST /analyze/tx, POST /analyze/batch ----------------------------------------------------

void analyze_tx(const api_context& ctx, request_context& rc, const responder& done) {
  auto doc = parse_json_body(rc.req.body(), done);
  if (!doc) {
    return;
  }
  auto parsed = parse_transaction(*doc, ctx.limits);
  if (auto* e = std::get_if<field_error>(&parsed)) {
    reply_field_error(done, *e);
    return;
  }
  auto& tx = std::get<transaction>(parsed);
  score(ctx, tx);
  done(make_json(status::ok, to_json(tx)));
}

void analyze_batch(const api_context& ctx, request_context& rc, const responder& done) {
  auto batch =
    parse_batch_body(rc.req.body(), is_ndjson(rc.req), ctx.settings.batch_max_items, done);
  if (!batch) {
    return;
  }
  batch_tally tally;
  std::string items = "[";
  for (std::size_t i = 0; i < batch->items.size(); ++i) {
    ++tally.count;
    items += i == 0 ? "" : ",";
    if (!batch->items[i]) {
      ++tally.failed;
      append_item_error(items, i, 400, "bad_request", {"", batch->errors[i]});
      continue;
    }
    auto parsed = parse_transaction(*batch->items[i], ctx.limits);
    if (auto* e = std::get_if<field_error>(&parsed)) {
      ++tally.failed;
      append_item_error(items, i, 422, "unprocessable_entity", *e);
      continue;
    }
    auto& tx = std::get<transaction>(parsed);
    score(ctx, tx);
    tally.add(tx, ctx.settings.risk_threshold);
    fmt::format_to(std::back_inserter(items), "{{\"index\":{},\"status\":200,\"transaction\":", i);
    append_json(items, tx);
    items += '}';
  }
  items += ']';
  std::string body = "{\"summary\":";
  tally.append_json(body, "scored");
  body += ",\"items\":";
  body += items;
  body += '}';
  done(make_json(status::ok, std::move(body)));
}

// -- POST /integrations/xrpl/parse ------------------------------------------------------------

void xrpl_parse(const api_context& ctx, request_context& rc, const responder& done) {
  auto doc = parse_json_body(rc.req.body(), done);
  if (!doc) {
    return;
  }
  xrpl_options options;
  options.limits = ctx.limits;
  options.owner = query_param(rc.query, "owner").value_or("");
  auto parsed = parse_xrpl(*doc, options);
  if (auto* e = std::get_if<xrpl_error>(&parsed)) {
    std::string details = field_error_details({e->field, e->message});
    if (e->what == xrpl_error::kind::unsupported_type) {
      details.pop_back();
      details += ",\"supported\":";
      runtime::append_json_string(details, supported_xrpl_types());
      details += '}';
      done(make_error(status::unprocessable_entity, e->message, done.request_id(), details,
                      "unsupported_transaction_type"));
      return;
    }
    done.error(status::unprocessable_entity, e->message, details);
    return;
  }
  auto& tx = std::get<transaction>(parsed);
  score(ctx, tx);
  done(make_json(status::ok, to_json(tx)));
}

// -- storage helpers --------------------------------------------------------------------------

/// Answers a failed storage request: 503 + Retry-After when the database is unavailable (or the
/// circuit is open), 504 when it was too slow, 422 for data it refused, 500 otherwise.
void reply_storage_error(const responder& done, const caf::error& err) {
  auto reason = actors::storage::error_text(err);
  std::string details = "{\"reason\":";
  runtime::append_json_string(details, reason);
  details += '}';
  if (runtime::is(err, runtime::errc::unavailable)
      || runtime::is(err, runtime::errc::shutting_down)) {
    auto after = actors::storage::retry_after(err).value_or(std::chrono::seconds{1});
    auto seconds = std::max<long long>(
      1, static_cast<long long>(std::ceil(static_cast<double>(after.count()) / 1000.0)));
    auto res = make_error(status::service_unavailable, "the database is unavailable; retry later",
                          done.request_id(), details);
    res.set(bhttp::field::retry_after, std::to_string(seconds));
    done(std::move(res));
    return;
  }
  if (runtime::is(err, runtime::errc::deadline_exceeded) || err == caf::sec::request_timeout) {
    done.error(status::gateway_timeout, "the database did not answer in time", details);
    return;
  }
  if (runtime::is(err, runtime::errc::invalid_argument)) {
    done.error(status::unprocessable_entity, "the database refused the data", details);
    return;
  }
  // The cause goes to the log (joined by request id), not to the client.
  runtime::logging::get("http")->error("storage request failed: {} (request_id={})", reason,
                                       done.request_id());
  done.error(status::internal_server_error, "internal error");
}

/// Answers 503 when the node runs without a database.
bool require_storage(const api_context& ctx, const responder& done) {
  if (ctx.storage_enabled) {
    return true;
  }
  done.error(status::service_unavailable, "this node has no database (DATABASE_URL is not set)",
             "{\"dependency\":\"database\"}");
  return false;
}

template <class Handle>
Handle lookup(request_context& rc, caf::atom_value name) {
  return caf::actor_cast<Handle>(rc.bridge.system().registry().get(name));
}

/// Answers 503 when a storage actor is not running (restarting).
template <class Handle>
bool require_actor(const Handle& h, const responder& done) {
  if (h) {
    return true;
  }
  done(make_error(status::service_unavailable, "the storage is restarting; retry later",
                  done.request_id(), "{\"dependency\":\"database\"}"));
  return false;
}

/// Reads an optional integer query parameter in [min, max]; answers 400 and returns false when
/// it is present but invalid.
bool int_param(std::string_view query, std::string_view name, long long min, long long max,
               long long& value, const responder& done) {
  auto raw = query_param(query, name);
  if (!raw) {
    return true;
  }
  long long v = 0;
  auto [ptr, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
  if (ec != std::errc{} || ptr != raw->data() + raw->size() || v < min || v > max) {
    done.error(status::bad_request,
               fmt::format("query parameter {} must be an integer in {}..{}", name, min, max),
               fmt::format("{{\"parameter\":\"{}\"}}", name));
    return false;
  }
  value = v;
  return true;
}

/// Reads an optional score query parameter (a number in [0, 1]) as hundredths, rounding half up.
bool score_param(std::string_view query, std::string_view name, int& centi, const responder& done) {
  auto raw = query_param(query, name);
  if (!raw) {
    return true;
  }
  auto d = actors::model::decimal::parse(*raw);
  auto one = actors::model::decimal::from_integer(1);
  if (!d || d->sign() < 0 || *d > one) {
    done.error(status::bad_request,
               fmt::format("query parameter {} must be a number in [0, 1]", name),
               fmt::format("{{\"parameter\":\"{}\"}}", name));
    return false;
  }
  // hundredths = round(d * 100), computed on the units: 10^16 units per hundredth.
  constexpr actors::model::decimal::units_type per_centi = 10'000'000'000'000'000;
  centi = static_cast<int>((d->units() + per_centi / 2) / per_centi);
  return true;
}

/// Reads an optional time query parameter: an ISO 8601 date-time or a date (midnight UTC).
bool time_param(std::string_view query, std::string_view name,
                std::optional<actors::model::timestamp>& value, const responder& done) {
  auto raw = query_param(query, name);
  if (!raw) {
    return true;
  }
  auto text = *raw;
  if (text.size() == 10) {
    text += "T00:00:00Z";
  }
  auto t = parse_timestamp(text);
  if (!t) {
    done.error(status::bad_request,
               fmt::format("query parameter {} must be an ISO 8601 date or date-time", name),
               fmt::format("{{\"parameter\":\"{}\"}}", name));
    return false;
  }
  value = *t;
  return true;
}

void append_items(std::string& out, const std::vector<transaction>& items) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += i == 0 ? "" : ",";
    append_json(out, items[i]);
  }
  out += ']';
}

/// Where a read that may lag goes: the reads router (replicas), or the primary when the answer
/// fills a cache entry (it must contain every write acknowledged before).
caf::atom_value read_source(const request_context& rc) {
  return rc.fresh_reads ? actors::storage::primary_name : actors::storage::reads_name;
}

// -- POST /transactions, POST /transactions/batch ----------------------------------------------

void store_tx(const api_context& ctx, request_context& rc, const responder& done) {
  if (!require_storage(ctx, done)) {
    return;
  }
  auto doc = parse_json_body(rc.req.body(), done);
  if (!doc) {
    return;
  }
  auto parsed = parse_transaction(*doc, ctx.limits);
  if (auto* e = std::get_if<field_error>(&parsed)) {
    reply_field_error(done, *e);
    return;
  }
  std::vector<transaction> txs;
  txs.push_back(std::move(std::get<transaction>(parsed)));
  store_on_owners(
    rc.bridge, ctx.gateway, std::move(txs), ctx.request_timeout,
    [done, edge = ctx.edge, worker = rc.worker](store_outcomes out, std::string owner) {
      auto& o = out.front();
      if (o.error) {
        reply_storage_error(done, o.error);
        return;
      }
      const auto& s = o.result;
      auto res = make_json(s.inserted ? status::created : status::ok, to_json(s.row));
      std::string location = "/transactions/";
      location += percent_encode(s.row.tx_id);
      res.set(bhttp::field::location, location);
      if (!owner.empty()) {
        res.set("X-Klerno-Owner", owner);
      }
      if (!edge) {
        done(std::move(res));
        return;
      }
      // Caches that may hold an answer without this row are invalidated before the client
      // hears of it (a repeat too: its first attempt's answer may have been lost).
      std::vector<const transaction*> row{&s.row};
      edge->after_store(worker, s.inserted ? row : std::vector<const transaction*>{},
                        s.inserted ? std::vector<const transaction*>{} : row,
                        [done, res = std::move(res)]() mutable { done(std::move(res)); });
    });
}

void store_batch(const api_context& ctx, request_context& rc, const responder& done) {
  if (!require_storage(ctx, done)) {
    return;
  }
  auto batch =
    parse_batch_body(rc.req.body(), is_ndjson(rc.req), ctx.settings.batch_max_items, done);
  if (!batch) {
    return;
  }
  // Refused items are answered here; the valid ones go to their owners, one request per owner
  // (the region there groups them by wallet: one message and one group commit per wallet).
  auto n = batch->items.size();
  auto items = std::make_shared<std::vector<std::string>>(n);
  auto tally = std::make_shared<batch_tally>();
  tally->count = n;
  actors::wallet::store_many_request req;
  auto positions = std::make_shared<std::vector<std::size_t>>();
  for (std::size_t i = 0; i < n; ++i) {
    if (!batch->items[i]) {
      ++tally->failed;
      append_item_error((*items)[i], i, 400, "bad_request", {"", batch->errors[i]});
      continue;
    }
    auto parsed = parse_transaction(*batch->items[i], ctx.limits);
    if (auto* e = std::get_if<field_error>(&parsed)) {
      ++tally->failed;
      append_item_error((*items)[i], i, 422, "unprocessable_entity", *e);
      continue;
    }
    req.txs.push_back(std::move(std::get<transaction>(parsed)));
    positions->push_back(i);
  }
  auto threshold = ctx.settings.risk_threshold;
  auto finish = [done, items, tally](std::size_t stored, std::size_t duplicates) {
    std::string body = "{\"summary\":";
    tally->append_json(body, "succeeded");
    body.pop_back();
    fmt::format_to(std::back_inserter(body), ",\"stored\":{},\"duplicates\":{}}}", stored,
                   duplicates);
    body += ",\"items\":[";
    for (std::size_t i = 0; i < items->size(); ++i) {
      body += i == 0 ? "" : ",";
      body += (*items)[i];
    }
    body += "]}";
    done(make_json(status::ok, std::move(body)));
  };
  if (req.txs.empty()) {
    finish(0, 0);
    return;
  }
  store_on_owners(
    rc.bridge, ctx.gateway, std::move(req.txs), ctx.request_timeout,
    [items, tally, positions, threshold, finish, edge = ctx.edge,
     worker = rc.worker](store_outcomes reply, std::string) {
      std::size_t stored = 0;
      std::size_t duplicates = 0;
      std::vector<const transaction*> inserted;
      std::vector<const transaction*> repeated;
      for (std::size_t k = 0; k < positions->size() && k < reply.size(); ++k) {
        auto i = (*positions)[k];
        auto& o = reply[k];
        auto& out = (*items)[i];
        if (o.error) {
          ++tally->failed;
          bool unavailable = runtime::is(o.error, runtime::errc::unavailable)
                             || runtime::is(o.error, runtime::errc::shutting_down);
          bool slow = runtime::is(o.error, runtime::errc::deadline_exceeded)
                      || o.error == caf::sec::request_timeout;
          append_item_error(out, i, unavailable ? 503 : (slow ? 504 : 500),
                            unavailable ? "service_unavailable"
                                        : (slow ? "gateway_timeout" : "internal_error"),
                            {"", actors::storage::error_text(o.error)});
          continue;
        }
        const auto& s = o.result;
        ++(s.inserted ? stored : duplicates);
        (s.inserted ? inserted : repeated).push_back(&s.row);
        tally->add(s.row, threshold);
        fmt::format_to(std::back_inserter(out), "{{\"index\":{},\"status\":{},\"transaction\":", i,
                       s.inserted ? 201 : 200);
        append_json(out, s.row);
        out += '}';
      }
      if ((inserted.empty() && repeated.empty()) || !edge) {
        finish(stored, duplicates);
        return;
      }
      edge->after_store(worker, inserted, repeated,
                        [finish, stored, duplicates] { finish(stored, duplicates); });
    });
}

// -- GET /transactions/{tx_id}, GET /transactions ----------------------------------------------

void get_tx(const api_context& ctx, request_context& rc, const responder& done) {
  if (!require_storage(ctx, done)) {
    return;
  }
  auto id = percent_decode(rc.param("tx_id"));
  if (!valid_tx_id(id, ctx.limits.max_id_bytes)) {
    done.error(status::bad_request, "tx_id must be 1..128 printable characters without spaces",
               "{\"parameter\":\"tx_id\"}");
    return;
  }
  auto reads = lookup<actors::storage::reads_actor>(rc, actors::storage::reads_name);
  if (!require_actor(reads, done)) {
    return;
  }
  rc.bridge.self()
    ->request(reads, ctx.request_timeout, actors::storage::get_atom::value, id)
    .then(
      [done, id](const actors::storage::maybe_tx& tx) {
        if (!tx) {
          std::string details = "{\"tx_id\":";
          runtime::append_json_string(details, id);
          details += '}';
          done.error(status::not_found, "no stored transaction has this tx_id", details);
          return;
        }
        done(make_json(status::ok, to_json(*tx)));
      },
      [done](caf::error& err) { reply_storage_error(done, err); });
}

void list_txs(const api_context& ctx, request_context& rc, const responder& done) {
  if (!require_storage(ctx, done)) {
    return;
  }
  auto wallet = query_param(rc.query, "wallet");
  if (!wallet || wallet->empty() || wallet->size() > ctx.limits.max_addr_bytes
      || !valid_utf8(*wallet)) {
    done.error(status::bad_request, "query parameter wallet is required (an account address)",
               "{\"parameter\":\"wallet\"}");
    return;
  }
  auto limit = static_cast<long long>(ctx.settings.page_limit_default);
  if (!int_param(rc.query, "limit", 1, static_cast<long long>(ctx.settings.page_limit_max), limit,
                 done)) {
    return;
  }
  actors::storage::list_query q;
  q.wallet = *wallet;
  q.limit = static_cast<std::size_t>(limit);
  if (auto c = query_param(rc.query, "cursor"); c && !c->empty()) {
    auto decoded = decode_cursor(*c);
    if (!decoded) {
      done.error(status::bad_request, "query parameter cursor is not a cursor from this API",
                 "{\"parameter\":\"cursor\"}");
      return;
    }
    q.after = std::move(*decoded);
  }
  auto reads = lookup<actors::storage::reads_actor>(rc, read_source(rc));
  if (!require_actor(reads, done)) {
    return;
  }
  rc.bridge.self()
    ->request(reads, ctx.request_timeout, actors::storage::list_atom::value, q)
    .then(
      [done](const actors::storage::page& p) {
        std::string body = "{\"items\":";
        append_items(body, p.items);
        body += ",\"next_cursor\":";
        if (p.next) {
          runtime::append_json_string(body, encode_cursor(*p.next));
        } else {
          body += "null";
        }
        body += '}';
        done(make_json(status::ok, std::move(body)));
      },
      [done](caf::error& err) { reply_storage_error(done, err); });
}

// -- GET /alerts, GET /analytics/summary --------------------------------------------------------

void list_alerts(const api_context& ctx, request_context& rc, const responder& done) {
  if (!require_storage(ctx, done)) {
    return;
  }
  auto limit = static_cast<long long>(ctx.settings.page_limit_default);
  int min_score = ctx.settings.risk_threshold;
  if (!int_param(rc.query, "limit", 1, static_cast<long long>(ctx.settings.page_limit_max), limit,
                 done)
      || !score_param(rc.query, "min_score", min_score, done)) {
    return;
  }
  auto reads = lookup<actors::storage::reads_actor>(rc, read_source(rc));
  if (!require_actor(reads, done)) {
    return;
  }
  actors::storage::alerts_query q;
  q.min_score = min_score;
  q.limit = static_cast<std::size_t>(limit);
  rc.bridge.self()
    ->request(reads, ctx.request_timeout, actors::storage::alerts_atom::value, q)
    .then(
      [done, min_score](const actors::storage::tx_list& items) {
        std::string body = "{\"min_score\":";
        append_centi(body, min_score);
        fmt::format_to(std::back_inserter(body), ",\"count\":{},\"items\":", items.size());
        append_items(body, items);
        body += '}';
        done(make_json(status::ok, std::move(body)));
      },
      [done](caf::error& err) { reply_storage_error(done, err); });
}

void summary(const api_context& ctx, request_context& rc, const responder& done) {
  if (!require_storage(ctx, done)) {
    return;
  }
  long long days = 30;
  int threshold = ctx.settings.risk_threshold;
  if (!int_param(rc.query, "days", 1, ctx.settings.analytics_max_days, days, done)
      || !score_param(rc.query, "threshold", threshold, done)) {
    return;
  }
  auto reads = lookup<actors::storage::reads_actor>(rc, read_source(rc));
  if (!require_actor(reads, done)) {
    return;
  }
  actors::storage::summary_query q;
  q.threshold = threshold;
  q.days = static_cast<int>(days);
  rc.bridge.self()
    ->request(reads, ctx.request_timeout, actors::storage::summary_atom::value, q)
    .then(
      [done, threshold, days](const actors::storage::summary& s) {
        auto risk = [](double r) {
          return std::round(r * 10000.0) / 10000.0;
        };
        std::string body;
        fmt::format_to(std::back_inserter(body), "{{\"days\":{},\"threshold\":", days);
        append_centi(body, threshold);
        fmt::format_to(std::back_inserter(body), ",\"total\":{},\"alerts\":{},\"avg_risk\":{}",
                       s.total, s.alerts, risk(s.avg_risk));
        body += ",\"categories\":{";
        bool first = true;
        for (const auto& [name, n] : s.categories) {
          body += first ? "" : ",";
          first = false;
          runtime::append_json_string(body, name);
          fmt::format_to(std::back_inserter(body), ":{}", n);
        }
        body += "},\"series_by_day\":[";
        for (std::size_t i = 0; i < s.series_by_day.size(); ++i) {
          const auto& d = s.series_by_day[i];
          fmt::format_to(std::back_inserter(body),
                         "{}{{\"date\":\"{}\",\"count\":{},\"avg_risk\":{}}}", i == 0 ? "" : ",",
                         d.date, d.count, risk(d.avg_risk));
        }
        body += "],\"series_by_day_lmh\":[";
        for (std::size_t i = 0; i < s.series_by_day_lmh.size(); ++i) {
          const auto& d = s.series_by_day_lmh[i];
          fmt::format_to(std::back_inserter(body),
                         "{}{{\"date\":\"{}\",\"low\":{},\"medium\":{},\"high\":{}}}",
                         i == 0 ? "" : ",", d.date, d.low, d.medium, d.high);
        }
        body += "]}";
        done(make_json(status::ok, std::move(body)));
      },
      [done](caf::error& err) { reply_storage_error(done, err); });
}

// -- GET /export/csv ----------------------------------------------------------------------------

/// Pages through the export on the io thread that serves the response: one database round trip
/// per piece, so memory stays bounded by EXPORT_CHUNK_ROWS rows whatever the export's size.
class csv_source final : public body_source {
public:
  csv_source(actor_bridge& bridge, actors::storage::reads_actor reads,
             actors::storage::export_query q, std::chrono::milliseconds timeout,
             actors::storage::tx_list first)
      : bridge_(bridge),
        reads_(std::move(reads)),
        q_(std::move(q)),
        timeout_(timeout),
        first_(std::move(first)) {}

  void next(std::function<void(body_piece)> emit) override {
    if (first_) {
      auto rows = std::move(*first_);
      first_.reset();
      std::string text;
      append_csv_header(text);
      emit(render(rows, std::move(text)));
      return;
    }
    bridge_.self()
      ->request(reads_, timeout_, actors::storage::export_atom::value, q_)
      .then([this, emit](actors::storage::tx_list& rows) { emit(render(rows, {})); },
            [emit](caf::error& err) {
              runtime::logging::get("http")->warn("CSV export page failed: {}",
                                                  actors::storage::error_text(err));
              body_piece p;
              p.failed = true;
              emit(std::move(p));
            });
  }

private:
  body_piece render(const actors::storage::tx_list& rows, std::string text) {
    for (const auto& tx : rows) {
      append_csv_row(text, tx);
    }
    body_piece p;
    p.last = rows.size() < q_.limit;
    if (!rows.empty()) {
      q_.after = actors::model::cursor{rows.back().time, rows.back().tx_id};
    }
    p.data = std::move(text);
    return p;
  }

  actor_bridge& bridge_;
  actors::storage::reads_actor reads_;
  actors::storage::export_query q_;
  std::chrono::milliseconds timeout_;
  std::optional<actors::storage::tx_list> first_;
};

void export_csv(const api_context& ctx, request_context& rc, const responder& done) {
  if (!require_storage(ctx, done)) {
    return;
  }
  actors::storage::export_query q;
  q.limit = ctx.settings.export_chunk_rows;
  if (auto w = query_param(rc.query, "wallet"); w && !w->empty()) {
    if (w->size() > ctx.limits.max_addr_bytes || !valid_utf8(*w)) {
      done.error(status::bad_request, "query parameter wallet is not an account address",
                 "{\"parameter\":\"wallet\"}");
      return;
    }
    q.wallet = *w;
  }
  if (!time_param(rc.query, "from", q.from, done) || !time_param(rc.query, "to", q.to, done)) {
    return;
  }
  auto reads = lookup<actors::storage::reads_actor>(rc, actors::storage::reads_name);
  if (!require_actor(reads, done)) {
    return;
  }
  // The first page decides the status: an error still gets its envelope.
  auto& bridge = rc.bridge;
  auto timeout = ctx.request_timeout;
  rc.bridge.self()
    ->request(reads, timeout, actors::storage::export_atom::value, q)
    .then(
      [done, &bridge, reads, q, timeout](actors::storage::tx_list& rows) {
        auto head = make_text(status::ok, {}, "text/csv; charset=utf-8");
        head.set(bhttp::field::content_disposition,
                 "attachment; filename=\"klerno-transactions.csv\"");
        done.stream(std::move(head),
                    std::make_shared<csv_source>(bridge, reads, q, timeout, std::move(rows)));
      },
      [done](caf::error& err) { reply_storage_error(done, err); });
}

// -- GET /cluster/members -----------------------------------------------------------------------

void cluster_members(const api_context& ctx, request_context&, const responder& done) {
  if (ctx.gateway.board == nullptr) {
    done(make_json(status::ok, "{\"cluster\":false,\"members\":[]}"));
    return;
  }
  auto view = ctx.gateway.board->current();
  // The latest incarnation of each node name.
  std::map<std::string, const cluster::member_row*> latest;
  for (const auto& r : view->table.members) {
    auto& slot = latest[r.name];
    if (slot == nullptr || slot->incarnation < r.incarnation) {
      slot = &r;
    }
  }
  std::string body = "{\"cluster\":true,\"self\":";
  runtime::append_json_string(body, view->self.name);
  fmt::format_to(std::back_inserter(body), ",\"table_version\":{},\"members\":[",
                 view->table.version);
  bool first = true;
  for (const auto& [name, r] : latest) {
    auto age =
      std::chrono::duration_cast<std::chrono::milliseconds>(view->table.read_at - r->heartbeat_at)
        .count();
    body += first ? "{" : ",{";
    first = false;
    body += "\"name\":";
    runtime::append_json_string(body, r->name);
    body += ",\"address\":";
    runtime::append_json_string(body, r->address);
    fmt::format_to(std::back_inserter(body),
                   ",\"status\":\"{}\",\"role\":\"{}\",\"incarnation\":{},"
                   "\"heartbeat_age_ms\":{},\"version\":",
                   cluster::to_string(r->status), cluster::to_string(r->role), r->incarnation,
                   std::max<long long>(age, 0));
    runtime::append_json_string(body, r->app_version);
    fmt::format_to(std::back_inserter(body), ",\"partitions\":{},\"connected\":{}}}",
                   view->placement.partitions_of(r->ref()),
                   view->is_self(r->ref()) || view->peers.count(r->ref()) > 0);
  }
  body += "]}";
  done(make_json(status::ok, std::move(body)));
}

// -- POST/DELETE /auth/session, GET /analytics/realtime ----------------------------------------

/// Answers 503 and returns false when the node has no Redis (REDIS_URL unset).
bool require_redis(const api_context& ctx, const responder& done, std::string_view what) {
  if (ctx.edge && ctx.edge->redis_configured()) {
    return true;
  }
  done.error(status::service_unavailable,
             fmt::format("{} need Redis, and REDIS_URL is not set on this node", what),
             "{\"dependency\":\"redis\",\"configured\":false}");
  return false;
}

/// Answers 503 with Retry-After: Redis did not answer.
void reply_redis_unavailable(const responder& done, std::string_view what) {
  auto res = make_error(status::service_unavailable,
                        fmt::format("{} unavailable: Redis does not answer; retry shortly", what),
                        done.request_id(), "{\"dependency\":\"redis\"}");
  res.set(bhttp::field::retry_after, "1");
  done(std::move(res));
}

void create_session(const api_context& ctx, request_context& rc, const responder& done) {
  if (!require_redis(ctx, done, "sessions")) {
    return;
  }
  if (rc.req["X-API-Key"].empty()) {
    done.error(status::unauthorized, "a session is created with X-API-Key, not with a session",
               "{\"header\":\"X-API-Key\"}");
    return;
  }
  auto* store = ctx.edge->sessions(rc.worker);
  if (store == nullptr) {
    reply_redis_unavailable(done, "sessions are");
    return;
  }
  auto cfg = ctx.edge->session_config();
  store->create(std::string{rc.scope}, [done, cfg](std::optional<std::string> token) {
    if (!token) {
      reply_redis_unavailable(done, "sessions are");
      return;
    }
    std::string body = "{\"token\":";
    runtime::append_json_string(body, *token);
    fmt::format_to(std::back_inserter(body),
                   ",\"token_type\":\"Bearer\",\"expires_in\":{},\"max_lifetime\":{}}}",
                   cfg.ttl.count(), cfg.max_lifetime.count());
    auto res = make_json(status::created, std::move(body));
    res.set(bhttp::field::cache_control, "no-store");
    done(std::move(res));
  });
}

void delete_session(const api_context& ctx, request_context& rc, const responder& done) {
  if (!require_redis(ctx, done, "sessions")) {
    return;
  }
  auto token = bearer_token(rc.req);
  if (token.empty()) {
    done.error(status::bad_request,
               "send the session token to revoke as Authorization: Bearer <token>",
               "{\"header\":\"Authorization\"}");
    return;
  }
  auto* store = ctx.edge->sessions(rc.worker);
  if (store == nullptr) {
    reply_redis_unavailable(done, "sessions are");
    return;
  }
  store->revoke(token, [done](std::optional<bool> existed) {
    if (!existed) {
      reply_redis_unavailable(done, "sessions are");
    } else if (!*existed) {
      done.error(status::not_found, "no session has this token");
    } else {
      done(response{status::no_content, 11});
    }
  });
}

void realtime(const api_context& ctx, request_context& rc, const responder& done) {
  if (!require_redis(ctx, done, "real-time analytics")) {
    return;
  }
  auto max = std::max<long long>(
    1, std::chrono::duration_cast<std::chrono::minutes>(ctx.realtime_retention).count());
  long long minutes = std::min<long long>(60, max);
  if (!int_param(rc.query, "minutes", 1, max, minutes, done)) {
    return;
  }
  auto* counters = ctx.edge->realtime(rc.worker);
  if (counters == nullptr) {
    reply_redis_unavailable(done, "real-time analytics are");
    return;
  }
  counters->query(static_cast<unsigned>(minutes), std::chrono::system_clock::now(),
                  [done](std::optional<cache::realtime_series> s) {
                    if (!s) {
                      reply_redis_unavailable(done, "real-time analytics are");
                      return;
                    }
                    auto res = make_json(status::ok, cache::to_json(*s));
                    res.set(bhttp::field::cache_control, "no-store");
                    done(std::move(res));
                  });
}

} // namespace

void add_api_routes(router& r, std::shared_ptr<const api_context> ctx) {
  r.add(
    verb::post, "/analyze/tx",
    [ctx](request_context& rc, responder done) { analyze_tx(*ctx, rc, done); }, analyze_route);
  r.add(verb::post, "/analyze/batch",
        [ctx](request_context& rc, responder done) { analyze_batch(*ctx, rc, done); },
        {access::api_key, ctx->settings.batch_max_body_bytes, "analyze"});
  r.add(
    verb::post, "/integrations/xrpl/parse",
    [ctx](request_context& rc, responder done) { xrpl_parse(*ctx, rc, done); }, analyze_route);
  r.add(
    verb::post, "/transactions",
    [ctx](request_context& rc, responder done) { store_tx(*ctx, rc, done); }, write_route);
  r.add(verb::post, "/transactions/batch",
        [ctx](request_context& rc, responder done) { store_batch(*ctx, rc, done); },
        {access::api_key, ctx->settings.batch_max_body_bytes, "write"});
  r.add(
    verb::get, "/transactions/{tx_id}",
    [ctx](request_context& rc, responder done) { get_tx(*ctx, rc, done); }, read_route);
  r.add(
    verb::get, "/transactions",
    [ctx](request_context& rc, responder done) { list_txs(*ctx, rc, done); }, read_route);
  r.add(
    verb::get, "/alerts",
    [ctx](request_context& rc, responder done) { list_alerts(*ctx, rc, done); }, read_route);
  r.add(
    verb::get, "/analytics/summary",
    [ctx](request_context& rc, responder done) { summary(*ctx, rc, done); }, read_route);
  r.add(
    verb::get, "/analytics/realtime",
    [ctx](request_context& rc, responder done) { realtime(*ctx, rc, done); }, read_route);
  const route_options auth_route{access::api_key, std::nullopt, "auth"};
  r.add(
    verb::post, "/auth/session",
    [ctx](request_context& rc, responder done) { create_session(*ctx, rc, done); }, auth_route);
  r.add(
    verb::delete_, "/auth/session",
    [ctx](request_context& rc, responder done) { delete_session(*ctx, rc, done); }, auth_route);
  r.add(
    verb::get, "/export/csv",
    [ctx](request_context& rc, responder done) { export_csv(*ctx, rc, done); }, read_route);
  r.add(
    verb::get, "/cluster/members",
    [ctx](request_context& rc, responder done) { cluster_members(*ctx, rc, done); }, read_route);
}

} // namespace klerno::http::api
