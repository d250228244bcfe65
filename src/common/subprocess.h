#pragma once

// Running a helper program (runc, CNI plugins) and collecting its output:
// no shell and no PATH lookup (argv[0] is a path), stdin from a string (or
// /dev/null), stdout/stderr captured or sent to given descriptors, an
// optional environment, default signal dispositions in the child. Waits
// for exactly this child.

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace berth {

struct SubprocessOptions {
  std::string stdin_data;        // written to the child's stdin, then closed
  std::vector<std::string> env;  // KEY=VALUE; empty: the caller's environment
  bool replace_env = false;      // true: exactly `env` (else appended to ours)
  int stdout_fd = -1;            // >= 0: the child's stdout goes there
  int stderr_fd = -1;
};

struct SubprocessResult {
  int exit_code = 0;  // 128+N when killed by signal N
  std::string out;    // captured stdout (when not redirected)
  std::string err;    // captured stderr (when not redirected)
};

// Starts argv with in_fd/out_fd/err_fd as its stdin/stdout/stderr (-1:
// the caller's), default signal dispositions and an empty signal mask
// (whatever the calling thread has set), and `envp` as its environment
// (nullptr: the caller's). `extra_fds` (from, to) become the child's fd
// `to` besides. posix_spawn: no copy of the caller's address space, which a
// fork of a large multithreaded process pays for. Does not wait; the caller
// reaps the pid.
Result<pid_t> spawnProcess(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd,
                           char* const* envp = nullptr,
                           const std::vector<std::pair<int, int>>& extra_fds = {});

Result<SubprocessResult> runSubprocess(const std::vector<std::string>& argv,
                                       const SubprocessOptions& options = {});

// The fields of /proc/<pid>/stat as proc(5) numbers them from 1: out[0] is
// field 1 (the pid), out[1] the command without its parentheses, out[3]
// the parent's pid, out[21] the start time in clock ticks. Empty when the
// process is gone.
std::vector<std::string> procStat(pid_t pid);

}  // namespace berth
