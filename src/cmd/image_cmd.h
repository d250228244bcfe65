#pragma once

#include <string>
#include <vector>

namespace berth::cmd {

// `berth image [--root DIR] import|pack|ls|rm ...`: the node's image store
// (runtime/image). Returns the process exit code.
int runImage(const std::vector<std::string>& args, const std::string& default_root);

}  // namespace berth::cmd
