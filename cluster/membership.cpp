#include "cluster/membership.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <fmt/format.h>

#include "cluster/auth.hpp"
#include "cluster/endpoint.hpp"
#include "cluster/messages.hpp"
#include "cluster/utilization.hpp"
#include "proto/cluster.pb.h"
#include "runtime/errc.hpp"
#include "runtime/logging.hpp"
#include "runtime/mailbox_probe.hpp"

namespace klerno::cluster {

namespace v1 = klerno::cluster::v1;

namespace {

using beat_tick_atom = caf::atom_constant<caf::atom("m_beat")>;
using alive_tick_atom = caf::atom_constant<caf::atom("m_alive")>;
using refresh_tick_atom = caf::atom_constant<caf::atom("m_refresh")>;

using steady = std::chrono::steady_clock;

/// A connection to another node's endpoint.
struct link {
  std::string address;         ///< "host:port" as dialled
  caf::actor endpoint;         ///< valid once connected
  member_ref ref;              ///< who answered the handshake
  bool connecting = false;     ///< connect or handshake in progress
  bool ready = false;          ///< authenticated
  steady::time_point last_ack; ///< last heartbeat answered (or when it became ready)
  steady::time_point retry_at; ///< no new attempt before this
  int failures = 0;            ///< consecutive failed attempts (backoff)
  uint64_t seq = 0;
  steady::time_point wanted_since = steady::now(); ///< since when it is wanted but missing
  bool linked_before = false;                      ///< it was ready once (and then lost)
};

enum class phase { starting, joining, up, leaving, exiting };

struct membership_state {
  membership_config cfg;
  member_ref self_ref;
  phase ph = phase::starting;
  table_view table;
  bool have_table = false;
  std::map<std::string, link> links; ///< by address
  std::vector<std::string> seeds;    ///< resolved seed addresses
  std::set<member_ref> voting;       ///< suspicions in progress (one at a time per target)
  /// When each up member was last heard from (heartbeat answered, handshake, or first seen up):
  /// the failure detector's clock, kept per member so that a lost connection counts as silence.
  std::map<member_ref, steady::time_point> heard;
  steady::time_point last_detect; ///< the previous run of the failure detector
  bool reading = false;           ///< a table read is in flight
  bool read_again = false;        ///< another read was asked for meanwhile
  bool changing = false;          ///< a status change of our own is in flight
  std::shared_ptr<const view> current = std::make_shared<const view>();
  uint64_t generation = 0;
  steady::time_point waiting_logged;
  /// The latest utilization each peer reported (heartbeat or ack), and when it arrived.
  std::map<member_ref, std::pair<runtime::member_utilization, steady::time_point>> utilization;
  static inline const char* name = "klerno.membership";
};

using membership_actor = caf::stateful_actor<membership_state>;

std::shared_ptr<spdlog::logger> log() {
  return runtime::logging::get("cluster");
}

std::string serialize(const google::protobuf::MessageLite& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

std::string error_text(membership_actor* self, const caf::error& err) {
  const auto& ctx = err.context();
  if (!ctx.empty() && ctx.match_element<std::string>(0)) {
    return ctx.get_as<std::string>(0);
  }
  return self->system().render(err);
}

void read_table(membership_actor* self);
void publish(membership_actor* self);
void on_table(membership_actor* self, table_view t);
void ensure_link(membership_actor* self, const std::string& address, bool dial);

/// How often a status change of our own is retried after losing a race for the table version.
constexpr int max_status_attempts = 50;

/// How often a vote (or the decision after it) is retried at once after losing that race.
constexpr int max_vote_attempts = 10;

/// Returns how long a row's own heartbeat may be silent before anyone may declare it dead.
std::chrono::milliseconds stale_after(const membership_config& cfg) {
  return std::max(cfg.settings.vote_window, cfg.settings.suspect_timeout * 4);
}

/// Whether a member with this status takes part in the cluster (links, heartbeats).
bool is_active(member_status st) {
  return st == member_status::up || st == member_status::joining || st == member_status::leaving;
}

bool is_live(const member_row& r, const table_view& t, const membership_config& cfg) {
  bool active = is_active(r.status);
  return active && t.read_at - r.heartbeat_at < stale_after(cfg);
}

/// Tells every ready peer that the table changed.
void gossip(membership_actor* self) {
  v1::ViewChanged vc;
  vc.set_version(v1::PROTOCOL_MINOR);
  vc.set_table_version(self->state.table.version);
  auto bytes = serialize(vc);
  for (auto& [addr, l] : self->state.links) {
    if (l.ready) {
      self->send(l.endpoint, view_changed_atom::value, bytes);
    }
  }
}

/// A status change of our own row; re-reads the table afterwards.
/// Changes our own row's status. The change names the table version we read: when another
/// change came first (a node joining or leaving at the same moment), it re-reads the table and
/// tries again, as long as our row is alive.
void set_own_status(membership_actor* self, member_status st, std::function<void(bool)> done,
                    int attempt = 0) {
  auto& s = self->state;
  s.changing = true;
  self
    ->request(s.cfg.table, std::chrono::seconds(10), status_atom::value, s.self_ref, st,
              s.table.version)
    .then(
      [self, st, done, attempt](outcome out) {
        if (out == outcome::conflict && attempt < max_status_attempts) {
          self->request(self->state.cfg.table, std::chrono::seconds(10), read_atom::value)
            .then(
              [self, st, done, attempt](table_view& t) {
                on_table(self, std::move(t)); // still `changing`: no join or rejoin meanwhile
                const auto* me = self->state.table.find(self->state.self_ref);
                if (me != nullptr && me->status != member_status::dead) {
                  set_own_status(self, st, done, attempt + 1);
                  return;
                }
                self->state.changing = false;
                read_table(self);
                if (done) {
                  done(false);
                }
              },
              [self, done](caf::error& err) {
                self->state.changing = false;
                log()->warn("cannot update our status: {}", error_text(self, err));
                if (done) {
                  done(false);
                }
              });
          return;
        }
        self->state.changing = false;
        if (out == outcome::applied) {
          ++self->state.table.version;
          log()->info("{} is now {}", to_string(self->state.self_ref), to_string(st));
          gossip(self);
        }
        read_table(self);
        if (done) {
          done(out == outcome::applied);
        }
      },
      [self, done](caf::error& err) {
        self->state.changing = false;
        log()->warn("cannot update our status: {}", error_text(self, err));
        read_table(self);
        if (done) {
          done(false);
        }
      });
}

// -- links ------------------------------------------------------------------------------------

void drop_link(membership_actor* self, const std::string& address) {
  auto i = self->state.links.find(address);
  if (i == self->state.links.end()) {
    return;
  }
  if (i->second.endpoint) {
    self->demonitor(i->second.endpoint);
  }
  self->state.links.erase(i);
}

void link_failed(membership_actor* self, const std::string& address, const std::string& why) {
  auto i = self->state.links.find(address);
  if (i == self->state.links.end()) {
    return;
  }
  auto& l = i->second;
  bool was_ready = l.ready;
  l.connecting = false;
  l.ready = false;
  if (l.endpoint) {
    self->demonitor(l.endpoint);
    l.endpoint = caf::actor{};
  }
  if (was_ready) {
    l.wanted_since = steady::now();
  }
  if (was_ready) {
    // A link that worked is re-dialled at once by its dialler (the greater name): a blip must
    // not last until the failure detector votes. The other side waits for it (ensure_link).
    l.failures = 0;
    l.retry_at = steady::time_point{};
    log()->warn("lost {} at {}: {}", to_string(l.ref), address, why);
    publish(self);
    auto& s = self->state;
    if ((s.ph == phase::up || s.ph == phase::leaving) && s.self_ref.name > l.ref.name) {
      ensure_link(self, address, true);
    }
    return;
  }
  ++l.failures;
  auto backoff = std::min<std::chrono::milliseconds>(self->state.cfg.settings.heartbeat_interval
                                                       * (1 << std::min(l.failures, 5)),
                                                     std::chrono::seconds(5));
  l.retry_at = steady::now() + backoff;
  if (l.failures <= 3) {
    log()->info("cannot reach {}: {}", address, why);
  }
}

/// A dial or handshake through `via` failed; unless the peer linked to us meanwhile over
/// another handle (it dialled us, see ensure_link), the link failed.
void handshake_failed(membership_actor* self, const std::string& address, const caf::actor& via,
                      const std::string& why) {
  auto i = self->state.links.find(address);
  if (i == self->state.links.end()) {
    return;
  }
  auto& l = i->second;
  if (l.ready && l.endpoint && l.endpoint != via) {
    l.connecting = false;
    return;
  }
  link_failed(self, address, why);
}

/// Runs the joiner side of the handshake with the endpoint at `address`.
void handshake(membership_actor* self, const std::string& address, caf::actor endpoint) {
  auto& s = self->state;
  auto t = std::make_shared<auth::transcript>();
  t->joiner_name = s.self_ref.name;
  t->joiner_incarnation = s.self_ref.incarnation;
  t->joiner_version = v1::PROTOCOL_MINOR;
  t->joiner_nonce = auth::make_nonce();
  v1::Hello hello;
  hello.set_version(v1::PROTOCOL_MINOR);
  hello.set_node_name(s.self_ref.name);
  hello.set_incarnation(s.self_ref.incarnation);
  hello.set_address(s.cfg.address);
  hello.set_app_version(s.cfg.app_version);
  hello.set_role(static_cast<v1::Role>(to_wire(s.cfg.role)));
  hello.set_nonce(t->joiner_nonce);
  auto timeout = s.cfg.settings.suspect_timeout * 2;
  self->request(endpoint, timeout, hello_atom::value, serialize(hello))
    .then(
      [self, address, endpoint, t, timeout](bool ok, const std::string& bytes) {
        auto& s = self->state;
        if (!ok) {
          v1::Refused r;
          r.ParseFromString(bytes);
          handshake_failed(self, address, endpoint, "refused: " + r.reason());
          return;
        }
        v1::Challenge ch;
        if (!ch.ParseFromString(bytes) || ch.version() == 0) {
          handshake_failed(self, address, endpoint, "malformed Challenge");
          return;
        }
        t->responder_name = ch.node_name();
        t->responder_incarnation = ch.incarnation();
        t->responder_version = ch.version();
        t->responder_nonce = ch.nonce();
        // The responder proves the secret first: a node without it is never trusted.
        if (!auth::verify(s.cfg.settings.cluster_secret.reveal(), auth::challenge_label, *t,
                          ch.proof())) {
          if (s.cfg.metrics) {
            s.cfg.metrics->refused.with({"authentication"}).inc();
          }
          log()->warn("refused {} ({}): it could not prove CLUSTER_SECRET; not joining through it",
                      address, ch.node_name());
          // Our proof goes out all the same (it is bound to this handshake's nonces, so it is
          // worth nothing elsewhere): the peer then sees that a node with another secret tried
          // to reach it, and logs and counts the refusal too.
          v1::Proof proof;
          proof.set_version(v1::PROTOCOL_MINOR);
          proof.set_proof(
            auth::proof(s.cfg.settings.cluster_secret.reveal(), auth::proof_label, *t));
          self->request(endpoint, timeout, proof_atom::value, serialize(proof), caf::actor{})
            .then([](bool, const std::string&) {}, [](caf::error&) {});
          handshake_failed(self, address, endpoint, "the peer could not prove the secret");
          return;
        }
        // It proved the secret: our endpoint accepts its messages (heartbeats, gossip) from
        // now on, before it learns our proof and starts sending them.
        if (s.cfg.endpoint) {
          self->send(s.cfg.endpoint, trust_atom::value, endpoint.node());
        }
        v1::Proof proof;
        proof.set_version(v1::PROTOCOL_MINOR);
        proof.set_proof(auth::proof(s.cfg.settings.cluster_secret.reveal(), auth::proof_label, *t));
        member_ref ref{ch.node_name(), ch.incarnation()};
        self->request(endpoint, timeout, proof_atom::value, serialize(proof), s.cfg.endpoint)
          .then(
            [self, address, endpoint, ref](bool ok2, const std::string& reply) {
              auto i = self->state.links.find(address);
              if (i == self->state.links.end()) {
                return;
              }
              if (!ok2) {
                v1::Refused r;
                r.ParseFromString(reply);
                handshake_failed(self, address, endpoint, "refused: " + r.reason());
                return;
              }
              auto& l = i->second;
              bool monitored = l.endpoint == endpoint;
              if (l.endpoint && !monitored) {
                self->demonitor(l.endpoint);
              }
              l.endpoint = endpoint;
              l.ref = ref;
              l.connecting = false;
              l.ready = true;
              l.linked_before = true;
              l.failures = 0;
              l.last_ack = steady::now();
              self->state.heard[ref] = l.last_ack;
              if (!monitored) {
                self->monitor(endpoint);
              }
              log()->info("connected to {} at {}", to_string(ref), address);
              read_table(self);
            },
            [self, address, endpoint](caf::error& err) {
              handshake_failed(self, address, endpoint, error_text(self, err));
            });
      },
      [self, address, endpoint](caf::error& err) {
        handshake_failed(self, address, endpoint, error_text(self, err));
      });
}

/// Links to the endpoint at `address` unless a link exists or waits for its retry time: over
/// the handle we already hold (a re-handshake after we rejoined), else over a new connection.
///
/// CAF keeps one connection per pair of nodes and closes a redundant second one, which its
/// OpenSSL transport does not survive (the first connection goes down with it). So only one
/// side of a pair dials: a node still joining dials its seeds and the members it finds, and
/// between members the one with the greater name dials; the other learns the dialler's
/// endpoint from the handshake (`inbound_atom`). A link the other side should have opened but
/// has not within CLUSTER_SUSPECT_TIMEOUT is dialled anyway.
///
/// `dial`: true for a joining node (it dials everyone); for a member, whether its name is the
/// greater one: then it redials a lost link at once, and waits for a new member to dial it.
void ensure_link(membership_actor* self, const std::string& address, bool dial) {
  auto& s = self->state;
  if (address.empty() || address == s.cfg.address) {
    return;
  }
  auto& l = s.links[address];
  l.address = address;
  auto now = steady::now();
  if (l.ready || l.connecting || now < l.retry_at) {
    return;
  }
  if (l.endpoint) {
    l.connecting = true;
    handshake(self, address, l.endpoint);
    return;
  }
  bool joining = s.ph == phase::starting || s.ph == phase::joining;
  bool ours = joining || (dial && l.linked_before);
  if (!ours && now - l.wanted_since < s.cfg.settings.suspect_timeout) {
    return;
  }
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return;
  }
  auto host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto port = static_cast<uint16_t>(std::stoul(address.substr(colon + 1)));
  l.connecting = true;
  // With CLUSTER_TLS the connection goes through CAF's OpenSSL module (same interface).
  auto mm = s.cfg.settings.tls ? self->system().openssl_manager().actor_handle()
                               : self->system().middleman().actor_handle();
  self->request(mm, s.cfg.settings.suspect_timeout * 2, caf::connect_atom::value, host, port)
    .then(
      [self, address](const caf::node_id&, caf::strong_actor_ptr& ptr,
                      const std::set<std::string>&) {
        if (!ptr) {
          handshake_failed(self, address, caf::actor{}, "no actor published there");
          return;
        }
        handshake(self, address, caf::actor_cast<caf::actor>(ptr));
      },
      [self, address](caf::error& err) {
        handshake_failed(self, address, caf::actor{}, error_text(self, err));
      });
}

// -- failure detection -----------------------------------------------------------------------

/// Votes against `target` and declares it dead when enough members agree.
///
/// Every vote and decision names the table version it read, and the other voters' votes move
/// it: a vote or decision that loses that race re-reads the table and goes again at once (while
/// the target is still up there), instead of waiting for the next heartbeat and losing again.
void suspect(membership_actor* self, const member_ref& target, int attempt = 0) {
  auto& s = self->state;
  if (attempt == 0 && !s.voting.insert(target).second) {
    return;
  }
  // A majority of the up members other than the target (this node included) must agree.
  std::size_t others = 0;
  for (const auto& r : s.table.members) {
    if (r.status == member_status::up && !(r.ref() == target)) {
      ++others;
    }
  }
  auto required = std::max<std::size_t>(1, std::min(others, others / 2 + 1));
  auto window = s.cfg.settings.vote_window;
  auto timeout = std::chrono::seconds(5);
  if (attempt == 0) {
    log()->warn("suspecting {}: no heartbeat answered for {} ms", to_string(target),
                s.cfg.settings.suspect_timeout.count());
  }
  // Lost the race for the table version: read the table, vote again if the target is still up.
  auto again = [self, target, attempt] {
    self->request(self->state.cfg.table, std::chrono::seconds(5), read_atom::value)
      .then(
        [self, target, attempt](table_view& t) {
          on_table(self, std::move(t));
          const auto* row = self->state.table.find(target);
          if (row != nullptr && row->status == member_status::up
              && attempt + 1 < max_vote_attempts) {
            suspect(self, target, attempt + 1);
            return;
          }
          self->state.voting.erase(target);
        },
        [self, target](caf::error&) { self->state.voting.erase(target); });
  };
  self->request(s.cfg.table, timeout, suspect_atom::value, target, s.self_ref, s.table.version)
    .then(
      [self, target, required, window, timeout, again](outcome out) {
        auto& s = self->state;
        if (out == outcome::conflict) {
          again();
          return;
        }
        if (out != outcome::applied) {
          s.voting.erase(target);
          read_table(self);
          return;
        }
        ++s.table.version;
        self
          ->request(s.cfg.table, timeout, declare_atom::value, target, required, window,
                    s.table.version)
          .then(
            [self, target, required, again](vote_result res) {
              auto& s = self->state;
              if (res.result == outcome::conflict) {
                again();
                return;
              }
              s.voting.erase(target);
              if (res.result == outcome::applied) {
                ++s.table.version;
                if (s.cfg.metrics) {
                  s.cfg.metrics->declared_dead.inc();
                }
                log()->warn("declared {} dead ({} of {} votes)", to_string(target), res.fresh_votes,
                            required);
                gossip(self);
              }
              read_table(self);
            },
            [self, target](caf::error& err) {
              self->state.voting.erase(target);
              log()->warn("cannot declare {} dead: {}", to_string(target), error_text(self, err));
            });
      },
      [self, target](caf::error& err) {
        self->state.voting.erase(target);
        log()->warn("cannot vote against {}: {}", to_string(target), error_text(self, err));
      });
}

/// Suspects every up member not heard from for CLUSTER_SUSPECT_TIMEOUT, whether its connection
/// is open (a frozen process) or lost (a crashed one, or a cut link that does not come back).
void detect(membership_actor* self, steady::time_point now) {
  auto& s = self->state;
  // If this process itself was frozen (SIGSTOP, a stalled VM) or starved, everyone looks silent:
  // restart the clocks instead of voting against healthy members. The others have likely declared
  // this node dead meanwhile; the next table read finds out and rejoins.
  auto gap = s.last_detect == steady::time_point{} ? steady::duration::zero() : now - s.last_detect;
  s.last_detect = now;
  if (gap > s.cfg.settings.suspect_timeout) {
    log()->warn("this node did not run for {} ms (frozen or starved); restarting the failure "
                "detector's clocks",
                std::chrono::duration_cast<std::chrono::milliseconds>(gap).count());
    for (auto& [ref, t] : s.heard) {
      t = now;
    }
    read_table(self);
    return;
  }
  std::map<member_ref, steady::time_point> heard;
  for (const auto& r : s.table.members) {
    if (r.status != member_status::up || r.ref() == s.self_ref) {
      continue;
    }
    auto ref = r.ref();
    auto i = s.heard.find(ref);
    // First seen up now: its silence is counted from here.
    auto last = i == s.heard.end() ? now : i->second;
    heard.emplace(ref, last);
    if (s.ph == phase::up && now - last > s.cfg.settings.suspect_timeout) {
      suspect(self, ref);
    }
  }
  s.heard = std::move(heard);
}

/// Publishes the up members' latest utilization for the autoscaling signal.
void publish_utilization(membership_actor* self, steady::time_point now) {
  auto& s = self->state;
  if (s.cfg.autoscale == nullptr) {
    return;
  }
  runtime::autoscale_board::members out;
  std::map<member_ref, std::pair<runtime::member_utilization, steady::time_point>> kept;
  for (const auto& r : s.table.members) {
    if (r.status != member_status::up) {
      continue;
    }
    auto ref = r.ref();
    if (ref == s.self_ref) {
      out.self_up = true;
      continue;
    }
    runtime::member_utilization u;
    if (auto i = s.utilization.find(ref); i != s.utilization.end()) {
      if (now - i->second.second <= s.cfg.settings.suspect_timeout) {
        u = i->second.first;
      }
      kept.insert(*i);
    }
    out.peers.push_back(u);
  }
  s.utilization = std::move(kept); // forget members that are no longer up
  s.cfg.autoscale->publish(std::move(out));
}

void beat(membership_actor* self) {
  auto& s = self->state;
  auto now = steady::now();
  detect(self, now);
  publish_utilization(self, now);
  auto own = own_utilization(s.cfg.health);
  for (auto& [addr, l] : s.links) {
    if (!l.ready) {
      continue;
    }
    v1::Heartbeat hb;
    hb.set_version(v1::PROTOCOL_MINOR);
    hb.set_node_name(s.self_ref.name);
    hb.set_incarnation(s.self_ref.incarnation);
    hb.set_seq(++l.seq);
    auto sent = now;
    hb.set_sent_at_us(
      std::chrono::duration_cast<std::chrono::microseconds>(sent.time_since_epoch()).count());
    set_utilization(hb, own);
    auto address = addr;
    self->request(l.endpoint, s.cfg.settings.suspect_timeout, beat_atom::value, serialize(hb))
      .then(
        [self, address, sent, ref = l.ref](const std::string& bytes) {
          auto i = self->state.links.find(address);
          if (i == self->state.links.end()) {
            return;
          }
          auto now = steady::now();
          if (v1::HeartbeatAck ack; ack.ParseFromString(bytes)) {
            self->state.utilization[ref] = {utilization_of(ack), now};
          }
          i->second.last_ack = std::max(i->second.last_ack, now);
          if (auto h = self->state.heard.find(ref); h != self->state.heard.end()) {
            h->second = std::max(h->second, now);
          }
          if (self->state.cfg.metrics) {
            self->state.cfg.metrics->heartbeat_rtt.observe(
              std::chrono::duration<double>(now - sent).count());
          }
        },
        [](caf::error&) {
          // Silence is what the failure detector measures; nothing to do per miss.
        });
  }
}

// -- the table --------------------------------------------------------------------------------

/// Starts over as a new incarnation (we were declared dead, or our row vanished).
void rejoin(membership_actor* self, const std::string& why) {
  auto& s = self->state;
  auto now_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
  auto next = std::max(now_ms, s.self_ref.incarnation + 1);
  log()->warn("{}: {}; rejoining as incarnation {}", to_string(s.self_ref), why, next);
  s.self_ref.incarnation = next;
  s.ph = phase::starting;
  if (s.cfg.endpoint) {
    self->send(s.cfg.endpoint, caf::update_atom::value, next);
  }
  for (auto& [addr, l] : s.links) {
    // Peers handshook with our old incarnation: introduce ourselves again.
    // (over the handle we hold: a second connection to the same node is what CAF's OpenSSL
    // transport does not survive, see ensure_link).
    if (l.ready) {
      l.ready = false;
      l.connecting = false;
      l.retry_at = steady::time_point{};
    }
  }
  publish(self);
}

/// Declares rows dead whose own heartbeat stopped long ago (their node is gone), one per read.
bool sweep_stale(membership_actor* self) {
  auto& s = self->state;
  for (const auto& r : s.table.members) {
    if (r.status == member_status::dead || r.ref() == s.self_ref
        || s.table.read_at - r.heartbeat_at < stale_after(s.cfg)) {
      continue;
    }
    auto target = r.ref();
    if (r.status == member_status::exiting) {
      // It left gracefully; its row ends as dead (and is removed an hour later).
      log()->info("{} left the cluster; marking its row dead", to_string(target));
    } else {
      log()->warn("{} has not written its heartbeat for over {} ms: declaring it dead",
                  to_string(target), stale_after(s.cfg).count());
    }
    self
      ->request(s.cfg.table, std::chrono::seconds(5), status_atom::value, target,
                member_status::dead, s.table.version)
      .then(
        [self](outcome out) {
          if (out == outcome::applied) {
            ++self->state.table.version;
            gossip(self);
          }
          read_table(self);
        },
        [self](caf::error& err) {
          log()->warn("cannot sweep a stale member: {}", error_text(self, err));
        });
    return true;
  }
  return false;
}

/// Joins: once authenticated with a live member (or allowed to bootstrap), adds our row and
/// marks it up.
void try_join(membership_actor* self) {
  auto& s = self->state;
  if (s.changing) {
    return;
  }
  bool any_live = false;
  bool linked_to_live = false;
  for (const auto& r : s.table.members) {
    if (r.name == s.self_ref.name || !is_live(r, s.table, s.cfg) || r.status != member_status::up) {
      continue;
    }
    any_live = true;
    ensure_link(self, r.address, true);
    auto i = s.links.find(r.address);
    if (i != s.links.end() && i->second.ready) {
      linked_to_live = true;
    }
  }
  for (const auto& seed : s.seeds) {
    ensure_link(self, seed, true);
  }
  // The table, not the seeds, says whether a cluster exists: seeds that answer while no member
  // is up are nodes starting at the same moment (every `docker compose up`, a StatefulSet
  // starting its pods in parallel), and they wait for the bootstrap node to form the cluster.
  // Two bootstrap nodes starting together on an empty table end in one cluster: both rows go
  // into the same table, and each links to the other as a member.
  bool may_bootstrap = !any_live && s.cfg.settings.bootstrap;
  if (!linked_to_live && !may_bootstrap) {
    auto now = steady::now();
    if (!any_live && now - s.waiting_logged > std::chrono::seconds(10)) {
      s.waiting_logged = now;
      log()->warn("no member is up in the membership table; waiting for one (set "
                  "CLUSTER_BOOTSTRAP=true on one node to form a new cluster)");
    }
    return;
  }
  if (may_bootstrap) {
    log()->info("no member is up in the membership table: forming a new cluster "
                "(CLUSTER_BOOTSTRAP)");
  }
  member_row row;
  row.name = s.self_ref.name;
  row.incarnation = s.self_ref.incarnation;
  row.address = s.cfg.address;
  row.app_version = s.cfg.app_version;
  row.role = s.cfg.role;
  row.status = member_status::joining;
  s.changing = true;
  s.ph = phase::joining;
  self->request(s.cfg.table, std::chrono::seconds(10), add_atom::value, row, s.table.version)
    .then(
      [self](outcome out) {
        auto& s = self->state;
        s.changing = false;
        if (out != outcome::applied) {
          s.ph = phase::starting;
          read_table(self);
          return;
        }
        ++s.table.version;
        set_own_status(self, member_status::up, [self](bool ok) {
          if (ok) {
            self->state.ph = phase::up;
          }
        });
      },
      [self](caf::error& err) {
        self->state.changing = false;
        self->state.ph = phase::starting;
        log()->warn("cannot add ourselves to the membership table: {}", error_text(self, err));
      });
}

void on_table(membership_actor* self, table_view t) {
  auto& s = self->state;
  s.table = std::move(t);
  s.have_table = true;
  if (sweep_stale(self)) {
    return;
  }
  const auto* me = s.table.find(s.self_ref);
  if (s.ph == phase::starting) {
    try_join(self);
  } else if (s.ph == phase::joining && !s.changing) {
    // Our change to `up` did not go through (the table failed, or it went through and its
    // answer was lost): finish the join from what the table says.
    if (me == nullptr || me->status == member_status::dead) {
      rejoin(self, me == nullptr ? "our row is gone" : "we were declared dead");
      return;
    }
    if (me->status == member_status::up) {
      s.ph = phase::up;
      log()->info("{} is now up", to_string(s.self_ref));
    } else if (me->status == member_status::joining) {
      set_own_status(self, member_status::up, [self](bool ok) {
        if (ok) {
          self->state.ph = phase::up;
        }
      });
    }
  } else if (me == nullptr || me->status == member_status::dead) {
    if (!s.changing && s.ph != phase::joining) {
      rejoin(self, me == nullptr ? "our row is gone" : "we were declared dead");
      return;
    }
  }
  // Links: to every live member but us; none to the dead or departed. The value: whether we
  // are the side that dials (see ensure_link).
  std::map<std::string, bool> wanted;
  for (const auto& r : s.table.members) {
    if (r.name == s.self_ref.name) {
      continue;
    }
    if (is_active(r.status)) {
      wanted[r.address] = s.self_ref.name > r.name;
    }
  }
  for (const auto& seed : s.seeds) {
    if (s.ph == phase::starting) {
      wanted.emplace(seed, true);
    }
  }
  // A ready link to a node that is not in the table yet stays: a joiner dials the members
  // before it adds its row.
  auto departed = [&s](const link& l) {
    for (const auto& r : s.table.members) {
      if (r.name == l.ref.name) {
        return r.incarnation > l.ref.incarnation
               || (r.incarnation == l.ref.incarnation && !is_active(r.status));
      }
    }
    return false;
  };
  std::vector<std::string> unwanted;
  for (auto& [addr, l] : s.links) {
    if (wanted.count(addr) == 0 && !l.connecting && (!l.ready || departed(l))) {
      unwanted.push_back(addr);
    }
  }
  for (const auto& addr : unwanted) {
    drop_link(self, addr);
  }
  if (s.ph != phase::starting) {
    for (const auto& [addr, dial] : wanted) {
      ensure_link(self, addr, dial);
    }
  }
  publish(self);
}

void read_table(membership_actor* self) {
  auto& s = self->state;
  if (s.reading) {
    s.read_again = true;
    return;
  }
  s.reading = true;
  self->request(s.cfg.table, std::chrono::seconds(10), read_atom::value)
    .then(
      [self](table_view& t) {
        auto& s = self->state;
        s.reading = false;
        on_table(self, std::move(t));
        if (s.read_again) {
          s.read_again = false;
          read_table(self);
        }
      },
      [self](caf::error& err) {
        auto& s = self->state;
        s.reading = false;
        s.read_again = false;
        auto now = steady::now();
        if (now - s.waiting_logged > std::chrono::seconds(10)) {
          s.waiting_logged = now;
          log()->warn("cannot read the membership table: {}", error_text(self, err));
        }
      });
}

// -- views ------------------------------------------------------------------------------------

void publish(membership_actor* self) {
  auto& s = self->state;
  auto v = std::make_shared<view>();
  v->generation = ++s.generation;
  v->table = s.table;
  v->placement = ring_of(s.table);
  v->self = s.self_ref;
  const auto* me = s.table.find(s.self_ref);
  v->self_status = me != nullptr ? me->status : member_status::joining;
  for (const auto& [addr, l] : s.links) {
    if (l.ready) {
      v->peers.emplace(l.ref, l.endpoint);
    }
  }
  auto previous = s.current;
  s.current = v;
  if (s.cfg.metrics) {
    s.cfg.metrics->view_changes.inc();
    std::map<std::string, std::size_t> counts{
      {"joining", 0}, {"up", 0}, {"leaving", 0}, {"exiting", 0}, {"dead", 0}};
    // Latest incarnation of each name only.
    std::map<std::string, const member_row*> latest;
    for (const auto& r : s.table.members) {
      auto& slot = latest[r.name];
      if (slot == nullptr || slot->incarnation < r.incarnation) {
        slot = &r;
      }
    }
    for (const auto& [name, r] : latest) {
      ++counts[to_string(r->status)];
    }
    for (const auto& [st, n] : counts) {
      s.cfg.metrics->members.with({st}).set(static_cast<double>(n));
    }
    if (!previous->placement.empty() && !(previous->placement == v->placement)) {
      std::size_t moved = 0;
      for (std::size_t p = 0; p < partition_count; ++p) {
        if (previous->placement.owner(p) != v->placement.owner(p)) {
          ++moved;
        }
      }
      s.cfg.metrics->handoffs.inc(moved);
    }
  }
  if (s.cfg.board != nullptr) {
    s.cfg.board->publish(v);
  }
  if (s.cfg.on_view) {
    s.cfg.on_view(*previous, *v);
  }
}

caf::behavior membership_impl(membership_actor* self, membership_config cfg) {
  auto& s = self->state;
  runtime::answer_mailbox_probes(self);
  s.cfg = std::move(cfg);
  s.self_ref = member_ref{s.cfg.node_name, s.cfg.incarnation};
  self->set_down_handler([self](caf::down_msg& msg) {
    std::vector<std::string> lost;
    for (auto& [addr, l] : self->state.links) {
      if (l.endpoint && l.endpoint.address() == msg.source) {
        lost.push_back(addr);
      }
    }
    for (const auto& address : lost) {
      link_failed(self, address, "connection lost");
    }
  });
  // Seeds: resolved once now and again at every refresh while not yet a member.
  std::vector<std::string> seeds;
  for (const auto& hp : s.cfg.settings.seeds) {
    bool v6 = hp.host.find(':') != std::string::npos;
    seeds.push_back((v6 ? "[" + hp.host + "]" : hp.host) + ":" + std::to_string(hp.port));
  }
  auto resolve = [self, seeds] {
    if (seeds.empty()) {
      return;
    }
    self->request(self->state.cfg.table, std::chrono::seconds(10), resolve_atom::value, seeds)
      .then([self](std::vector<std::string>& addrs) { self->state.seeds = std::move(addrs); },
            [](caf::error&) {});
  };
  resolve();
  read_table(self);
  self->delayed_send(self, s.cfg.settings.heartbeat_interval, beat_tick_atom::value);
  self->delayed_send(self, s.cfg.settings.heartbeat_interval, alive_tick_atom::value);
  self->delayed_send(self, s.cfg.settings.refresh_interval, refresh_tick_atom::value);
  return {
    [self](beat_tick_atom) {
      beat(self);
      self->delayed_send(self, self->state.cfg.settings.heartbeat_interval, beat_tick_atom::value);
    },
    [self](alive_tick_atom) {
      auto& s = self->state;
      if (s.ph != phase::starting && !s.changing) {
        self->request(s.cfg.table, s.cfg.settings.suspect_timeout, alive_atom::value, s.self_ref)
          .then(
            [self](outcome out) {
              if (out == outcome::rejected || out == outcome::not_found) {
                read_table(self); // on_table sees the eviction and rejoins
              }
            },
            [](caf::error&) {});
      }
      self->delayed_send(self, s.cfg.settings.heartbeat_interval, alive_tick_atom::value);
    },
    [self, resolve](refresh_tick_atom) {
      auto& s = self->state;
      if (s.ph == phase::starting) {
        resolve();
      }
      read_table(self);
      self->delayed_send(self, s.cfg.settings.refresh_interval, refresh_tick_atom::value);
    },
    [self](view_changed_atom) { read_table(self); },
    // A peer's utilization from its heartbeat (from our endpoint, local only).
    [self](utilization_atom, const std::string& name, uint64_t incarnation, double cpu,
           double memory) {
      if (!self->current_sender() || self->current_sender()->node() != self->node()) {
        return;
      }
      auto known = [](double x) {
        return std::isnan(x) ? std::nullopt : std::optional<double>{x};
      };
      self->state.utilization[member_ref{name, incarnation}] = {{known(cpu), known(memory)},
                                                                steady::now()};
    },
    // A peer dialled us and proved the secret (from our endpoint, local only): link to its
    // endpoint over the connection it opened.
    [self](inbound_atom, const std::string& name, uint64_t incarnation, const std::string& address,
           const caf::actor& endpoint) {
      auto& s = self->state;
      if (!self->current_sender() || self->current_sender()->node() != self->node() || !endpoint
          || address.empty() || address == s.cfg.address || name == s.self_ref.name) {
        return;
      }
      auto& l = s.links[address];
      l.address = address;
      if (l.ready && l.endpoint == endpoint && l.ref.incarnation == incarnation) {
        return;
      }
      if (l.endpoint && l.endpoint != endpoint) {
        self->demonitor(l.endpoint);
      }
      bool was_monitored = l.endpoint == endpoint;
      l.endpoint = endpoint;
      l.ref = member_ref{name, incarnation};
      l.ready = true;
      l.linked_before = true;
      l.failures = 0;
      l.retry_at = steady::time_point{};
      l.last_ack = steady::now();
      s.heard[l.ref] = l.last_ack;
      if (!was_monitored) {
        self->monitor(endpoint);
      }
      log()->info("linked with {} at {} (it dialled us)", to_string(l.ref), address);
      read_table(self);
    },
    [self](leave_atom) {
      auto rp = self->make_response_promise<bool>();
      auto& s = self->state;
      if (s.ph != phase::up) {
        rp.deliver(false);
        return rp;
      }
      s.ph = phase::leaving;
      set_own_status(self, member_status::leaving, [rp](bool ok) mutable { rp.deliver(ok); });
      return rp;
    },
    [self](exit_atom) {
      auto rp = self->make_response_promise<bool>();
      auto& s = self->state;
      if (s.ph != phase::leaving && s.ph != phase::up) {
        rp.deliver(false);
        return rp;
      }
      s.ph = phase::exiting;
      set_own_status(self, member_status::exiting, [rp](bool ok) mutable { rp.deliver(ok); });
      return rp;
    },
    [self](fan_atom, const std::string& alert_bytes) {
      for (auto& [addr, l] : self->state.links) {
        if (l.ready) {
          self->send(l.endpoint, alert_atom::value, alert_bytes);
        }
      }
    },
  };
}

} // namespace

caf::actor spawn_membership(caf::actor_system& sys, membership_config cfg) {
  return sys.spawn(membership_impl, std::move(cfg));
}

} // namespace klerno::cluster
