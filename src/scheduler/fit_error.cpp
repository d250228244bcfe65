#include "scheduler/fit_error.h"

#include <algorithm>
#include <map>
#include <vector>

namespace berth::scheduler {

std::string fitErrorMessage(int num_all_nodes, const std::string& pre_filter_msg,
                            const NodeStatusMap& statuses, const std::string& post_filter_msg) {
  std::string msg = "0/" + std::to_string(num_all_nodes) + " nodes are available:";
  if (!pre_filter_msg.empty()) {
    msg += " " + pre_filter_msg + ".";
  } else {
    // With a PreFilter rejection every node carries the same status; its
    // message stands alone instead of being counted per node.
    std::map<std::string, int> reasons;
    for (const auto& [node, status] : statuses)
      for (const auto& r : status.reasons()) reasons[r]++;
    std::vector<std::string> parts;
    for (const auto& [r, n] : reasons) parts.push_back(std::to_string(n) + " " + r);
    std::sort(parts.begin(), parts.end());
    if (!parts.empty()) {
      msg += " ";
      for (size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
      msg += ".";
    }
  }
  if (!post_filter_msg.empty()) msg += " " + post_filter_msg;
  return msg;
}

}  // namespace berth::scheduler
