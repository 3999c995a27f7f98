#include "tests/support/http.hpp"

#include "tests/support/tcp_client.hpp"

namespace klerno::test {

std::string format_request(std::string_view method, std::string_view target,
                           const header_list& headers, std::string_view body, bool close) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (const auto& [name, value] : headers) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (!body.empty()) {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  if (close) {
    out.append("Connection: close\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

http_response http_request(uint16_t port, std::string_view method, std::string_view target,
                           const header_list& headers, std::string_view body) {
  tcp_client c{port};
  c.send(format_request(method, target, headers, body, true));
  return c.read_response(tcp_client::default_timeout, method == "HEAD");
}

http_response http_get(uint16_t port, std::string_view target, const header_list& headers) {
  return http_request(port, "GET", target, headers);
}

} // namespace klerno::test
