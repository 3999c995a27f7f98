#include "tests/support/tcp_client.hpp"

#include <cerrno>
#include <system_error>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace klerno::test {

namespace bhttp = boost::beast::http;

namespace {

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

} // namespace

std::string http_response::header(std::string_view name) const {
  auto wanted = lower(name);
  for (const auto& [k, v] : headers) {
    if (lower(k) == wanted) {
      return v;
    }
  }
  return {};
}

std::size_t http_response::count(std::string_view name) const {
  auto wanted = lower(name);
  std::size_t n = 0;
  for (const auto& h : headers) {
    if (lower(h.first) == wanted) {
      ++n;
    }
  }
  return n;
}

tcp_client::tcp_client(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "socket");
  }
  // A send never blocks for long: the requests of these tests fit in the socket buffers.
  timeval tv{5, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc;
  do {
    rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    auto e = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::system_error(e, std::generic_category(),
                            "connect to 127.0.0.1:" + std::to_string(port));
  }
}

tcp_client::~tcp_client() {
  close();
}

tcp_client::tcp_client(tcp_client&& other) noexcept
    : fd_(other.fd_), buffer_(std::move(other.buffer_)), eof_(other.eof_) {
  other.fd_ = -1;
}

tcp_client& tcp_client::operator=(tcp_client&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    buffer_ = std::move(other.buffer_);
    eof_ = other.eof_;
    other.fd_ = -1;
  }
  return *this;
}

void tcp_client::close() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void tcp_client::send(std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::system_error(errno, std::generic_category(), "send");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool tcp_client::receive(clock::time_point deadline) {
  if (eof_) {
    return false;
  }
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) {
      throw wait_timeout("no data from the server before the deadline");
    }
    pollfd p{fd_, POLLIN, 0};
    auto rc = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (rc < 0 && errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    if (rc <= 0) {
      continue; // EINTR or timeout: the deadline check above decides
    }
    char chunk[16 * 1024];
    auto n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0 || errno == ECONNRESET || errno == EPIPE) {
      eof_ = true;
      return false;
    }
    if (errno != EINTR && errno != EAGAIN) {
      throw std::system_error(errno, std::generic_category(), "recv");
    }
  }
}

http_response tcp_client::read_response(std::chrono::milliseconds timeout, bool head) {
  auto deadline = clock::now() + timeout;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.header_limit(1024 * 1024);
  parser.body_limit(std::uint64_t{256} * 1024 * 1024);
  if (head) {
    parser.skip(true);
  }
  for (;;) {
    if (!buffer_.empty()) {
      boost::system::error_code ec;
      auto used = parser.put(boost::asio::buffer(buffer_.data(), buffer_.size()), ec);
      buffer_.erase(0, used);
      if (ec && ec != bhttp::error::need_more) {
        throw std::runtime_error("the response does not parse: " + ec.message());
      }
      if (parser.is_done()) {
        break;
      }
      if (!ec && used > 0) {
        continue;
      }
    }
    bool more = false;
    try {
      more = receive(deadline);
    } catch (const wait_timeout&) {
      throw wait_timeout(parser.got_some() ? "the response was incomplete at the deadline"
                                           : "no response before the deadline");
    }
    if (!more) {
      if (parser.got_some()) {
        boost::system::error_code ec;
        parser.put_eof(ec);
        if (!ec && parser.is_done()) {
          break;
        }
        throw connection_closed("the server closed the connection in the middle of a response");
      }
      throw connection_closed("the server closed the connection without a response");
    }
  }
  const auto& msg = parser.get();
  http_response res;
  res.status = msg.result_int();
  res.reason = std::string{msg.reason()};
  for (const auto& f : msg) {
    res.headers.emplace_back(std::string{f.name_string()}, std::string{f.value()});
  }
  res.body = msg.body();
  res.keep_alive = msg.keep_alive();
  return res;
}

bool tcp_client::wait_for_close(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  try {
    while (receive(deadline)) {
    }
    return true;
  } catch (const wait_timeout&) {
    return false;
  }
}

} // namespace klerno::test
