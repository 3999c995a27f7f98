#include "actors/storage/storage.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/storage/connection.hpp"
#include "actors/storage/url.hpp"

namespace klerno::actors::storage {

pool_bounds resolve_pool_bounds(const settings& cfg, const std::string& url) {
  auto params = parse_pool_url(url);
  pool_bounds result;
  result.max = cfg.pool_max.value_or(params.max_connections.value_or(default_pool_max));
  result.max = std::max<std::size_t>(result.max, 1);
  result.min = cfg.pool_min.value_or(params.min_connections.value_or(default_pool_min));
  result.min = std::min(result.min, result.max);
  return result;
}

caf::atom_value replica_name(std::size_t index) {
  if (index >= 1000) {
    throw std::invalid_argument("replica index out of range");
  }
  return caf::atom_from_string("db_rep_" + std::to_string(index));
}

pool_config make_pool_config(const settings& cfg, const std::string& name, const std::string& url,
                             session_factory factory, metrics_ptr metrics) {
  auto bounds = resolve_pool_bounds(cfg, url);
  pool_config result;
  result.name = name;
  result.min = bounds.min;
  result.max = bounds.max;
  result.queue_max = cfg.queue_max;
  result.queue_timeout = cfg.queue_timeout;
  result.circuit_failures = cfg.circuit_failures;
  result.circuit_cooldown = cfg.circuit_cooldown;
  result.metrics = metrics;
  connection_config conn;
  conn.factory = std::move(factory);
  conn.pool = name;
  conn.backoff_min = cfg.reconnect_backoff_min;
  conn.backoff_max = std::max(cfg.reconnect_backoff_max, cfg.reconnect_backoff_min);
  conn.metrics = std::move(metrics);
  result.spawn = [conn](caf::actor_system& sys) {
    return spawn_connection(sys, conn);
  };
  return result;
}

namespace {

writer_config make_writer_config(const settings& cfg, insert_actor pool, metrics_ptr metrics) {
  writer_config result;
  result.pool = std::move(pool);
  result.max_rows = cfg.writer_batch_max_rows;
  result.max_delay = cfg.writer_batch_max_delay;
  result.max_inflight = cfg.writer_max_inflight;
  result.max_pending_rows = cfg.writer_max_pending_rows;
  result.metrics = std::move(metrics);
  return result;
}

reads_config make_reads_config(const pool_actor& primary, const std::vector<pool_actor>& replicas,
                               metrics_ptr metrics) {
  reads_config result;
  result.primary = primary;
  for (auto& r : replicas) {
    result.replicas.emplace_back(r);
  }
  result.metrics = std::move(metrics);
  return result;
}

std::string replica_pool_name(std::size_t index) {
  return "replica" + std::to_string(index);
}

} // namespace

storage_actors spawn_storage(caf::actor_system& sys, const settings& cfg,
                             const session_factory_maker& make, metrics_ptr metrics) {
  // Resolve every URL first, so a bad one spawns nothing.
  const auto& primary_url = cfg.primary_url.reveal();
  auto primary_cfg =
    make_pool_config(cfg, "primary", primary_url, make(primary_url, pool_role::primary), metrics);
  std::vector<pool_config> replica_cfgs;
  for (std::size_t i = 0; i < cfg.replica_urls.size(); ++i) {
    const auto& url = cfg.replica_urls[i].reveal();
    replica_cfgs.push_back(
      make_pool_config(cfg, replica_pool_name(i), url, make(url, pool_role::replica), metrics));
  }
  storage_actors result;
  result.primary = spawn_pool(sys, std::move(primary_cfg));
  for (auto& rc : replica_cfgs) {
    result.replicas.push_back(spawn_pool(sys, std::move(rc)));
  }
  result.writer = spawn_writer(sys, make_writer_config(cfg, result.primary, metrics));
  result.reads = spawn_reads(sys, make_reads_config(result.primary, result.replicas, metrics));
  return result;
}

void stop_storage(const storage_actors& actors) {
  auto stop = [](const auto& hdl) {
    if (hdl) {
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    }
  };
  stop(actors.reads);
  for (auto i = actors.replicas.rbegin(); i != actors.replicas.rend(); ++i) {
    stop(*i);
  }
  stop(actors.writer);
  stop(actors.primary);
}

runtime::supervisor_spec storage_supervisor(const settings& cfg, session_factory_maker make,
                                            metrics_ptr metrics, runtime::supervisor_hooks hooks) {
  // The current instances, filled by the start functions (rest_for_one keeps them consistent:
  // whoever holds a handle restarts after the actor it refers to).
  struct current {
    pool_actor primary;
    std::vector<pool_actor> replicas;
  };
  auto cur = std::make_shared<current>();
  cur->replicas.resize(cfg.replica_urls.size());

  runtime::supervisor_spec spec;
  spec.name = "storage";
  spec.strategy = runtime::restart_strategy::rest_for_one;
  spec.max_restarts = 5;
  spec.period = std::chrono::seconds(30);
  spec.hooks = std::move(hooks);

  runtime::child_spec primary;
  primary.name = "db_primary";
  primary.registry_name = primary_name;
  primary.start = [cfg, make, metrics, cur](caf::actor_system& sys) -> caf::expected<caf::actor> {
    const auto& url = cfg.primary_url.reveal();
    cur->primary = spawn_pool(
      sys, make_pool_config(cfg, "primary", url, make(url, pool_role::primary), metrics));
    return caf::actor_cast<caf::actor>(cur->primary);
  };
  spec.children.push_back(std::move(primary));

  runtime::child_spec writer;
  writer.name = "db_writer";
  writer.registry_name = writer_name;
  writer.start = [cfg, metrics, cur](caf::actor_system& sys) -> caf::expected<caf::actor> {
    return caf::actor_cast<caf::actor>(
      spawn_writer(sys, make_writer_config(cfg, cur->primary, metrics)));
  };
  spec.children.push_back(std::move(writer));

  for (std::size_t i = 0; i < cfg.replica_urls.size(); ++i) {
    runtime::child_spec replica;
    replica.name = "db_rep_" + std::to_string(i);
    replica.registry_name = replica_name(i);
    replica.start = [cfg, make, metrics, cur,
                     i](caf::actor_system& sys) -> caf::expected<caf::actor> {
      const auto& url = cfg.replica_urls[i].reveal();
      cur->replicas[i] = spawn_pool(sys, make_pool_config(cfg, replica_pool_name(i), url,
                                                          make(url, pool_role::replica), metrics));
      return caf::actor_cast<caf::actor>(cur->replicas[i]);
    };
    spec.children.push_back(std::move(replica));
  }

  runtime::child_spec reads;
  reads.name = "db_reads";
  reads.registry_name = reads_name;
  reads.start = [metrics, cur](caf::actor_system& sys) -> caf::expected<caf::actor> {
    return caf::actor_cast<caf::actor>(
      spawn_reads(sys, make_reads_config(cur->primary, cur->replicas, metrics)));
  };
  spec.children.push_back(std::move(reads));
  return spec;
}

} // namespace klerno::actors::storage
