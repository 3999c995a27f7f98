#pragma once

// Start and stop of a node's components. Components start in dependency order; each stop is
// registered as soon as its start succeeded, and `stop_all` runs the registered stops in reverse
// order. So shutdown is always the start sequence reversed, also after a failed start.

#include <functional>
#include <string>
#include <vector>

namespace klerno::runtime {

/// Ordered start/stop of components.
class lifecycle {
public:
  /// Receives "starting x", "started x", "stopping x", "stopped x" and failures (for logging).
  using observer = std::function<void(const std::string& event, const std::string& component)>;

  explicit lifecycle(observer obs = {});

  /// Stops whatever is still registered.
  ~lifecycle();

  lifecycle(const lifecycle&) = delete;
  lifecycle& operator=(const lifecycle&) = delete;

  /// Runs `start`; once it returns, registers `stop` for shutdown. If `start` throws, the
  /// exception propagates and nothing is registered for this component (call `stop_all` to stop
  /// those started before it).
  void add(std::string name, const std::function<void()>& start, std::function<void()> stop);

  /// Runs every registered stop in reverse start order, each once. A stop that throws is
  /// reported to the observer and the others still run.
  void stop_all();

  /// Returns the names of the started components, in start order.
  std::vector<std::string> started() const;

private:
  struct entry {
    std::string name;
    std::function<void()> stop;
  };

  observer obs_;
  std::vector<entry> entries_;
};

} // namespace klerno::runtime
