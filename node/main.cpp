// klerno-node: one process of the Klerno runtime. All the work is in node/node.cpp; this file
// maps the command line to it and configuration errors to exit code 2.

#include <cstdio>
#include <exception>

#include "actors/cache/redis/url.hpp"
#include "config/loader.hpp"
#include "node/node.hpp"

int main(int argc, char** argv) {
  using namespace klerno;
  config::load_result loaded;
  try {
    loaded = config::load(argc, argv, config::environment_from_process());
  } catch (const config::error& e) {
    std::fprintf(stderr, "klerno-node: config error: %s\n", e.what());
    return node::exit_config_error;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "klerno-node: config error: %s\n", e.what());
    return node::exit_config_error;
  }
  if (!loaded.values.storage.redis_url.empty() && !loaded.show_help && !loaded.show_version) {
    try {
      cache::redis::parse_redis_url(loaded.values.storage.redis_url.reveal());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "klerno-node: config error: %s\n", e.what()); // names no password
      return node::exit_config_error;
    }
  }
  if (loaded.show_help) {
    std::fputs(config::help_text().c_str(), stdout);
    return node::exit_ok;
  }
  if (loaded.show_version) {
    std::printf("klerno-node %s\n", node::version());
    return node::exit_ok;
  }
  if (loaded.print_config) {
    std::fputs(config::render(loaded.values).c_str(), stdout);
    return node::exit_ok;
  }
  try {
    return node::run(loaded.values);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "klerno-node: fatal: %s\n", e.what());
    return node::exit_failure;
  }
}
