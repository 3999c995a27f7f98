#pragma once

// A blocking WebSocket client for loopback (Beast's websocket stream driven with a deadline on
// every wait): handshake with extra headers, text messages, pings answered while reading, and
// the server's close code. A refused handshake surfaces the server's HTTP response.

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tests/support/http.hpp"
#include "tests/support/http_response.hpp"
#include "tests/support/tcp_client.hpp"

namespace klerno::test {

/// Thrown when the server answers the handshake with something else than 101.
class ws_refused : public std::runtime_error {
public:
  explicit ws_refused(http_response res)
      : std::runtime_error("WebSocket handshake refused with " + std::to_string(res.status)),
        response(std::move(res)) {}

  http_response response; ///< what the server answered
};

/// Thrown when the server closed the WebSocket (or the connection) while a message was awaited.
class ws_closed : public std::runtime_error {
public:
  ws_closed(uint16_t close_code, std::string close_reason, const std::string& what)
      : std::runtime_error(what), code(close_code), reason(std::move(close_reason)) {}

  uint16_t code;      ///< the close code (1001, 1008, ...); 1006 when the TCP connection ended
  std::string reason; ///< the close reason text
};

/// One WebSocket connection to 127.0.0.1.
class ws_client {
public:
  static constexpr std::chrono::milliseconds default_timeout{5000};

  /// Connects to 127.0.0.1:`port` and performs the handshake for `target` with `headers`.
  /// Throws ws_refused (the server's answer), wait_timeout, or std::system_error.
  ws_client(uint16_t port, std::string_view target, const header_list& headers = {},
            std::chrono::milliseconds timeout = default_timeout);

  ~ws_client();

  ws_client(ws_client&&) noexcept;
  ws_client& operator=(ws_client&&) noexcept;
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  /// Returns the server's 101 response.
  const http_response& handshake() const noexcept;

  /// Sends a text (or binary) message; throws on a broken connection or at the deadline.
  void send(std::string_view text, std::chrono::milliseconds timeout = default_timeout);
  void send_binary(std::string_view bytes, std::chrono::milliseconds timeout = default_timeout);

  /// Returns the next message (pings are answered meanwhile). Throws ws_closed when the server
  /// closes, wait_timeout at the deadline (the connection is unusable afterwards).
  std::string read(std::chrono::milliseconds timeout = default_timeout);

  /// Reads until the server closes and returns its close code (messages are skipped); throws
  /// wait_timeout at the deadline.
  uint16_t wait_close(std::chrono::milliseconds timeout = default_timeout);

  /// Starts the closing handshake with 1000 and waits for it (best effort, no exceptions).
  void close() noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace klerno::test
