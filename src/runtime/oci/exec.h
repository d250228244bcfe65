#pragma once

// Running a command in a running container with `runc exec`, in the role of
// the CRI's ExecSync (execInContainer: output captured, a timeout) and Exec
// (startExec: the process and its pipes handed to the caller, for
// interactive `kubectl exec`).
//
// The exec'd process starts from the container's own process spec (user,
// environment, working directory, capabilities, rlimits, as containerd's
// CRI plugin copies spec.Process for an exec) with args replaced and the
// options' overrides applied. It is written to a process.json that runc
// reads (`runc exec --process FILE`); runc writes the process's host pid to
// --pid-file, which is how a timed-out command is killed.
//
// A command runc cannot start (not found, not executable) is no error here:
// it comes back as exit code 127 or 126 with runc's message, as Docker and
// dockershim reported it (`OCI runtime exec failed: exec failed: unable to
// start container process: exec: "foo": executable file not found in
// $PATH`).

#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runtime/oci/runc.h"

namespace berth::runtime {

// The user an exec runs as (runtime-spec process.user).
struct ExecUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
};

struct ExecOptions {
  std::vector<std::string> args;  // required; args[0] is looked up in the container's PATH
  // KEY=VALUE set over the container's environment (same key: replaced).
  std::vector<std::string> env;
  std::string cwd;               // empty: the container's working directory
  std::optional<ExecUser> user;  // empty: the container's user
  // The container's bundle (its config.json supplies the base process);
  // empty: asked from `runc state`.
  std::string bundle;
  // >= 0: the process's stdio goes there. -1: execInContainer captures
  // stdout/stderr and gives stdin /dev/null; startExec makes pipes.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // execInContainer keeps at most this many bytes of each captured stream;
  // the rest is read and dropped so that the process never blocks on a
  // full pipe.
  size_t max_output_bytes = 16 << 20;
  // execInContainer: the process is killed (SIGKILL) after this long and the
  // result says timed_out. 0: no timeout.
  std::chrono::milliseconds timeout{0};
  std::string temp_dir = "/tmp";  // where process.json, the pid file and runc's log go
};

struct ExecResult {
  int exit_code = 0;  // 128+N when killed by signal N; 126/127 when runc could not start it
  std::string out;    // captured stdout (at most max_output_bytes)
  std::string err;    // captured stderr (likewise)
  bool out_truncated = false;
  bool err_truncated = false;
  bool timed_out = false;
  // runc's message when the command could not be started (exit 126/127),
  // prefixed "OCI runtime exec failed: "; empty otherwise.
  std::string start_error;
};

// Runs options.args in the container and waits for it (or for the timeout).
// Errors: Invalid (no args), NotFound (runc does not know the container),
// Internal (runc failed for another reason, e.g. the container is stopped).
Result<ExecResult> execInContainer(const Runc& runc, const std::string& container_id,
                                   const ExecOptions& options);

// A started exec: the process runs under a `runc exec` child of ours. The
// destructor kills a process still running, reaps runc and removes the
// temp files.
class ExecProcess {
 public:
  ~ExecProcess();
  ExecProcess(const ExecProcess&) = delete;
  ExecProcess& operator=(const ExecProcess&) = delete;

  // The command's pid as the host sees it; 0 when runc could not start it.
  pid_t pid() const { return pid_; }
  pid_t runcPid() const { return runc_pid_; }
  // Pipes to the process (-1 where options passed a descriptor). Owned by
  // this object; closeStdin() sends EOF.
  int stdinFd() const { return stdin_fd_; }
  int stdoutFd() const { return stdout_fd_; }
  int stderrFd() const { return stderr_fd_; }
  void closeStdin();
  // A descriptor that polls readable once runc has exited (a pidfd).
  int exitFd() const { return runc_pidfd_; }
  // The start deadline passed before runc ran the process (runc was killed).
  bool startTimedOut() const { return start_timed_out_; }

  // Signals the command (not runc). A no-op once runc has been reaped.
  Status signal(int sig);
  // Waits for runc to exit: exit_code / start_error filled, no output.
  // Errors as execInContainer's. Later calls return the same result.
  Result<ExecResult> wait();

 private:
  friend struct ExecStarter;
  ExecProcess() = default;
  std::string tempPath(const char* name) const { return temp_dir_ + "/" + name; }

  std::string container_id_;
  std::string temp_dir_;
  pid_t runc_pid_ = 0;
  int runc_pidfd_ = -1;
  pid_t pid_ = 0;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  bool reaped_ = false;
  bool start_timed_out_ = false;  // runc was killed before the process started
  std::optional<Result<ExecResult>> result_;
};

// Starts options.args in the container and returns once runc has written
// the process's pid (or has failed). Unless options give descriptors, the
// process's stdin, stdout and stderr are pipes the caller reads and writes.
// A command runc cannot start still returns an ExecProcess (pid 0) whose
// wait() reports 126/127.
Result<std::unique_ptr<ExecProcess>> startExec(const Runc& runc, const std::string& container_id,
                                               const ExecOptions& options);

// --- building blocks, exposed for tests ---

// process.json for an exec: the container's process object with terminal
// off, args replaced, env merged, and cwd and user overridden when set.
boost::json::object execProcessSpec(const boost::json::object& container_process,
                                    const ExecOptions& options);
// base with each KEY=VALUE of overrides set (replacing the same key, in
// place) or appended.
std::vector<std::string> mergeEnv(const std::vector<std::string>& base,
                                  const std::vector<std::string>& overrides);

struct ExecStartFailure {
  int exit_code = 0;  // 127: not found; 126: found but not executable
  std::string message;
};
// Recognises runc's "could not start the process" errors (its log's error
// lines) and maps them to the shell's exit codes; nullopt for other errors.
std::optional<ExecStartFailure> classifyExecStartError(std::string_view runc_errors);

// The runc command line for one exec.
std::vector<std::string> runcExecArgv(const RuncConfig& config, const std::string& log_path,
                                      const std::string& process_path, const std::string& pid_path,
                                      const std::string& id);

}  // namespace berth::runtime
