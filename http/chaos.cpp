#include "http/chaos.hpp"

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "http/bridge.hpp"
#include "runtime/logging.hpp"
#include "runtime/text.hpp"

namespace klerno::http {

namespace {

/// Registry names are CAF atoms: at most 10 characters; we accept [a-z0-9_] only.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 10) {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

} // namespace

void add_chaos_routes(router& r) {
  r.add(verb::post, "/chaos/actors/{name}/kill",
        [](request_context& rc, responder done) {
          auto name = rc.param("name");
          caf::strong_actor_ptr target;
          if (valid_name(name)) {
            target = rc.bridge.system().registry().get(caf::atom_from_string(name));
          }
          if (!target) {
            std::string details = "{\"name\":";
            runtime::append_json_string(details, name);
            details += '}';
            done.error(status::not_found, "no actor is registered under this name", details);
            return;
          }
          auto id = target->id();
          runtime::logging::get("actors")->warn("chaos: killing actor {} (id {}), request_id={}",
                                                name, id, rc.request_id);
          caf::anon_send_exit(target, caf::exit_reason::kill);
          std::string body = "{\"killed\":";
          runtime::append_json_string(body, name);
          body += fmt::format(",\"actor_id\":{}}}", id);
          done(make_json(status::accepted, std::move(body)));
        },
        {access::api_key, std::nullopt, {}});
}

} // namespace klerno::http
