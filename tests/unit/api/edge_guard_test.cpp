// The edge guard's pure helpers: API key scopes, trusted proxies and X-Forwarded-For, CIDR
// matching and the normalized query of cache keys.

#include <catch2/catch.hpp>

#include <boost/asio/ip/address.hpp>

#include "http/api/edge_guard.hpp"

using namespace klerno;
using http::api::client_address;
using http::api::in_network;
using http::api::normalize_query;
namespace ip = boost::asio::ip;

namespace {

ip::tcp::endpoint peer(const char* addr) {
  return {ip::make_address(addr), 40000};
}

config::ip_network net(const char* addr, unsigned prefix) {
  return {addr, prefix};
}

} // namespace

TEST_CASE("an API key's scope is a stable 16-hex-digit id that does not contain the key") {
  auto a = http::api::api_key_scope("secret-key-1");
  CHECK(a.size() == 16);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a == http::api::api_key_scope("secret-key-1"));
  CHECK(a != http::api::api_key_scope("secret-key-2"));
  CHECK(a.find("secret") == std::string::npos);
}

TEST_CASE("networks match addresses by prefix, IPv4, IPv6 and IPv4-mapped") {
  CHECK(in_network(ip::make_address("10.1.2.3"), net("10.0.0.0", 8)));
  CHECK_FALSE(in_network(ip::make_address("11.1.2.3"), net("10.0.0.0", 8)));
  CHECK(in_network(ip::make_address("192.168.5.77"), net("192.168.5.64", 26)));
  CHECK_FALSE(in_network(ip::make_address("192.168.5.128"), net("192.168.5.64", 26)));
  CHECK(in_network(ip::make_address("127.0.0.1"), net("127.0.0.1", 32)));
  CHECK_FALSE(in_network(ip::make_address("127.0.0.2"), net("127.0.0.1", 32)));
  CHECK(in_network(ip::make_address("::ffff:10.0.0.9"), net("10.0.0.0", 8)));
  CHECK(in_network(ip::make_address("fd00::1"), net("fd00::", 8)));
  CHECK_FALSE(in_network(ip::make_address("fe80::1"), net("fd00::", 8)));
  CHECK_FALSE(in_network(ip::make_address("10.0.0.1"), net("fd00::", 8)));
  CHECK(in_network(ip::make_address("8.8.8.8"), net("0.0.0.0", 0)));
}

TEST_CASE("X-Forwarded-For names the client only when the peer is a trusted proxy") {
  std::vector<config::ip_network> trusted{net("127.0.0.1", 32), net("10.0.0.0", 8)};
  SECTION("an untrusted peer counts itself, whatever it claims") {
    CHECK(client_address(peer("203.0.113.9"), "1.2.3.4", trusted) == "203.0.113.9");
  }
  SECTION("no trusted proxies configured: the peer") {
    CHECK(client_address(peer("127.0.0.1"), "1.2.3.4", {}) == "127.0.0.1");
  }
  SECTION("a trusted peer: the rightmost address that is not a trusted proxy") {
    CHECK(client_address(peer("127.0.0.1"), "1.2.3.4", trusted) == "1.2.3.4");
    CHECK(client_address(peer("127.0.0.1"), "6.6.6.6, 1.2.3.4, 10.0.0.5", trusted) == "1.2.3.4");
  }
  SECTION("a spoofed leftmost entry does not win over the proxy's own") {
    CHECK(client_address(peer("10.0.0.7"), "9.9.9.9,198.51.100.4", trusted) == "198.51.100.4");
  }
  SECTION("every entry trusted: the leftmost one") {
    CHECK(client_address(peer("127.0.0.1"), "10.0.0.1, 10.0.0.2", trusted) == "10.0.0.1");
  }
  SECTION("garbage stops the walk at the last address that parsed") {
    CHECK(client_address(peer("127.0.0.1"), "not-an-ip, 1.2.3.4", trusted) == "1.2.3.4");
    CHECK(client_address(peer("127.0.0.1"), "bogus", trusted) == "127.0.0.1");
  }
  SECTION("IPv6 clients") {
    CHECK(client_address(peer("127.0.0.1"), "2001:db8::1", trusted) == "2001:db8::1");
  }
}

TEST_CASE("a normalized query sorts decoded parameters by name and refuses repeated names") {
  CHECK(normalize_query("") == "");
  CHECK(normalize_query("b=2&a=1") == "a=1&b=2");
  CHECK(normalize_query("limit=5&min_score=0.8") == normalize_query("min_score=0.8&limit=5"));
  CHECK(normalize_query("a=1&&b=2&") == "a=1&b=2");
  CHECK(normalize_query("wallet=rA%20B&cursor=x") == normalize_query("cursor=x&wallet=rA B"));
  // The same parameter spelled two ways is one parameter.
  CHECK(normalize_query("wal%6Cet=A") == normalize_query("wallet=A"));
  // A repeated name (however spelled) is not cached: which one a handler reads is its business.
  CHECK_FALSE(normalize_query("a=2&a=1").has_value());
  CHECK_FALSE(normalize_query("wal%6Cet=A&wallet=B").has_value());
}
