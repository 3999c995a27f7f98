#include <string>

#include <catch2/catch.hpp>

#include "cluster/utilization.hpp"
#include "proto/cluster.pb.h"

namespace v1 = klerno::cluster::v1;

namespace {

v1::Transaction sample_tx() {
  v1::Transaction tx;
  tx.set_tx_id("t1");
  tx.set_time_us(1700000000123456);
  tx.set_chain("XRPL");
  tx.set_from_addr("rAlice");
  tx.set_to_addr("rBob");
  tx.set_amount("150.000000000000000001");
  tx.set_fee("0.000012");
  tx.set_symbol("XRP");
  tx.set_direction("out");
  tx.set_memo("rent");
  tx.set_notes("");
  tx.add_tags("exchange");
  tx.add_tags("mixer");
  tx.set_is_internal(false);
  tx.set_category("expense");
  tx.set_risk_score(45);
  tx.add_risk_flags("outgoing");
  tx.add_risk_flags("medium_outgoing");
  tx.set_risk_bucket("medium");
  return tx;
}

template <class T>
T round_trip(const T& in) {
  std::string bytes;
  REQUIRE(in.SerializeToString(&bytes));
  T out;
  REQUIRE(out.ParseFromString(bytes));
  return out;
}

/// Appends a field the receiver does not know (number 1000, varint), as a newer minor would.
std::string with_unknown_field(std::string bytes) {
  // key = (1000 << 3) | 0 = 8000 = varint c0 3e; value 7
  bytes += static_cast<char>(0xc0);
  bytes += static_cast<char>(0x3e);
  bytes += static_cast<char>(0x07);
  return bytes;
}

} // namespace

TEST_CASE("the protocol constants are major 1, minor 1") {
  CHECK(v1::PROTOCOL_MAJOR == 1);
  CHECK(v1::PROTOCOL_MINOR >= 1);
}

TEST_CASE("a Hello survives the wire") {
  v1::Hello h;
  h.set_version(v1::PROTOCOL_MINOR);
  h.set_node_name("node-b");
  h.set_incarnation(1700000000123);
  h.set_address("10.0.0.2:7700");
  h.set_app_version("0.1.0");
  h.set_role(v1::ROLE_WORKER);
  h.set_nonce(std::string(32, '\xab'));
  auto out = round_trip(h);
  CHECK(out.version() == v1::PROTOCOL_MINOR);
  CHECK(out.node_name() == "node-b");
  CHECK(out.incarnation() == 1700000000123);
  CHECK(out.address() == "10.0.0.2:7700");
  CHECK(out.role() == v1::ROLE_WORKER);
  CHECK(out.nonce() == std::string(32, '\xab'));
}

TEST_CASE("a message from a newer minor version parses: unknown fields are ignored") {
  v1::Heartbeat hb;
  hb.set_version(v1::PROTOCOL_MINOR + 1);
  hb.set_node_name("node-a");
  hb.set_incarnation(7);
  hb.set_seq(42);
  hb.set_sent_at_us(1700000000000000);
  std::string bytes;
  REQUIRE(hb.SerializeToString(&bytes));
  v1::Heartbeat out;
  REQUIRE(out.ParseFromString(with_unknown_field(bytes)));
  CHECK(out.version() == v1::PROTOCOL_MINOR + 1);
  CHECK(out.node_name() == "node-a");
  CHECK(out.seq() == 42);
  CHECK(out.sent_at_us() == 1700000000000000);
}

TEST_CASE("a message from an older minor version parses: missing fields read as defaults") {
  v1::Hello old;
  old.set_version(1);
  old.set_node_name("node-old");
  auto out = round_trip(old);
  CHECK(out.node_name() == "node-old");
  CHECK(out.address().empty());
  CHECK(out.role() == v1::ROLE_UNSPECIFIED);
  CHECK(out.nonce().empty());
}

TEST_CASE("a store request and its reply survive the wire") {
  v1::StoreRequest req;
  req.set_version(v1::PROTOCOL_MINOR);
  *req.add_txs() = sample_tx();
  req.set_deadline_unix_ms(1700000000500);
  auto got = round_trip(req);
  REQUIRE(got.txs_size() == 1);
  const auto& tx = got.txs(0);
  CHECK(tx.amount() == "150.000000000000000001");
  CHECK(tx.fee() == "0.000012");
  CHECK(tx.time_us() == 1700000000123456);
  CHECK(tx.tags_size() == 2);
  CHECK(tx.risk_flags(1) == "medium_outgoing");
  CHECK(tx.risk_score() == 45);
  CHECK(got.deadline_unix_ms() == 1700000000500);

  v1::StoreReply reply;
  reply.set_version(v1::PROTOCOL_MINOR);
  auto* ok = reply.add_items()->mutable_stored();
  ok->set_inserted(true);
  *ok->mutable_row() = sample_tx();
  auto* bad = reply.add_items()->mutable_failure();
  bad->set_code("unavailable");
  bad->set_message("database unavailable");
  bad->set_retry_after_ms(1000);
  auto back = round_trip(reply);
  REQUIRE(back.items_size() == 2);
  CHECK(back.items(0).outcome_case() == v1::StoreOutcome::kStored);
  CHECK(back.items(0).stored().inserted());
  CHECK(back.items(0).stored().row().tx_id() == "t1");
  CHECK(back.items(1).outcome_case() == v1::StoreOutcome::kFailure);
  CHECK(back.items(1).failure().code() == "unavailable");
  CHECK(back.items(1).failure().retry_after_ms() == 1000);
}

TEST_CASE("the other cluster messages survive the wire") {
  v1::Challenge c;
  c.set_version(1);
  c.set_node_name("node-a");
  c.set_incarnation(1);
  c.set_nonce(std::string(32, 'n'));
  c.set_proof(std::string(32, 'p'));
  CHECK(round_trip(c).proof() == std::string(32, 'p'));

  v1::Proof p;
  p.set_version(1);
  p.set_proof(std::string(32, 'q'));
  CHECK(round_trip(p).proof() == std::string(32, 'q'));

  v1::Welcome w;
  w.set_version(1);
  w.set_view_version(17);
  CHECK(round_trip(w).view_version() == 17);

  v1::Refused r;
  r.set_version(1);
  r.set_reason("authentication failed");
  CHECK(round_trip(r).reason() == "authentication failed");

  v1::HeartbeatAck ack;
  ack.set_version(1);
  ack.set_seq(9);
  ack.set_sent_at_us(-5);
  CHECK(round_trip(ack).sent_at_us() == -5);

  v1::ViewChanged vc;
  vc.set_version(1);
  vc.set_table_version(99);
  CHECK(round_trip(vc).table_version() == 99);

  v1::Alert a;
  a.set_version(1);
  *a.mutable_tx() = sample_tx();
  a.set_origin_node("node-c");
  auto a2 = round_trip(a);
  CHECK(a2.origin_node() == "node-c");
  CHECK(a2.tx().risk_bucket() == "medium");

  v1::Leaving l;
  l.set_version(1);
  l.set_node_name("node-c");
  l.set_incarnation(3);
  CHECK(round_trip(l).incarnation() == 3);
}

TEST_CASE("heartbeats carry utilization since minor 2, absent reads as unknown and 0 as 0") {
  CHECK(v1::PROTOCOL_MINOR >= 2);
  v1::Heartbeat hb;
  hb.set_version(v1::PROTOCOL_MINOR);
  hb.set_cpu_utilization(0.0); // a measured 0 must stay distinguishable from "not sent"
  hb.set_memory_utilization(0.42);
  auto out = round_trip(hb);
  REQUIRE(out.has_cpu_utilization());
  CHECK(out.cpu_utilization() == 0.0);
  REQUIRE(out.has_memory_utilization());
  CHECK(out.memory_utilization() == 0.42);

  // A minor-1 peer never sets them.
  v1::HeartbeatAck old;
  old.set_version(1);
  old.set_seq(3);
  auto ack = round_trip(old);
  CHECK_FALSE(ack.has_cpu_utilization());
  CHECK_FALSE(ack.has_memory_utilization());
  auto u = klerno::cluster::utilization_of(ack);
  CHECK_FALSE(u.cpu);
  CHECK_FALSE(u.memory);
}

TEST_CASE("utilization is read as unknown when out of range and written only when known") {
  v1::HeartbeatAck ack;
  klerno::cluster::set_utilization(ack, klerno::runtime::member_utilization{0.5, std::nullopt});
  CHECK(ack.has_cpu_utilization());
  CHECK_FALSE(ack.has_memory_utilization());
  ack.set_memory_utilization(1.5);
  auto u = klerno::cluster::utilization_of(round_trip(ack));
  CHECK(u.cpu == 0.5);
  CHECK_FALSE(u.memory);
}
