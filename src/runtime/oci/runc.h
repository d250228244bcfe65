#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace berth::runtime {

// The outcome of one subprocess run.
struct ProcessOutput {
  int exit_code = 0;  // 128+N when killed by signal N
  std::string out;    // captured stdout (when not redirected)
  std::string err;    // captured stderr (when not redirected)
};

// Runs argv[0] (an absolute path; no shell, no PATH lookup) with stdin from
// /dev/null. stdout_fd/stderr_fd >= 0 redirect the child's stdout/stderr
// there; -1 captures them into the result. Waits for exactly this child.
Result<ProcessOutput> runProcess(const std::vector<std::string>& argv, int stdout_fd = -1,
                                 int stderr_fd = -1);

struct RuncConfig {
  std::string binary = "/usr/sbin/runc";
  std::string root;  // runc --root: its state directory (one per agent)
};

// `runc state` / `runc list` output.
struct RuncState {
  std::string id;
  pid_t pid = 0;
  std::string status;  // creating, created, running, paused, stopped
  std::string bundle;
  std::string created;  // RFC 3339
};

struct CreateOptions {
  std::string bundle;
  std::string pid_file;  // runc --pid-file: the container's init pid
  // The container's stdout/stderr: runc passes its own stdio to the
  // container's init when there is no terminal, so these become runc's.
  int stdout_fd = -1;  // -1: /dev/null
  int stderr_fd = -1;
};

// A driver over the runc binary: one subprocess per call, errors carrying
// runc's own message. Calls block; run them on a worker pool.
class Runc {
 public:
  explicit Runc(RuncConfig config) : config_(std::move(config)) {}

  const RuncConfig& config() const { return config_; }

  // runc create: sets up namespaces, cgroups and mounts, leaving the init
  // process waiting to exec the user process. Its stdio stays attached to
  // the container's files, so runc's error text is taken from a --log file.
  Status create(const std::string& id, const CreateOptions& options) const;
  // runc start: execs the user process of a created container.
  Status start(const std::string& id) const;
  // runc run --detach: create and start in one runc call (one Go program
  // start instead of two); returns once the user process runs.
  Status run(const std::string& id, const CreateOptions& options) const;
  // runc state; NotFound when runc does not know the container.
  Result<RuncState> state(const std::string& id) const;
  // runc kill [--all] <id> <signal>.
  Status kill(const std::string& id, int signal, bool all = false) const;
  // runc delete [--force]; NotFound when runc does not know the container.
  Status remove(const std::string& id, bool force = false) const;
  Result<std::vector<RuncState>> list() const;

 private:
  std::vector<std::string> command(std::initializer_list<std::string> args) const;
  Status launch(const char* verb, const std::string& id, const CreateOptions& options) const;
  Status check(const Result<ProcessOutput>& output, const std::string& what) const;

  RuncConfig config_;
};

Result<RuncState> parseRuncState(std::string_view json_text);
// `runc list --format json` prints "null" when there are no containers.
Result<std::vector<RuncState>> parseRuncList(std::string_view json_text);
// The error messages of a runc --log-format json log (level error or fatal),
// one per line; the whole text when it is not JSON lines.
std::string runcLogErrors(std::string_view log_text);

}  // namespace berth::runtime
