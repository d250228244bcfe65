#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"

extern char** environ;

namespace berth {

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

Error errnoError(const std::string& what, int err) {
  return makeError(ErrorCode::kInternal, what + ": " + std::strerror(err));
}

}  // namespace

Result<pid_t> spawnProcess(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd,
                           char* const* envp, const std::vector<std::pair<int, int>>& extra_fds) {
  if (argv.empty()) return makeError(ErrorCode::kInvalid, "empty command");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (in_fd >= 0) posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  for (const auto& [from, to] : extra_fds) posix_spawn_file_actions_adddup2(&actions, from, to);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc =
      ::posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), envp ? envp : environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return errnoError("spawn " + argv[0], rc);
  return pid;
}

Result<SubprocessResult> runSubprocess(const std::vector<std::string>& argv,
                                       const SubprocessOptions& options) {
  if (argv.empty()) return makeError(ErrorCode::kInvalid, "empty command");
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return errnoError("pipe", errno);
  Fd in_read(in_pipe[0]), in_write(in_pipe[1]);
  if (options.stdout_fd < 0 && ::pipe2(out_pipe, O_CLOEXEC) != 0) return errnoError("pipe", errno);
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (options.stderr_fd < 0 && ::pipe2(err_pipe, O_CLOEXEC) != 0) return errnoError("pipe", errno);
  Fd err_read(err_pipe[0]), err_write(err_pipe[1]);

  std::vector<std::string> env_strings;
  if (!options.replace_env)
    for (char** e = environ; e && *e; ++e) env_strings.emplace_back(*e);
  for (const auto& e : options.env) env_strings.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  BERTH_ASSIGN_OR_RETURN(
      pid_t pid,
      spawnProcess(argv, in_read.get(),
                   options.stdout_fd >= 0 ? options.stdout_fd : out_write.get(),
                   options.stderr_fd >= 0 ? options.stderr_fd : err_write.get(), envp.data()));
  in_read.reset();
  out_write.reset();
  err_write.reset();

  SubprocessResult result;
  size_t written = 0;
  if (options.stdin_data.empty()) in_write.reset();
  // Non-blocking: a write larger than the pipe's room must not block while
  // the child waits for us to read its output.
  if (in_write.get() >= 0) ::fcntl(in_write.get(), F_SETFL, O_NONBLOCK);
  // Feed stdin and drain stdout/stderr together: no pipe can fill and stall.
  while (in_write.get() >= 0 || out_read.get() >= 0 || err_read.get() >= 0) {
    pollfd fds[3];
    int n = 0;
    if (in_write.get() >= 0) fds[n++] = {in_write.get(), POLLOUT, 0};
    if (out_read.get() >= 0) fds[n++] = {out_read.get(), POLLIN, 0};
    if (err_read.get() >= 0) fds[n++] = {err_read.get(), POLLIN, 0};
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_write.get()) {
        ssize_t w = ::write(in_write.get(), options.stdin_data.data() + written,
                            options.stdin_data.size() - written);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w <= 0) {
          in_write.reset();  // the child closed its stdin
          continue;
        }
        written += static_cast<size_t>(w);
        if (written == options.stdin_data.size()) in_write.reset();
        continue;
      }
      char buf[4096];
      ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      bool is_out = fds[i].fd == out_read.get();
      if (got <= 0) {
        (is_out ? out_read : err_read).reset();
      } else {
        (is_out ? result.out : result.err).append(buf, static_cast<size_t>(got));
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errnoError("wait for " + argv[0], errno);
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::vector<std::string> procStat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  // The command may hold spaces and parentheses: it ends at the last ')'.
  size_t open = line.find('(');
  size_t close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return {};
  std::vector<std::string> out{line.substr(0, open - 1), line.substr(open + 1, close - open - 1)};
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  while (rest >> field) out.push_back(field);
  return out;
}

}  // namespace berth
