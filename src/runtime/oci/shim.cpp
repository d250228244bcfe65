#include "runtime/oci/shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "common/subprocess.h"
#include "runtime/logs/cri_log.h"
#include "runtime/oci/bundle.h"
#include "runtime/oci/cgroups.h"
#include "runtime/oci/runc.h"

namespace berth::runtime {
namespace json = boost::json;

namespace {

std::string nowRfc3339() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  ::gmtime_r(&ts.tv_sec, &utc);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ts.tv_nsec);
  return buf;
}

void writeAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

int openOutput(const std::string& path) {
  if (path.empty()) return ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The container's cgroup, for the OOM check.
std::string cgroupsPathOf(const ShimOptions& options) {
  if (!options.cgroups_path.empty()) return options.cgroups_path;
  auto config = Bundle(options.bundle).readConfig();
  if (!config.ok()) return "";
  const auto* linux = config->if_contains("linux");
  if (!linux || !linux->is_object()) return "";
  const auto* path = linux->as_object().if_contains("cgroupsPath");
  return path && path->is_string() ? std::string(path->as_string()) : "";
}

// Whether the kernel OOM killer acted in the container's memory cgroup:
// memory.oom_control's oom_kill counter (what containerd's cgroup v1 OOM
// events amount to), or, on kernels without it, a SIGKILL after the limit
// was hit (memory.failcnt).
bool oomKilled(const std::string& cgroups_path, int wait_status) {
  if (cgroups_path.empty()) return false;
  auto cgroups = CgroupV1::detect();
  if (!cgroups.ok()) return false;
  auto kills = cgroups->oomKillCount(cgroups_path);
  if (kills.ok()) return *kills > 0;
  auto failcnt = cgroups->memoryFailcnt(cgroups_path);
  return failcnt.ok() && *failcnt > 0 && WIFSIGNALED(wait_status) &&
         WTERMSIG(wait_status) == SIGKILL;
}

void writeExit(const ShimOptions& options, const ExitStatus& status) {
  (void)writeFileAtomic(options.state_dir + "/exit.json", exitStatusJson(status));
}

int failStart(const ShimOptions& options, const Runc& runc, const std::string& message) {
  ExitStatus status;
  status.exit_code = 128;
  status.reason = "StartError";
  status.message = message;
  status.finished_at = nowRfc3339();
  writeExit(options, status);
  (void)runc.remove(options.id, /*force=*/true);
  if (options.ready_fd >= 0) {
    writeAll(options.ready_fd, "error " + message);
    ::close(options.ready_fd);
  }
  return 1;
}

}  // namespace

std::string exitStatusJson(const ExitStatus& status) {
  json::object obj{{"exitCode", status.exit_code},
                   {"signal", status.signal},
                   {"oomKilled", status.oom_killed},
                   {"reason", status.reason},
                   {"finishedAt", status.finished_at}};
  if (!status.message.empty()) obj["message"] = status.message;
  if (!status.started_at.empty()) obj["startedAt"] = status.started_at;
  if (status.pid > 0) obj["pid"] = status.pid;
  return json::serialize(obj);
}

Result<ExitStatus> parseExitStatus(std::string_view json_text) {
  boost::system::error_code ec;
  auto value = json::parse(json_text, ec);
  if (ec || !value.is_object())
    return makeError(ErrorCode::kInternal, "exit.json is not an object");
  const auto& obj = value.as_object();
  ExitStatus status;
  auto integer = [&](const char* key) -> int64_t {
    const auto* v = obj.if_contains(key);
    return v && v->is_number() ? v->to_number<int64_t>() : 0;
  };
  auto str = [&](const char* key) -> std::string {
    const auto* v = obj.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  if (!obj.contains("exitCode"))
    return makeError(ErrorCode::kInternal, "exit.json has no exitCode");
  status.exit_code = static_cast<int>(integer("exitCode"));
  status.signal = static_cast<int>(integer("signal"));
  status.pid = static_cast<pid_t>(integer("pid"));
  const auto* oom = obj.if_contains("oomKilled");
  status.oom_killed = oom && oom->is_bool() && oom->as_bool();
  status.reason = str("reason");
  status.message = str("message");
  status.started_at = str("startedAt");
  status.finished_at = str("finishedAt");
  return status;
}

Result<ExitStatus> readExitStatus(const std::string& state_dir) {
  std::string path = state_dir + "/exit.json";
  if (::access(path.c_str(), F_OK) != 0) {
    return makeError(ErrorCode::kNotFound, "no exit status yet in " + state_dir);
  }
  return parseExitStatus(readFile(path));
}

ExitStatus exitStatusFromWait(int wait_status, bool oom_killed) {
  ExitStatus status;
  if (WIFSIGNALED(wait_status)) {
    status.signal = WTERMSIG(wait_status);
    status.exit_code = 128 + status.signal;
  } else {
    status.exit_code = WEXITSTATUS(wait_status);
  }
  status.oom_killed = oom_killed;
  // kubelet's reasons for ContainerStateTerminated.
  status.reason = oom_killed ? "OOMKilled" : status.exit_code == 0 ? "Completed" : "Error";
  return status;
}

namespace {

// Copies the container's stdout and stderr pipes into a CRI log on a thread
// of the shim. After the init process exited, what is still buffered is
// read; processes the container left behind may hold the pipes open, so
// copying stops after a short grace instead of waiting for their EOF.
class LogPump {
 public:
  explicit LogPump(const ShimOptions& options)
      : writer_(options.log_path, CriLogWriterOptions{options.log_max_bytes, options.log_max_files},
                RealClock::instance()) {}
  ~LogPump() { finish(); }

  // The write ends for runc (closed by the caller once runc has them).
  Status open(int* out_fd, int* err_fd) {
    BERTH_RETURN_IF_ERROR(writer_.open());
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return makeError(ErrorCode::kInternal, "pipe failed");
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      return makeError(ErrorCode::kInternal, "pipe failed");
    }
    read_fds_[0] = out[0];
    read_fds_[1] = err[0];
    *out_fd = out[1];
    *err_fd = err[1];
    return okStatus();
  }

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  void finish() {
    if (!thread_.joinable()) {
      closeReads();
      return;
    }
    stopping_ = true;
    thread_.join();
    closeReads();
  }

 private:
  void run() {
    constexpr int kGraceMs = 2000;
    int waited_ms = 0;
    char buf[16 * 1024];
    while (read_fds_[0] >= 0 || read_fds_[1] >= 0) {
      pollfd fds[2];
      int n = 0, which[2];
      for (int i = 0; i < 2; ++i)
        if (read_fds_[i] >= 0) {
          which[n] = i;
          fds[n++] = {read_fds_[i], POLLIN, 0};
        }
      int ready = ::poll(fds, n, 100);
      if (ready == 0) {
        if (stopping_ && (waited_ms += 100) >= kGraceMs) break;
        continue;
      }
      if (ready < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int k = 0; k < n; ++k) {
        if (fds[k].revents == 0) continue;
        int i = which[k];
        ssize_t got = ::read(read_fds_[i], buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        LogStream stream = i == 0 ? LogStream::kStdout : LogStream::kStderr;
        if (got <= 0) {
          (void)writer_.close(stream);
          ::close(read_fds_[i]);
          read_fds_[i] = -1;
        } else {
          (void)writer_.write(stream, std::string_view(buf, static_cast<size_t>(got)));
        }
      }
    }
    (void)writer_.close(LogStream::kStdout);
    (void)writer_.close(LogStream::kStderr);
  }

  void closeReads() {
    for (int& fd : read_fds_)
      if (fd >= 0) {
        ::close(fd);
        fd = -1;
      }
  }

  CriLogWriter writer_;
  int read_fds_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace

int runShim(const ShimOptions& options) {
  ::setsid();  // fails harmlessly when already a session leader
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  // Hold none of the caller's stdio (a terminal, a test runner's pipe).
  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    for (int fd = 0; fd < 3; ++fd) ::dup2(null_fd, fd);
    if (null_fd > 2) ::close(null_fd);
  }
  // Nothing else of the caller's may reach runc and the container: close
  // every other descriptor, and keep the report pipe (inherited without
  // FD_CLOEXEC across `berth shim`'s exec) out of runc's children, or the
  // container's init would hold it open and startShim would wait for the
  // container to exit.
  if (options.ready_fd > 2) {
    ::syscall(SYS_close_range, 3U, static_cast<unsigned>(options.ready_fd - 1), 0U);
    ::syscall(SYS_close_range, static_cast<unsigned>(options.ready_fd + 1), ~0U, 0U);
    ::fcntl(options.ready_fd, F_SETFD, FD_CLOEXEC);
  } else {
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
  }
  // Our pid and start time: whoever reads it later can tell this shim from
  // a process that reused its pid.
  std::vector<std::string> self = procStat(::getpid());
  (void)writeFileAtomic(options.state_dir + "/shim.pid",
                        std::to_string(::getpid()) + (self.size() > 21 ? " " + self[21] : ""));

  Runc runc(RuncConfig{options.runc_binary, options.runc_root});
  int out_fd = -1, err_fd = -1;
  std::unique_ptr<LogPump> pump;
  if (!options.log_path.empty()) {
    pump = std::make_unique<LogPump>(options);
    Status opened = pump->open(&out_fd, &err_fd);
    if (!opened.ok()) return failStart(options, runc, opened.error().message);
  } else {
    out_fd = openOutput(options.stdout_path);
    err_fd = options.stderr_path == options.stdout_path ? ::dup(out_fd)
                                                        : openOutput(options.stderr_path);
  }
  if (out_fd < 0 || err_fd < 0) {
    return failStart(options, runc, "open container output: " + std::string(std::strerror(errno)));
  }
  std::string pid_file = options.state_dir + "/init.pid";
  CreateOptions create{options.bundle, pid_file, out_fd, err_fd};
  // One runc call creates and starts the container.
  auto ran = runc.run(options.id, create);
  ::close(out_fd);
  ::close(err_fd);
  // The container holds the pipes' write ends now; copying starts.
  if (pump) pump->start();
  if (!ran.ok()) return failStart(options, runc, ran.error().message);
  std::string started_at = nowRfc3339();
  pid_t init_pid = static_cast<pid_t>(std::atoi(readFile(pid_file).c_str()));
  if (init_pid <= 0) return failStart(options, runc, "runc wrote no init pid to " + pid_file);
  if (options.ready_fd >= 0) {
    writeAll(options.ready_fd, "ok " + std::to_string(::getpid()) + " " + std::to_string(init_pid));
    ::close(options.ready_fd);
  }

  // As subreaper the shim inherits the init process once runc has exited;
  // reap everything (orphans of a shared PID namespace too) until init goes.
  int wait_status = 0;
  bool reaped = false;
  while (!reaped) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid == init_pid) {
      wait_status = status;
      reaped = true;
    } else if (pid < 0 && errno == ECHILD) {
      // Not our child after all (runc reparented it elsewhere): the exit
      // code is lost; wait for the process to vanish.
      while (::kill(init_pid, 0) == 0) {
        timespec pause{0, 100 * 1000 * 1000};
        ::nanosleep(&pause, nullptr);
      }
      wait_status = 255 << 8;
      reaped = true;
    }
  }
  // What the container wrote before it exited reaches the log first.
  if (pump) pump->finish();
  std::string cgroups_path = cgroupsPathOf(options);
  ExitStatus status = exitStatusFromWait(wait_status, oomKilled(cgroups_path, wait_status));
  status.started_at = started_at;
  status.finished_at = nowRfc3339();
  status.pid = init_pid;
  writeExit(options, status);
  (void)runc.remove(options.id, /*force=*/true);
  return 0;
}

pid_t liveShim(const std::string& state_dir) {
  std::istringstream in(readFile(state_dir + "/shim.pid"));
  pid_t pid = 0;
  std::string start;
  if (!(in >> pid) || pid <= 0) return 0;
  in >> start;
  std::vector<std::string> stat = procStat(pid);
  if (stat.size() < 22) return 0;
  // A zombie has exited already; a different start time is another process.
  if (stat[2] == "Z" || (!start.empty() && stat[21] != start)) return 0;
  return pid;
}

Result<pid_t> startShim(const ShimOptions& options, const std::string& self_exe) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    return makeError(ErrorCode::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  pid_t middle = -1;
  if (!self_exe.empty()) {
    // posix_spawn rather than fork: a fork copies the page tables of the
    // whole (large, multithreaded) agent for every container. The shim
    // detaches itself (--detach: setsid and a fork of its own small
    // process); the report pipe becomes its fd 3.
    constexpr int kReadyFd = 3;
    ShimOptions child_options = options;
    child_options.ready_fd = kReadyFd;
    // berth-shim from beside berth when it is there (a small program that
    // loads in a few milliseconds); `berth shim` otherwise.
    std::vector<std::string> argv;
    std::string small = self_exe.substr(0, self_exe.rfind('/') + 1) + "berth-shim";
    if (::access(small.c_str(), X_OK) == 0) {
      argv = {small};
    } else {
      argv = {self_exe, "shim"};
    }
    argv.push_back("--detach");
    for (auto& arg : shimArgs(child_options)) argv.push_back(std::move(arg));
    auto spawned = spawnProcess(argv, -1, -1, -1, nullptr, {{ready[1], kReadyFd}});
    if (!spawned.ok()) {
      ::close(ready[0]);
      ::close(ready[1]);
      return spawned.error();
    }
    middle = *spawned;
  } else {
    middle = ::fork();
    if (middle < 0) {
      int err = errno;
      ::close(ready[0]);
      ::close(ready[1]);
      return makeError(ErrorCode::kInternal, std::string("fork: ") + std::strerror(err));
    }
    if (middle == 0) {
      ::close(ready[0]);
      ::setsid();
      pid_t shim = ::fork();
      if (shim != 0) ::_exit(shim < 0 ? 1 : 0);
      ShimOptions child_options = options;
      child_options.ready_fd = ready[1];
      ::_exit(runShim(child_options));
    }
  }
  ::close(ready[1]);
  int middle_status = 0;
  while (::waitpid(middle, &middle_status, 0) < 0 && errno == EINTR) {
  }
  std::string report;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(ready[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
  }
  ::close(ready[0]);
  if (report.rfind("ok ", 0) == 0) {
    return static_cast<pid_t>(std::atoi(report.c_str() + 3));
  }
  if (report.rfind("error ", 0) == 0) {
    return makeError(ErrorCode::kInternal, report.substr(6));
  }
  return makeError(ErrorCode::kInternal, "shim for " + options.id + " exited without a report");
}

int shimMain(const std::vector<std::string>& args) {
  const bool detach = !args.empty() && args[0] == "--detach";
  auto options =
      parseShimArgs(detach ? std::vector<std::string>(args.begin() + 1, args.end()) : args);
  if (!options.ok()) {
    std::fprintf(stderr, "berth shim: %s\n", options.error().message.c_str());
    return 2;
  }
  if (detach) {
    // A session of its own, and no longer the child of whoever started it
    // (they wait for this process, then for the report).
    ::setsid();
    pid_t shim = ::fork();
    if (shim != 0) return shim < 0 ? 1 : 0;
  }
  return runShim(*options);
}

std::vector<std::string> shimArgs(const ShimOptions& options) {
  return {"--id",
          options.id,
          "--bundle",
          options.bundle,
          "--state-dir",
          options.state_dir,
          "--runc",
          options.runc_binary,
          "--runc-root",
          options.runc_root,
          "--stdout",
          options.stdout_path,
          "--stderr",
          options.stderr_path,
          "--cgroups-path",
          options.cgroups_path,
          "--log-path",
          options.log_path,
          "--log-max-bytes",
          std::to_string(options.log_max_bytes),
          "--log-max-files",
          std::to_string(options.log_max_files),
          "--ready-fd",
          std::to_string(options.ready_fd)};
}

Result<ShimOptions> parseShimArgs(const std::vector<std::string>& args) {
  ShimOptions options;
  for (size_t i = 0; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) {
      return makeError(ErrorCode::kInvalid, "shim flag " + args[i] + " has no value");
    }
    const std::string& flag = args[i];
    const std::string& value = args[i + 1];
    if (flag == "--id") {
      options.id = value;
    } else if (flag == "--bundle") {
      options.bundle = value;
    } else if (flag == "--state-dir") {
      options.state_dir = value;
    } else if (flag == "--runc") {
      options.runc_binary = value;
    } else if (flag == "--runc-root") {
      options.runc_root = value;
    } else if (flag == "--stdout") {
      options.stdout_path = value;
    } else if (flag == "--stderr") {
      options.stderr_path = value;
    } else if (flag == "--cgroups-path") {
      options.cgroups_path = value;
    } else if (flag == "--log-path") {
      options.log_path = value;
    } else if (flag == "--log-max-bytes") {
      options.log_max_bytes = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--log-max-files") {
      options.log_max_files = std::atoi(value.c_str());
    } else if (flag == "--ready-fd") {
      options.ready_fd = std::atoi(value.c_str());
    } else {
      return makeError(ErrorCode::kInvalid, "unknown shim flag " + flag);
    }
  }
  if (options.id.empty() || options.bundle.empty() || options.state_dir.empty()) {
    return makeError(ErrorCode::kInvalid, "shim needs --id, --bundle and --state-dir");
  }
  return options;
}

}  // namespace berth::runtime
