#pragma once

// A blocking TCP client for loopback with a deadline on every wait. It sends raw bytes (so tests
// can send partial, pipelined or malformed requests) and parses responses with Beast's parser,
// keeping bytes that belong to the next response for the next read.

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tests/support/http_response.hpp"

namespace klerno::test {

/// Thrown when the server closes the connection before a complete response.
class connection_closed : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Thrown when a deadline passes while waiting for the server.
class wait_timeout : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// One client connection to 127.0.0.1.
class tcp_client {
public:
  /// Deadline for a response unless a test chooses another.
  static constexpr std::chrono::milliseconds default_timeout{5000};

  /// Connects to 127.0.0.1:`port`; throws std::system_error (e.g. ECONNREFUSED) on failure.
  explicit tcp_client(uint16_t port);

  /// Closes the socket.
  ~tcp_client();

  tcp_client(tcp_client&& other) noexcept;
  tcp_client& operator=(tcp_client&& other) noexcept;
  tcp_client(const tcp_client&) = delete;
  tcp_client& operator=(const tcp_client&) = delete;

  /// Sends all of `bytes`; throws std::system_error when the connection is broken.
  void send(std::string_view bytes);

  /// Reads one complete response. For the response to a HEAD request pass `head = true` (its
  /// Content-Length describes a body that is not sent). Throws connection_closed, wait_timeout,
  /// or std::runtime_error for a response that does not parse.
  http_response read_response(std::chrono::milliseconds timeout = default_timeout,
                              bool head = false);

  /// Waits until the server closes the connection (EOF or reset) and returns true, or returns
  /// false at the deadline. Bytes received meanwhile are kept (see `unread`).
  bool wait_for_close(std::chrono::milliseconds timeout = default_timeout);

  /// Returns the bytes received but not consumed by a response.
  const std::string& unread() const noexcept {
    return buffer_;
  }

  /// Returns true once the server closed the connection.
  bool closed_by_peer() const noexcept {
    return eof_;
  }

  /// Closes the socket now.
  void close() noexcept;

private:
  using clock = std::chrono::steady_clock;

  /// Appends what arrives before `deadline` to buffer_; returns false on EOF or reset, throws
  /// wait_timeout at the deadline.
  bool receive(clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

} // namespace klerno::test
