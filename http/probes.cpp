#include "http/probes.hpp"

#include <nlohmann/json.hpp>

#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/sec.hpp>

#include "actors/health.hpp"
#include "http/bridge.hpp"
#include "runtime/text.hpp"

namespace klerno::http {

namespace {

using json = nlohmann::json;

/// Returns the current health actor (invalid while it restarts).
actors::health_actor find_health(actor_bridge& bridge) {
  return caf::actor_cast<actors::health_actor>(bridge.system().registry().get(actors::health_name));
}

json checks_json(const runtime::health_snapshot& snap) {
  json checks = json::object();
  for (const auto& c : snap.checks) {
    checks[c.name] = {
      {"status", c.ok ? "ok" : "failing"},
      {"required", c.required},
      {"latency_ms", static_cast<double>(c.latency.count()) / 1000.0},
      {"detail", c.detail},
      {"checked_at", runtime::rfc3339(c.checked_at)},
    };
  }
  return checks;
}

/// "ok", "degraded" (a non-required check fails), "unhealthy" (a required one fails), or the
/// lifecycle phase while not serving.
std::string overall_status(const runtime::health_board& board,
                           const runtime::health_snapshot& snap) {
  auto ph = board.current_phase();
  if (ph != runtime::phase::serving) {
    return runtime::to_string(ph);
  }
  std::string result = "ok";
  for (const auto& c : snap.checks) {
    if (!c.ok) {
      if (c.required) {
        return "unhealthy";
      }
      result = "degraded";
    }
  }
  return result;
}

json health_json(const probe_context& pc, const runtime::health_snapshot& snap) {
  auto now = std::chrono::system_clock::now();
  auto uptime = std::chrono::duration<double>(now - pc.board->started_at()).count();
  const auto& p = snap.process;
  return {
    {"status", overall_status(*pc.board, snap)},
    {"ready", pc.board->ready()},
    {"phase", runtime::to_string(pc.board->current_phase())},
    {"version", pc.version},
    {"environment", pc.environment},
    {"node", pc.identity.node_name},
    {"instance_id", pc.identity.instance_id},
    {"started_at", runtime::rfc3339(pc.board->started_at())},
    {"uptime_seconds", uptime},
    {"timestamp", runtime::rfc3339(now)},
    {"process",
     {
       {"resident_memory_bytes", p.resident_bytes},
       {"virtual_memory_bytes", p.virtual_bytes},
       {"cpu_seconds", p.cpu_seconds},
       {"cpu_percent", snap.cpu_percent},
       {"threads", p.threads},
       {"open_fds", p.open_fds},
       {"max_fds", p.max_fds},
     }},
    {"checks", checks_json(snap)},
  };
}

/// Collects the registry into JSON: {"name":{"type","help","samples":[...]}}.
class json_visitor final : public runtime::metrics::visitor {
public:
  explicit json_visitor(json& out) : out_(out) {}

  void begin_family(std::string_view name, std::string_view help,
                    runtime::metrics::kind k) override {
    current_ = &out_[std::string{name}];
    *current_ = {{"type", runtime::metrics::to_string(k)},
                 {"help", std::string{help}},
                 {"samples", json::array()}};
  }

  void value(const runtime::metrics::sample_view& s, double x) override {
    (*current_)["samples"].push_back({{"labels", labels(s)}, {"value", x}});
  }

  void histogram_value(const runtime::metrics::sample_view& s,
                       const runtime::metrics::histogram& h) override {
    json buckets = json::object();
    auto counts = h.cumulative_counts();
    const auto& bounds = h.bounds();
    for (std::size_t i = 0; i < bounds.size() && i < counts.size(); ++i) {
      buckets[fmt_bound(bounds[i])] = counts[i];
    }
    buckets["+Inf"] = counts.empty() ? 0 : counts.back();
    (*current_)["samples"].push_back(
      {{"labels", labels(s)}, {"buckets", buckets}, {"sum", h.sum()}, {"count", h.count()}});
  }

  void end_family() override {
    current_ = nullptr;
  }

private:
  static json labels(const runtime::metrics::sample_view& s) {
    json l = json::object();
    for (std::size_t i = 0; i < s.label_names.size() && i < s.labels.size(); ++i) {
      l[s.label_names[i]] = s.labels[i];
    }
    return l;
  }

  static std::string fmt_bound(double b) {
    auto s = json(b).dump();
    return s;
  }

  json& out_;
  json* current_ = nullptr;
};

response json_ok(const json& body) {
  return make_json(status::ok, body.dump());
}

} // namespace

void add_healthz_route(router& r) {
  r.add(verb::get, "/healthz", [](request_context&, responder done) {
    done(make_json(status::ok, "{\"status\":\"ok\"}"));
  });
}

void add_probe_routes(router& r, std::shared_ptr<const probe_context> ctx) {
  add_healthz_route(r);

  r.add(verb::get, "/liveness", [ctx](request_context& rc, responder done) {
    auto health = find_health(rc.bridge);
    if (!health) {
      done.error(status::service_unavailable, "the health actor is not running",
                 "{\"check\":\"actor_system\"}");
      return;
    }
    rc.bridge.self()
      ->request(health, ctx->liveness_timeout, actors::ping_atom::value)
      .then([done](actors::pong_atom) { done(make_json(status::ok, "{\"status\":\"alive\"}")); },
            [done, ctx](caf::error& err) {
              std::string details = "{\"check\":\"actor_system\",\"reason\":";
              runtime::append_json_string(details, caf::to_string(err));
              details += '}';
              done.error(status::service_unavailable,
                         "the actor system did not answer within LIVENESS_TIMEOUT", details);
            });
  });

  r.add(verb::get, "/startup", [ctx](request_context&, responder done) {
    if (ctx->board->started()) {
      done(make_json(status::ok, "{\"status\":\"started\"}"));
      return;
    }
    done.error(status::service_unavailable, "the node is starting", "{\"phase\":\"starting\"}");
  });

  r.add(verb::get, "/readiness", [ctx](request_context&, responder done) {
    const auto& board = *ctx->board;
    if (board.ready()) {
      done(make_json(status::ok, "{\"status\":\"ready\"}"));
      return;
    }
    auto snap = board.snapshot();
    json failing = json::array();
    for (const auto& c : snap->checks) {
      if (c.required && !c.ok) {
        failing.push_back(c.name);
      }
    }
    json details = {{"phase", runtime::to_string(board.current_phase())},
                    {"failing_checks", failing}};
    auto message =
      board.current_phase() == runtime::phase::serving
        ? "a required dependency check is failing"
        : "the node is not serving (phase " + details["phase"].get<std::string>() + ")";
    done.error(status::service_unavailable, message, details.dump());
  });

  auto detail = [ctx](bool with_metrics) {
    return [ctx, with_metrics](request_context& rc, responder done) {
      auto health = find_health(rc.bridge);
      if (!health) {
        done.error(status::service_unavailable, "the health actor is not running");
        return;
      }
      rc.bridge.self()
        ->request(health, ctx->health_timeout, caf::get_atom::value)
        .then(
          [ctx, done, with_metrics](const actors::snapshot_ptr& snap) {
            auto body = health_json(*ctx, *snap);
            if (with_metrics) {
              json families = json::object();
              json_visitor v{families};
              ctx->metrics->visit(v);
              body = {{"health", std::move(body)}, {"metrics", std::move(families)}};
            }
            done(json_ok(body));
          },
          [done](caf::error& err) {
            std::string details = "{\"reason\":";
            runtime::append_json_string(details, caf::to_string(err));
            details += '}';
            if (err == caf::sec::request_timeout) {
              done.error(status::gateway_timeout,
                         "the health actor did not answer within HTTP_REQUEST_TIMEOUT", details);
              return;
            }
            done.error(status::service_unavailable, "the health actor is unavailable", details);
          });
    };
  };
  route_options key_only{access::api_key, std::nullopt, {}};
  r.add(verb::get, "/health", detail(false), key_only);
  r.add(verb::get, "/metrics-detailed", detail(true), key_only);
}

void add_metrics_route(router& r, std::shared_ptr<const probe_context> ctx) {
  r.add(verb::get, "/metrics", [ctx](request_context&, responder done) {
    std::string body;
    body.reserve(16 * 1024);
    ctx->metrics->render(body);
    done(make_text(status::ok, std::move(body), "text/plain; version=0.0.4; charset=utf-8"));
  });
}

} // namespace klerno::http
