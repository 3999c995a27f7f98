#include "actors/model/transaction.hpp"

namespace klerno::actors::model {

const char* bucket_for(score_centi score) noexcept {
  if (score < 33) {
    return "low";
  }
  if (score < 66) {
    return "medium";
  }
  return "high";
}

void append_score(std::string& out, score_centi score) {
  // Two's complement safe magnitude, so even INT_MIN prints.
  auto mag = score < 0 ? 0U - static_cast<unsigned>(score) : static_cast<unsigned>(score);
  if (score < 0) {
    out += '-';
  }
  out += std::to_string(mag / 100);
  out += '.';
  out += static_cast<char>('0' + mag % 100 / 10);
  out += static_cast<char>('0' + mag % 10);
}

std::string format_score(score_centi score) {
  std::string out;
  append_score(out, score);
  return out;
}

} // namespace klerno::actors::model
