#pragma once

// The keyset position of a paginated listing: listings are ordered by (time, tx_id) and a page
// continues strictly after the last row of the previous one. Storage builds its WHERE clause from
// it; the HTTP edge carries it as an opaque token (http/api/cursor_codec.hpp).

#include <string>

#include "actors/model/transaction.hpp"

namespace klerno::actors::model {

/// The position after which the next page starts.
struct cursor {
  timestamp time;    ///< `time` of the last row returned
  std::string tx_id; ///< `tx_id` of the last row returned (breaks ties between equal times)
};

inline bool operator==(const cursor& a, const cursor& b) {
  return a.time == b.time && a.tx_id == b.tx_id;
}

inline bool operator!=(const cursor& a, const cursor& b) {
  return !(a == b);
}

} // namespace klerno::actors::model
