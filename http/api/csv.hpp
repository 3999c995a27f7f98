#pragma once

// CSV rendering of transactions for GET /export/csv (RFC 4180: comma separated, CRLF line ends,
// a field holding ',', '"', CR or LF is quoted with its quotes doubled).
//
// Columns: tx_id,timestamp,chain,from_addr,to_addr,amount,symbol,direction,fee,memo,notes,tags,
// is_internal,category,risk_score,risk_bucket,risk_flags. Tags and flags are joined with '|';
// timestamps as in the JSON (ISO 8601 UTC), amounts as exact decimals, risk_score as 0.45.
//
// Formula injection guard: spreadsheets run a cell that starts with '=', '+', '-' or '@' (and,
// in some, a tab or CR) as a formula, so a field starting with one of these gets a leading single
// quote ("=HYPERLINK(...)" -> "'=HYPERLINK(...)") — unless the whole field is a plain number
// such as "-12.5", which stays a number. The quote is visible in the file: the export is meant
// for spreadsheets and auditors, not for lossless re-import (use the JSON API for that).

#include <string>
#include <string_view>

#include "actors/model/transaction.hpp"

namespace klerno::http::api {

/// Appends the header line (with its CRLF).
void append_csv_header(std::string& out);

/// Appends one transaction as a CSV line (with its CRLF).
void append_csv_row(std::string& out, const actors::model::transaction& tx);

/// Appends one field: guarded against formula injection, then quoted when needed.
void append_csv_field(std::string& out, std::string_view field);

} // namespace klerno::http::api
