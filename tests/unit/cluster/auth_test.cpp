#include <set>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include "cluster/auth.hpp"

using namespace klerno::cluster;

namespace {

const std::string secret = "correct horse battery staple";

auth::transcript sample() {
  auth::transcript t;
  t.joiner_name = "node-b";
  t.joiner_incarnation = 1700000000123;
  t.joiner_version = 1;
  t.joiner_nonce = std::string(auth::nonce_size, 'j');
  t.responder_name = "node-a";
  t.responder_incarnation = 1700000000042;
  t.responder_version = 1;
  t.responder_nonce = std::string(auth::nonce_size, 'r');
  return t;
}

std::string hex(const std::string& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}

} // namespace

TEST_CASE("nonces are 32 fresh random bytes") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto n = auth::make_nonce();
    CHECK(n.size() == auth::nonce_size);
    seen.insert(n);
  }
  CHECK(seen.size() == 100);
}

TEST_CASE("a proof made with the right secret verifies, in both directions") {
  auto t = sample();
  auto challenge = auth::proof(secret, auth::challenge_label, t);
  auto answer = auth::proof(secret, auth::proof_label, t);
  CHECK(challenge.size() == auth::proof_size);
  CHECK(answer.size() == auth::proof_size);
  CHECK(auth::verify(secret, auth::challenge_label, t, challenge));
  CHECK(auth::verify(secret, auth::proof_label, t, answer));
}

TEST_CASE("a full handshake between two nodes sharing the secret succeeds") {
  // joiner: Hello
  auth::transcript joiner_view;
  joiner_view.joiner_name = "node-b";
  joiner_view.joiner_incarnation = 2;
  joiner_view.joiner_version = 1;
  joiner_view.joiner_nonce = auth::make_nonce();
  // responder: Challenge (it fills in its half of the transcript)
  auto responder_view = joiner_view;
  responder_view.responder_name = "node-a";
  responder_view.responder_incarnation = 1;
  responder_view.responder_version = 1;
  responder_view.responder_nonce = auth::make_nonce();
  auto proof_r = auth::proof(secret, auth::challenge_label, responder_view);
  // joiner: learns the responder's half from the Challenge, verifies, answers
  joiner_view.responder_name = responder_view.responder_name;
  joiner_view.responder_incarnation = responder_view.responder_incarnation;
  joiner_view.responder_version = responder_view.responder_version;
  joiner_view.responder_nonce = responder_view.responder_nonce;
  REQUIRE(auth::verify(secret, auth::challenge_label, joiner_view, proof_r));
  auto proof_j = auth::proof(secret, auth::proof_label, joiner_view);
  // responder: verifies
  CHECK(auth::verify(secret, auth::proof_label, responder_view, proof_j));
}

TEST_CASE("a proof made with another secret does not verify") {
  auto t = sample();
  auto forged = auth::proof("not the secret", auth::proof_label, t);
  CHECK_FALSE(auth::verify(secret, auth::proof_label, t, forged));
  CHECK_FALSE(
    auth::verify(secret + "x", auth::proof_label, t, auth::proof(secret, auth::proof_label, t)));
}

TEST_CASE("a proof cannot be reflected: the labels differ per direction") {
  auto t = sample();
  auto challenge = auth::proof(secret, auth::challenge_label, t);
  CHECK_FALSE(auth::verify(secret, auth::proof_label, t, challenge));
  auto answer = auth::proof(secret, auth::proof_label, t);
  CHECK_FALSE(auth::verify(secret, auth::challenge_label, t, answer));
  CHECK(challenge != answer);
}

TEST_CASE("a proof does not verify once any transcript field changes") {
  auto t = sample();
  auto good = auth::proof(secret, auth::proof_label, t);
  auto fails_with = [&](auto change) {
    auto altered = t;
    change(altered);
    return !auth::verify(secret, auth::proof_label, altered, good);
  };
  CHECK(fails_with([](auth::transcript& x) { x.joiner_nonce[0] ^= 1; }));
  CHECK(fails_with([](auth::transcript& x) { x.responder_nonce[31] ^= 1; }));
  CHECK(fails_with([](auth::transcript& x) { x.joiner_name = "node-c"; }));
  CHECK(fails_with([](auth::transcript& x) { x.responder_name = "node-c"; }));
  CHECK(fails_with([](auth::transcript& x) { ++x.joiner_incarnation; }));
  CHECK(fails_with([](auth::transcript& x) { ++x.responder_incarnation; }));
  CHECK(fails_with([](auth::transcript& x) { ++x.joiner_version; }));
  CHECK(fails_with([](auth::transcript& x) { ++x.responder_version; }));
  CHECK(fails_with([](auth::transcript& x) { ++x.protocol_major; }));
  // Swapping the roles (a node answering its own challenge) changes the transcript too.
  CHECK(fails_with([](auth::transcript& x) {
    std::swap(x.joiner_name, x.responder_name);
    std::swap(x.joiner_incarnation, x.responder_incarnation);
    std::swap(x.joiner_nonce, x.responder_nonce);
  }));
  CHECK(auth::verify(secret, auth::proof_label, t, good)); // unchanged: still fine
}

TEST_CASE("the transcript encoding is length-prefixed, so fields cannot slide into each other") {
  auto a = sample();
  a.joiner_name = "node-b";
  a.responder_name = "xnode-a";
  auto b = sample();
  b.joiner_name = "node-bx";
  b.responder_name = "node-a";
  CHECK(auth::encode(auth::proof_label, a) != auth::encode(auth::proof_label, b));
  CHECK(auth::proof(secret, auth::proof_label, a) != auth::proof(secret, auth::proof_label, b));
}

TEST_CASE("proofs differ per nonce") {
  auto t = sample();
  std::set<std::string> proofs;
  for (int i = 0; i < 20; ++i) {
    t.responder_nonce = auth::make_nonce();
    proofs.insert(auth::proof(secret, auth::proof_label, t));
  }
  CHECK(proofs.size() == 20);
}

TEST_CASE("a proof is HMAC-SHA256 over the documented encoding") {
  // Pinned: the handshake of two builds must agree byte for byte.
  auto t = sample();
  auto enc = auth::encode(auth::proof_label, t);
  CHECK(enc.size()
        == 144); // (4 + 20) + 4 + (4 + 6) + 8 + 4 + (4 + 32) + (4 + 6) + 8 + 4 + (4 + 32)
  CHECK(hex(enc.substr(0, 8)) == "000000146b6c6572"); // u32(20) "kler"
  // Computed independently (Python hmac) from the encoding documented in cluster/auth.hpp.
  CHECK(hex(auth::proof(secret, auth::proof_label, t))
        == "75f8361c7261b9c4c6cf7172ad8b24a8233e77837c3f0dff14b36a571a215d69");
}

TEST_CASE("malformed input never verifies") {
  auto t = sample();
  auto good = auth::proof(secret, auth::proof_label, t);
  CHECK_FALSE(auth::verify("", auth::proof_label, t, good));
  CHECK_FALSE(auth::verify(secret, auth::proof_label, t, good.substr(0, 31)));
  CHECK_FALSE(auth::verify(secret, auth::proof_label, t, good + "x"));
  CHECK_FALSE(auth::verify(secret, auth::proof_label, t, ""));
  auto short_nonce = t;
  short_nonce.joiner_nonce.pop_back();
  CHECK_FALSE(auth::verify(secret, auth::proof_label, short_nonce, good));
  CHECK_THROWS_AS(auth::proof("", auth::proof_label, t), std::invalid_argument);
  CHECK_THROWS_AS(auth::proof(secret, auth::proof_label, short_nonce), std::invalid_argument);
}

TEST_CASE("error texts never contain the secret") {
  auto t = sample();
  t.joiner_nonce.clear();
  try {
    auth::proof(secret, auth::proof_label, t);
    FAIL("expected an exception");
  } catch (const std::exception& e) {
    CHECK(std::string{e.what()}.find(secret) == std::string::npos);
  }
}
