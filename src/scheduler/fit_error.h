#pragma once

// framework.FitError / Diagnosis: why a pod fits no node, and the message
// users see in the PodScheduled condition and the FailedScheduling event:
//   0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated
//   taint {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes
//   are available: 3 Preemption is not helpful for scheduling.

#include <set>
#include <string>

#include "scheduler/framework.h"

namespace berth::scheduler {

struct Diagnosis {
  NodeStatusMap node_statuses;
  // Plugins that rejected the pod (Unschedulable or UnschedulableAndUnresolvable).
  std::set<std::string> unschedulable_plugins;
  std::string pre_filter_msg;
  std::string post_filter_msg;
};

// FitError.Error(): "0/N nodes are available:" then the PreFilter message,
// or else the filter reasons counted over nodes as "<count> <reason>",
// sorted as strings and joined by ", ", each part ending in "."; then the
// PostFilter message.
std::string fitErrorMessage(int num_all_nodes, const std::string& pre_filter_msg,
                            const NodeStatusMap& statuses, const std::string& post_filter_msg);
inline std::string fitErrorMessage(int num_all_nodes, const Diagnosis& d) {
  return fitErrorMessage(num_all_nodes, d.pre_filter_msg, d.node_statuses, d.post_filter_msg);
}

}  // namespace berth::scheduler
