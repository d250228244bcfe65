#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace berth::runtime {

// A per-container monitor, in the role of containerd-shim: it outlives the
// agent, is the parent (subreaper) of the container's init process, and
// leaves the exit status in <state_dir>/exit.json for whichever agent
// instance asks next.
struct ShimOptions {
  std::string id;
  std::string bundle;
  std::string state_dir;  // exit.json, init.pid, shim.pid
  std::string runc_binary = "/usr/sbin/runc";
  std::string runc_root;
  std::string stdout_path;  // the container's stdout/stderr files (appended); empty: /dev/null
  std::string stderr_path;
  // Instead of raw files: both streams through pipes into one CRI-format
  // log (runtime/logs/cri_log.h), rotated at log_max_bytes / log_max_files,
  // as containerd's shim and the kubelet's log manager keep them.
  std::string log_path;
  uint64_t log_max_bytes = 10 << 20;
  int log_max_files = 5;
  // The container's linux.cgroupsPath, for the OOM check; empty: read it
  // from the bundle's config.json.
  std::string cgroups_path;
  // Where the shim reports "ok <shim pid> <init pid>" or "error <message>"
  // once the container has started (or failed to); -1: nowhere.
  int ready_fd = -1;
};

// What exit.json holds. Field names follow the Kubernetes
// ContainerStateTerminated they feed.
struct ExitStatus {
  int exit_code = 0;  // 128+N when killed by signal N
  int signal = 0;
  bool oom_killed = false;
  std::string reason;  // Completed, Error, OOMKilled, StartError
  std::string message;
  std::string started_at;   // RFC 3339 with nanoseconds, UTC
  std::string finished_at;  // likewise
  pid_t pid = 0;
};

std::string exitStatusJson(const ExitStatus& status);
Result<ExitStatus> parseExitStatus(std::string_view json_text);
// NotFound until the shim has written <state_dir>/exit.json.
Result<ExitStatus> readExitStatus(const std::string& state_dir);
// The shim that runs the container of `state_dir` while it is alive: its
// pid from <state_dir>/shim.pid, else 0 (it has gone, or its pid belongs
// to another process now).
pid_t liveShim(const std::string& state_dir);
// Exit code and reason for a wait status (kubelet's convention: 128+signal).
ExitStatus exitStatusFromWait(int wait_status, bool oom_killed);

// The shim itself: setsid, PR_SET_CHILD_SUBREAPER, stdio to /dev/null, runc
// create + start, wait for the init pid, write exit.json atomically, runc
// delete. Returns the shim process's exit code (0 once exit.json is written).
// Meant to run as its own process (`berth shim ...` or startShim's child).
int runShim(const ShimOptions& options);

// Starts a detached shim and waits until it reports the container started
// (returns the shim's pid) or failed (the error carries runc's message, and
// exit.json says StartError). The shim is double-forked so that it is no
// child of the caller and survives it. With self_exe empty the grandchild
// calls runShim directly (fine for single-threaded callers such as tests);
// otherwise it execs berth-shim from self_exe's directory (or, when there
// is none, `self_exe shim`) with shimArgs — what a multithreaded agent must
// use, since only async-signal-safe calls are safe after fork.
Result<pid_t> startShim(const ShimOptions& options, const std::string& self_exe = "");

// `berth shim [--detach] ARGS` and `berth-shim [--detach] ARGS`: parses
// the arguments and runs the shim; its exit code. --detach: the shim goes
// on in a new session in a child process, and this one returns at once.
int shimMain(const std::vector<std::string>& args);

// The `berth shim` command line for options (without the program and
// subcommand names), and its parser.
std::vector<std::string> shimArgs(const ShimOptions& options);
Result<ShimOptions> parseShimArgs(const std::vector<std::string>& args);

}  // namespace berth::runtime
