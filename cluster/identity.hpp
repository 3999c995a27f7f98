#pragma once

// The identity of one klerno-node process within the cluster.

#include <cstdint>
#include <string>

namespace klerno::cluster {

/// Who this process is: the configured node name, a random instance id unique to this process
/// start, and an incarnation that grows with every restart of the same node name (a node that
/// was declared dead and comes back rejoins with a higher incarnation).
struct identity {
  std::string node_name;    ///< NODE_NAME (stable across restarts)
  std::string instance_id;  ///< 32 lower-case hex digits from a CSPRNG, new for every process
  uint64_t incarnation = 0; ///< milliseconds since the Unix epoch at process start
};

/// Creates the identity of this process for `node_name`.
identity make_identity(const std::string& node_name);

} // namespace klerno::cluster
