#include "runtime/oci/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/subprocess.h"

namespace berth::runtime {
namespace json = boost::json;

namespace {

using Clock = std::chrono::steady_clock;

// How long runc may take to start a process before startExec gives up on
// it when the options set no timeout.
constexpr auto kStartDeadline = std::chrono::seconds(60);
// After the timeout kill, how long the command gets to go away before runc
// itself is killed.
constexpr auto kKillGrace = std::chrono::seconds(10);

Error errnoError(const std::string& what, int err) {
  return makeError(ErrorCode::kInternal, what + ": " + std::strerror(err));
}

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// runc writes the pid file by rename once the process is running; a pid
// file with a number in it is complete.
pid_t readPidFile(const std::string& path) {
  std::string text = readFile(path);
  if (text.empty()) return 0;
  return static_cast<pid_t>(std::atol(text.c_str()));
}

// The container's process object from its bundle's config.json.
Result<json::object> containerProcess(const Runc& runc, const std::string& id,
                                      const std::string& bundle_dir) {
  std::string bundle = bundle_dir;
  if (bundle.empty()) {
    BERTH_ASSIGN_OR_RETURN(auto state, runc.state(id));
    bundle = state.bundle;
  }
  std::string text = readFile(bundle + "/config.json");
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return makeError(ErrorCode::kInternal, "exec " + id + ": cannot read " + bundle +
                                               "/config.json" + (ec ? ": " + ec.message() : ""));
  }
  const auto* process = value.as_object().if_contains("process");
  if (!process || !process->is_object()) {
    return makeError(ErrorCode::kInternal, "exec " + id + ": config.json has no process");
  }
  return process->as_object();
}

enum class ReadState { kData, kWouldBlock, kEnd };

// Reads once from fd into *out, keeping at most max bytes in all (the rest
// is dropped, *truncated set). kEnd at EOF or error: the caller stops
// reading fd.
ReadState readBounded(int fd, std::string* out, size_t max, bool* truncated) {
  char buf[16384];
  while (true) {
    ssize_t got = ::read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) return ReadState::kWouldBlock;
    if (got <= 0) return ReadState::kEnd;
    size_t room = max - std::min(max, out->size());
    size_t keep = std::min(static_cast<size_t>(got), room);
    out->append(buf, keep);
    if (keep < static_cast<size_t>(got)) *truncated = true;
    return ReadState::kData;
  }
}

// Reads what is left in fd without blocking: a background child of the
// command may still hold the pipe open, so EOF cannot be waited for.
void drain(int fd, std::string* out, size_t max, bool* truncated) {
  if (fd < 0) return;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  while (readBounded(fd, out, max, truncated) == ReadState::kData) {
  }
}

}  // namespace

std::vector<std::string> mergeEnv(const std::vector<std::string>& base,
                                  const std::vector<std::string>& overrides) {
  std::vector<std::string> env = base;
  for (const auto& kv : overrides) {
    std::string key = kv.substr(0, kv.find('='));
    bool replaced = false;
    for (auto& existing : env) {
      if (existing.substr(0, existing.find('=')) == key) {
        existing = kv;
        replaced = true;
        break;
      }
    }
    if (!replaced) env.push_back(kv);
  }
  return env;
}

json::object execProcessSpec(const json::object& container_process, const ExecOptions& options) {
  json::object process = container_process;
  process["terminal"] = false;
  process.erase("consoleSize");
  json::array args;
  for (const auto& arg : options.args) args.emplace_back(arg);
  process["args"] = std::move(args);

  std::vector<std::string> base_env;
  if (const auto* env = container_process.if_contains("env"); env && env->is_array()) {
    for (const auto& kv : env->as_array()) {
      if (kv.is_string()) base_env.emplace_back(kv.as_string());
    }
  }
  json::array env;
  for (const auto& kv : mergeEnv(base_env, options.env)) env.emplace_back(kv);
  process["env"] = std::move(env);

  if (!options.cwd.empty()) process["cwd"] = options.cwd;
  if (!process.contains("cwd")) process["cwd"] = "/";
  if (options.user) {
    json::object user;
    user["uid"] = options.user->uid;
    user["gid"] = options.user->gid;
    if (!options.user->additional_gids.empty()) {
      json::array gids;
      for (uint32_t gid : options.user->additional_gids) gids.emplace_back(gid);
      user["additionalGids"] = std::move(gids);
    }
    process["user"] = std::move(user);
  } else if (!process.contains("user")) {
    process["user"] = json::object{{"uid", 0}, {"gid", 0}};
  }
  return process;
}

std::optional<ExecStartFailure> classifyExecStartError(std::string_view runc_errors) {
  // runc 1.1 reports a failed execve of the user process as
  //   exec failed: unable to start container process: exec: "foo": executable file not found in
  //   $PATH
  //   ... exec: "/bin/foo": stat /bin/foo: no such file or directory
  //   ... exec: "/tmp": permission denied
  // (Go's exec.LookPath and execve errors). Not found is the shell's 127,
  // anything else that stopped the execve is 126.
  size_t at = runc_errors.find("exec: \"");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view tail = runc_errors.substr(at);
  ExecStartFailure failure;
  failure.message = "OCI runtime exec failed: " + std::string(runc_errors);
  while (!failure.message.empty() && failure.message.back() == '\n') failure.message.pop_back();
  bool not_found = tail.find("executable file not found") != std::string_view::npos ||
                   tail.find("no such file or directory") != std::string_view::npos;
  failure.exit_code = not_found ? 127 : 126;
  return failure;
}

std::vector<std::string> runcExecArgv(const RuncConfig& config, const std::string& log_path,
                                      const std::string& process_path, const std::string& pid_path,
                                      const std::string& id) {
  std::vector<std::string> argv = {config.binary};
  if (!config.root.empty()) argv.insert(argv.end(), {"--root", config.root});
  argv.insert(argv.end(), {"--log", log_path, "--log-format", "json", "exec", "--process",
                           process_path, "--pid-file", pid_path, id});
  return argv;
}

// Does the work of startExec; a struct so that it may fill ExecProcess's
// private members.
struct ExecStarter {
  static Result<std::unique_ptr<ExecProcess>> start(const Runc& runc, const std::string& id,
                                                    const ExecOptions& options, bool stdin_pipe,
                                                    Clock::time_point deadline) {
    if (options.args.empty()) return makeError(ErrorCode::kInvalid, "exec " + id + ": no command");
    BERTH_ASSIGN_OR_RETURN(auto base, containerProcess(runc, id, options.bundle));
    std::unique_ptr<ExecProcess> proc(new ExecProcess());
    proc->container_id_ = id;
    std::string tmpl = options.temp_dir + "/berth-exec-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      return errnoError("exec temp dir under " + options.temp_dir, errno);
    proc->temp_dir_ = tmpl;  // from here on the destructor removes it
    if (!writeFile(proc->tempPath("process.json"),
                   json::serialize(execProcessSpec(base, options)))) {
      return errnoError("write " + proc->tempPath("process.json"), errno);
    }
    // The watch goes up before runc starts, so the pid file's arrival cannot
    // be missed.
    int inotify = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (inotify < 0) return errnoError("inotify_init1", errno);
    struct InotifyCloser {
      int fd;
      ~InotifyCloser() { ::close(fd); }
    } inotify_closer{inotify};
    if (::inotify_add_watch(inotify, proc->temp_dir_.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
      return errnoError("inotify_add_watch", errno);
    }

    // Our ends of the pipes are close-on-exec; the child's ends are dup2'd
    // onto 0/1/2 (which clears the flag) and closed here after the spawn.
    int dev_null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (dev_null < 0) return errnoError("open /dev/null", errno);
    int child_fds[3] = {-1, -1, -1};
    int* ours[3] = {&proc->stdin_fd_, &proc->stdout_fd_, &proc->stderr_fd_};
    int given[3] = {options.stdin_fd, options.stdout_fd, options.stderr_fd};
    auto close_child_ends = [&] {
      for (int i = 0; i < 3; ++i) {
        if (child_fds[i] >= 0 && child_fds[i] != given[i] && child_fds[i] != dev_null) {
          ::close(child_fds[i]);
        }
      }
      ::close(dev_null);
    };
    for (int i = 0; i < 3; ++i) {
      if (given[i] >= 0) {
        child_fds[i] = given[i];
        continue;
      }
      if (i == 0 && !stdin_pipe) {
        child_fds[i] = dev_null;
        continue;
      }
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) {
        int err = errno;
        close_child_ends();
        return errnoError("pipe", err);
      }
      // stdin: the child reads p[0]; stdout/stderr: the child writes p[1].
      *ours[i] = i == 0 ? p[1] : p[0];
      child_fds[i] = i == 0 ? p[0] : p[1];
    }
    auto argv = runcExecArgv(runc.config(), proc->tempPath("runc.log"),
                             proc->tempPath("process.json"), proc->tempPath("exec.pid"), id);
    auto pid = spawnProcess(argv, child_fds[0], child_fds[1], child_fds[2]);
    close_child_ends();
    if (!pid.ok()) return pid.error();
    proc->runc_pid_ = *pid;
    proc->runc_pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0));
    if (proc->runc_pidfd_ < 0) return errnoError("pidfd_open runc", errno);
    ::fcntl(proc->runc_pidfd_, F_SETFD, FD_CLOEXEC);

    // Wait for the pid file, runc's exit or the deadline, without polling.
    std::string pid_path = proc->tempPath("exec.pid");
    while (true) {
      if (pid_t pid_now = readPidFile(pid_path); pid_now > 0) {
        proc->pid_ = pid_now;
        break;
      }
      pollfd fds[2] = {{inotify, POLLIN, 0}, {proc->runc_pidfd_, POLLIN, 0}};
      int n = ::poll(fds, 2, remainingMs(deadline));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // runc hung before the process ran: kill it (our own child) and
        // let wait() report what its log says.
        ::kill(proc->runc_pid_, SIGKILL);
        proc->start_timed_out_ = true;
        break;
      }
      if (fds[0].revents) {
        char events[4096];
        while (::read(inotify, events, sizeof(events)) > 0) {
        }
      }
      if (fds[1].revents) {
        // runc exited: either the process already ran to its end (the pid
        // file is there) or runc could not start it.
        proc->pid_ = readPidFile(pid_path);
        break;
      }
    }
    return proc;
  }
};

ExecProcess::~ExecProcess() {
  if (runc_pid_ > 0 && !reaped_) {
    if (pid_ > 0) ::kill(pid_, SIGKILL);  // runc has not reaped it yet: still ours to kill
    (void)wait();
  }
  closeFd(stdin_fd_);
  closeFd(stdout_fd_);
  closeFd(stderr_fd_);
  closeFd(runc_pidfd_);
  if (!temp_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
  }
}

void ExecProcess::closeStdin() { closeFd(stdin_fd_); }

Status ExecProcess::signal(int sig) {
  // While runc (our unreaped child) lives, the command is its child or a
  // zombie it has not reaped, so pid_ cannot have been reused.
  if (reaped_ || pid_ <= 0) return okStatus();
  if (::kill(pid_, sig) != 0 && errno != ESRCH) return errnoError("kill exec process", errno);
  return okStatus();
}

Result<ExecResult> ExecProcess::wait() {
  if (result_) return *result_;
  int status = 0;
  while (::waitpid(runc_pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      result_ = errnoError("wait for runc exec", errno);
      reaped_ = true;
      return *result_;
    }
  }
  reaped_ = true;
  ExecResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.exit_code != 0) {
    // runc's own failures are in its log; the command's exit code is not.
    std::string errors = runcLogErrors(readFile(tempPath("runc.log")));
    if (!errors.empty()) {
      if (auto failure = classifyExecStartError(errors)) {
        result.exit_code = failure->exit_code;
        result.start_error = failure->message;
      } else {
        ErrorCode code = errors.find("does not exist") != std::string::npos ? ErrorCode::kNotFound
                                                                            : ErrorCode::kInternal;
        result_ = makeError(code, "runc exec " + container_id_ + " failed (exit " +
                                      std::to_string(result.exit_code) + "): " + errors);
        return *result_;
      }
    }
  }
  result_ = result;
  return *result_;
}

Result<std::unique_ptr<ExecProcess>> startExec(const Runc& runc, const std::string& container_id,
                                               const ExecOptions& options) {
  auto deadline =
      Clock::now() + (options.timeout.count() > 0
                          ? std::chrono::duration_cast<Clock::duration>(options.timeout)
                          : std::chrono::duration_cast<Clock::duration>(kStartDeadline));
  return ExecStarter::start(runc, container_id, options, /*stdin_pipe=*/true, deadline);
}

Result<ExecResult> execInContainer(const Runc& runc, const std::string& container_id,
                                   const ExecOptions& options) {
  auto start = Clock::now();
  bool has_timeout = options.timeout.count() > 0;
  auto deadline = has_timeout ? start + options.timeout : start + kStartDeadline;
  BERTH_ASSIGN_OR_RETURN(auto proc, ExecStarter::start(runc, container_id, options,
                                                       /*stdin_pipe=*/false, deadline));
  ExecResult captured;
  int out = proc->stdoutFd(), err = proc->stderrFd();
  size_t max = options.max_output_bytes;
  // The start itself may have run out of time (ExecStarter killed runc).
  bool timed_out = proc->startTimedOut();
  std::optional<Clock::time_point> hard_deadline;
  // Read both streams and watch runc until it exits; the timeout kills the
  // command, and runc (which waits for it) follows.
  while (true) {
    pollfd fds[3];
    int n = 0;
    fds[n++] = {proc->exitFd(), POLLIN, 0};
    if (out >= 0) fds[n++] = {out, POLLIN, 0};
    if (err >= 0) fds[n++] = {err, POLLIN, 0};
    int wait_ms = -1;
    if (has_timeout && !timed_out) wait_ms = remainingMs(deadline);
    if (hard_deadline) wait_ms = remainingMs(*hard_deadline);
    int ready = ::poll(fds, n, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errnoError("poll exec output", errno);
    if (ready == 0) {
      if (has_timeout && !timed_out) {
        timed_out = true;
        BERTH_RETURN_IF_ERROR(proc->signal(SIGKILL));
        hard_deadline = Clock::now() + kKillGrace;
        continue;
      }
      // The command did not go away: end runc, our own child.
      ::kill(proc->runcPid(), SIGKILL);
      hard_deadline.reset();
      continue;
    }
    bool runc_exited = false;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == proc->exitFd()) {
        runc_exited = true;
      } else if (fds[i].fd == out) {
        if (readBounded(out, &captured.out, max, &captured.out_truncated) == ReadState::kEnd) {
          out = -1;
        }
      } else if (fds[i].fd == err) {
        if (readBounded(err, &captured.err, max, &captured.err_truncated) == ReadState::kEnd) {
          err = -1;
        }
      }
    }
    if (runc_exited) break;
  }
  // Everything the command wrote before it exited is in the pipes now.
  drain(out, &captured.out, max, &captured.out_truncated);
  drain(err, &captured.err, max, &captured.err_truncated);
  BERTH_ASSIGN_OR_RETURN(auto result, proc->wait());
  result.out = std::move(captured.out);
  result.err = std::move(captured.err);
  result.out_truncated = captured.out_truncated;
  result.err_truncated = captured.err_truncated;
  result.timed_out = timed_out;
  if (!result.start_error.empty() && options.stderr_fd < 0) {
    // runc also printed its error on stderr; say it once, in the form
    // kubectl exec users know.
    result.err = result.start_error + "\n";
    result.err_truncated = false;
  }
  return result;
}

}  // namespace berth::runtime
