#include "tests/support/ws_client.hpp"

#include <optional>
#include <system_error>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace klerno::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

struct ws_client::impl {
  using clock = std::chrono::steady_clock;

  net::io_context ioc{1};
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buffer;
  http_response handshake;

  /// Starts an operation with `start(handler)` and runs it to completion or the deadline; at
  /// the deadline the socket is closed and wait_timeout is thrown.
  template <class Start>
  boost::system::error_code run(std::chrono::milliseconds timeout, const std::string& what,
                                Start start) {
    std::optional<boost::system::error_code> result;
    start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    auto deadline = clock::now() + timeout;
    while (!result && clock::now() < deadline) {
      ioc.run_one_until(deadline);
    }
    if (!result) {
      boost::system::error_code ignored;
      beast::get_lowest_layer(ws).close(ignored);
      ioc.restart();
      while (!result && ioc.run_one() > 0) {
      }
      throw wait_timeout(what + ": no answer within " + std::to_string(timeout.count()) + " ms");
    }
    return *result;
  }

  [[noreturn]] void closed(const boost::system::error_code& ec) {
    if (ec == websocket::error::closed) {
      const auto& r = ws.reason();
      throw ws_closed(r.code, std::string{r.reason.data(), r.reason.size()},
                      "the server closed the WebSocket with " + std::to_string(r.code));
    }
    throw ws_closed(1006, ec.message(), "the connection ended: " + ec.message());
  }
};

ws_client::ws_client(uint16_t port, std::string_view target, const header_list& headers,
                     std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
  auto& d = *impl_;
  tcp::endpoint ep{net::ip::make_address_v4("127.0.0.1"), port};
  auto ec = d.run(timeout, "connect",
                  [&](auto h) { beast::get_lowest_layer(d.ws).async_connect(ep, std::move(h)); });
  if (ec) {
    throw std::system_error(ec, "connect to 127.0.0.1:" + std::to_string(port));
  }
  d.ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [name, value] : headers) {
      req.set(name, value);
    }
  }));
  websocket::response_type res;
  ec = d.run(timeout, "WebSocket handshake", [&](auto h) {
    d.ws.async_handshake(res, "127.0.0.1", std::string{target}, std::move(h));
  });
  http_response out;
  out.status = res.result_int();
  out.reason = std::string{res.reason()};
  for (const auto& field : res) {
    out.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
  }
  out.body = res.body();
  out.keep_alive = res.keep_alive();
  if (ec) {
    if (out.status != 0 && out.status != 101) {
      throw ws_refused(std::move(out));
    }
    throw std::system_error(ec, "WebSocket handshake");
  }
  d.handshake = std::move(out);
  d.ws.text(true);
}

ws_client::~ws_client() {
  if (impl_) {
    boost::system::error_code ignored;
    beast::get_lowest_layer(impl_->ws).close(ignored);
  }
}

ws_client::ws_client(ws_client&&) noexcept = default;
ws_client& ws_client::operator=(ws_client&&) noexcept = default;

const http_response& ws_client::handshake() const noexcept {
  return impl_->handshake;
}

void ws_client::send(std::string_view text, std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  d.ws.text(true);
  auto ec = d.run(timeout, "WebSocket write", [&](auto h) {
    d.ws.async_write(net::buffer(text.data(), text.size()), std::move(h));
  });
  if (ec) {
    d.closed(ec);
  }
}

void ws_client::send_binary(std::string_view bytes, std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  d.ws.binary(true);
  auto ec = d.run(timeout, "WebSocket write", [&](auto h) {
    d.ws.async_write(net::buffer(bytes.data(), bytes.size()), std::move(h));
  });
  d.ws.text(true);
  if (ec) {
    d.closed(ec);
  }
}

std::string ws_client::read(std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  d.buffer.consume(d.buffer.size());
  auto ec =
    d.run(timeout, "WebSocket read", [&](auto h) { d.ws.async_read(d.buffer, std::move(h)); });
  if (ec) {
    d.closed(ec);
  }
  return beast::buffers_to_string(d.buffer.data());
}

uint16_t ws_client::wait_close(std::chrono::milliseconds timeout) {
  auto deadline = impl::clock::now() + timeout;
  for (;;) {
    auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - impl::clock::now());
    try {
      read(std::max(left, std::chrono::milliseconds{1}));
    } catch (const ws_closed& e) {
      return e.code;
    }
  }
}

void ws_client::close() noexcept {
  auto& d = *impl_;
  try {
    auto ec = d.run(std::chrono::seconds(2), "WebSocket close",
                    [&](auto h) { d.ws.async_close(websocket::close_code::normal, std::move(h)); });
    while (!ec) {
      d.buffer.consume(d.buffer.size());
      ec = d.run(std::chrono::seconds(2), "WebSocket close",
                 [&](auto h) { d.ws.async_read(d.buffer, std::move(h)); });
    }
  } catch (...) {
    // best effort
  }
  boost::system::error_code ignored;
  beast::get_lowest_layer(d.ws).close(ignored);
}

} // namespace klerno::test
