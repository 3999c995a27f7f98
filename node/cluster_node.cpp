#include "node/cluster_node.hpp"

#include <atomic>
#include <stdexcept>

#include <unistd.h>

#include <caf/actor_registry.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/publish.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/alerts/hub.hpp"
#include "actors/remote/services.hpp"
#include "actors/storage/pg/membership_pg.hpp"
#include "cluster/endpoint.hpp"
#include "cluster/membership.hpp"
#include "cluster/messages.hpp"
#include "cluster/table_actor.hpp"
#include "runtime/logging.hpp"

namespace klerno::node {

namespace {

cluster::member_role member_role_of(config::node_role r) {
  switch (r) {
    case config::node_role::edge:
      return cluster::member_role::edge;
    case config::node_role::worker:
      return cluster::member_role::worker;
    case config::node_role::both:
      return cluster::member_role::both;
  }
  return cluster::member_role::both;
}

} // namespace

std::string advertised_host(const config::cluster_settings& c) {
  if (!c.advertise_host.empty()) {
    return c.advertise_host;
  }
  if (c.bind_address != "0.0.0.0" && c.bind_address != "::") {
    return c.bind_address;
  }
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0') {
    return name;
  }
  return "localhost";
}

cluster_node::cluster_node(const config::settings& cfg, cluster::identity id,
                           runtime::metrics::registry& reg, const runtime::health_board& health,
                           runtime::autoscale_board& autoscale)
    : cfg_(cfg),
      id_(std::move(id)),
      metrics_(std::make_shared<cluster::cluster_metrics>(reg)),
      health_(health),
      autoscale_(autoscale),
      stopping_(std::make_shared<std::atomic<bool>>(false)) {}

cluster_node::~cluster_node() {
  stop();
}

void cluster_node::configure(caf::actor_system_config& caf_cfg, const config::settings& cfg) {
  const auto& c = cfg.cluster;
  caf_cfg.load<caf::io::middleman>();
  // BASP heartbeats keep an idle connection visibly alive and close one whose peer went silent
  // (frozen or cut off) -- TCP alone would wait for minutes. The membership actor runs its own,
  // faster failure detector on top (CLUSTER_SUSPECT_TIMEOUT).
  caf_cfg.set("middleman.heartbeat-interval", caf::timespan{c.heartbeat_interval});
  caf_cfg.set("middleman.connection-timeout", caf::timespan{c.suspect_timeout * 2});
  if (c.tls) {
    // Certificates are required on both sides (CAF's OpenSSL module verifies the peer's chain
    // against the CA once any of these is set).
    caf_cfg.openssl_certificate = c.tls_cert;
    caf_cfg.openssl_key = c.tls_key;
    caf_cfg.openssl_cafile = c.tls_ca;
    caf_cfg.load<caf::openssl::manager>();
  }
}

void cluster_node::watch(const caf::actor& a, const char* what) {
  a->attach_functor([stopping = stopping_, on_failure = on_failure_,
                     what = std::string{what}](const caf::error& reason) {
    if (!stopping->load() && on_failure) {
      on_failure("the cluster " + what + " actor exited: " + caf::to_string(reason));
    }
  });
}

uint16_t cluster_node::open(caf::actor_system& sys, failure_handler on_failure) {
  sys_ = &sys;
  on_failure_ = std::move(on_failure);
  const auto& c = cfg_.cluster;

  actors::storage::pg::membership_options mo;
  mo.url = cfg_.storage.database_url.reveal();
  mo.connect_timeout = cfg_.storage.connect_timeout;
  // A vote or heartbeat write waits at most a suspicion timeout; a slower table is "unreachable".
  mo.statement_timeout = std::max(c.suspect_timeout, std::chrono::milliseconds{500});
  table_ =
    cluster::spawn_table_actor(sys, [mo] { return actors::storage::pg::make_membership_db(mo); });
  watch(table_, "table");

  actors::remote::services_config sc;
  sc.board = &board_;
  sc.node_name = id_.node_name;
  sc.timeout = cfg_.http.request_timeout;
  services_ = actors::remote::spawn_services(sys, sc);
  watch(services_, "services");
  // Alerts raised here reach the peers through the services actor (the hub looks it up).
  sys.registry().put(actors::alerts::alert_fan_name,
                     caf::actor_cast<caf::strong_actor_ptr>(services_));

  cluster::endpoint_config ec;
  ec.secret = c.cluster_secret;
  ec.node_name = id_.node_name;
  ec.incarnation = id_.incarnation;
  ec.role = member_role_of(c.role);
  ec.services = services_;
  ec.metrics = metrics_;
  ec.health = &health_;
  endpoint_ = cluster::spawn_endpoint(sys, ec);
  watch(endpoint_, "endpoint");
  sys.registry().put(cluster::endpoint_name, caf::actor_cast<caf::strong_actor_ptr>(endpoint_));

  const char* in = c.bind_address.empty() ? nullptr : c.bind_address.c_str();
  auto bound = c.tls ? caf::openssl::publish(endpoint_, c.port, in, true)
                     : caf::io::publish(endpoint_, c.port, in, true);
  if (!bound) {
    throw std::runtime_error("cannot open the cluster port " + c.bind_address + ":"
                             + std::to_string(c.port) + ": " + sys.render(bound.error()));
  }
  port_ = *bound;
  auto host = advertised_host(c);
  bool v6 = host.find(':') != std::string::npos;
  address_ = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port_);
  runtime::logging::get("cluster")->info("cluster port {}:{} open{}; reachable as {}; role {}",
                                         c.bind_address, port_, c.tls ? " (TLS)" : "", address_,
                                         config::to_string(c.role));
  return port_;
}

void cluster_node::join(view_handler on_view) {
  if (sys_ == nullptr || membership_) {
    return;
  }
  cluster::membership_config mc;
  mc.settings = cfg_.cluster;
  mc.node_name = id_.node_name;
  mc.incarnation = id_.incarnation;
  mc.address = address_;
  mc.role = member_role_of(cfg_.cluster.role);
  mc.table = table_;
  mc.endpoint = endpoint_;
  mc.board = &board_;
  mc.metrics = metrics_;
  mc.health = &health_;
  mc.autoscale = &autoscale_;
  mc.on_view = std::move(on_view);
#ifdef KLERNO_VERSION
  mc.app_version = KLERNO_VERSION;
#endif
  membership_ = cluster::spawn_membership(*sys_, std::move(mc));
  watch(membership_, "membership");
  sys_->registry().put(cluster::membership_name,
                       caf::actor_cast<caf::strong_actor_ptr>(membership_));
}

void cluster_node::leave() {
  if (membership_) {
    caf::anon_send(membership_, cluster::leave_atom::value);
  }
}

bool cluster_node::exit(std::chrono::milliseconds budget) {
  if (!membership_ || sys_ == nullptr) {
    return false;
  }
  bool recorded = false;
  caf::scoped_actor self{*sys_};
  self->request(membership_, budget, cluster::exit_atom::value)
    .receive([&recorded](bool ok) { recorded = ok; },
             [this](caf::error& err) {
               runtime::logging::get("cluster")->warn("could not mark this member exiting: {}",
                                                      sys_->render(err));
             });
  return recorded;
}

void cluster_node::stop() {
  if (sys_ == nullptr || stopping_->exchange(true)) {
    return;
  }
  auto& reg = sys_->registry();
  reg.erase(cluster::membership_name);
  reg.erase(cluster::endpoint_name);
  reg.erase(actors::alerts::alert_fan_name);
  if (port_ != 0 && endpoint_) {
    // (caf::openssl::unpublish does not compile in 0.17.6: ask the middleman actor directly.)
    auto mm =
      cfg_.cluster.tls ? sys_->openssl_manager().actor_handle() : sys_->middleman().actor_handle();
    caf::scoped_actor self{*sys_};
    self
      ->request(mm, std::chrono::seconds(5), caf::unpublish_atom::value, endpoint_.address(), port_)
      .receive([] {},
               [this](caf::error& err) {
                 runtime::logging::get("cluster")->warn("closing the cluster port: {}",
                                                        sys_->render(err));
               });
  }
  for (auto* a : {&membership_, &endpoint_, &services_, &table_}) {
    if (*a) {
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
      *a = caf::actor{};
    }
  }
}

} // namespace klerno::node
