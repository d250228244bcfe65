#include "runtime/oci/runc.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/subprocess.h"

extern char** environ;

namespace berth::runtime {
namespace json = boost::json;

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

Error errnoError(const std::string& what, int err) {
  return makeError(ErrorCode::kInternal, what + ": " + std::strerror(err));
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<RuncState> stateFromJson(const json::value& value) {
  if (!value.is_object()) return makeError(ErrorCode::kInternal, "runc state is not an object");
  const auto& obj = value.as_object();
  RuncState state;
  auto str = [&](const char* key) -> std::string {
    const auto* v = obj.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  state.id = str("id");
  state.status = str("status");
  state.bundle = str("bundle");
  state.created = str("created");
  if (const auto* pid = obj.if_contains("pid"); pid && pid->is_number()) {
    state.pid = static_cast<pid_t>(pid->to_number<int64_t>());
  }
  if (state.id.empty()) return makeError(ErrorCode::kInternal, "runc state has no id");
  return state;
}

}  // namespace

Result<ProcessOutput> runProcess(const std::vector<std::string>& argv, int stdout_fd,
                                 int stderr_fd) {
  SubprocessOptions options;
  options.stdout_fd = stdout_fd;
  options.stderr_fd = stderr_fd;
  BERTH_ASSIGN_OR_RETURN(auto r, runSubprocess(argv, options));
  return ProcessOutput{r.exit_code, std::move(r.out), std::move(r.err)};
}

Result<RuncState> parseRuncState(std::string_view json_text) {
  boost::system::error_code ec;
  auto value = json::parse(json_text, ec);
  if (ec) return makeError(ErrorCode::kInternal, "runc state: " + ec.message());
  return stateFromJson(value);
}

Result<std::vector<RuncState>> parseRuncList(std::string_view json_text) {
  boost::system::error_code ec;
  auto value = json::parse(json_text, ec);
  if (ec) return makeError(ErrorCode::kInternal, "runc list: " + ec.message());
  std::vector<RuncState> out;
  if (value.is_null()) return out;
  if (!value.is_array()) return makeError(ErrorCode::kInternal, "runc list is not an array");
  for (const auto& item : value.as_array()) {
    BERTH_ASSIGN_OR_RETURN(auto state, stateFromJson(item));
    out.push_back(std::move(state));
  }
  return out;
}

std::string runcLogErrors(std::string_view log_text) {
  std::string errors;
  std::istringstream in{std::string(log_text)};
  std::string line;
  bool all_json = true;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto value = json::parse(line, ec);
    if (ec || !value.is_object()) {
      all_json = false;
      break;
    }
    const auto& obj = value.as_object();
    const auto* level = obj.if_contains("level");
    const auto* msg = obj.if_contains("msg");
    if (level && level->is_string() && msg && msg->is_string() &&
        (level->as_string() == "error" || level->as_string() == "fatal")) {
      if (!errors.empty()) errors += "\n";
      errors += msg->as_string();
    }
  }
  if (!all_json) return trim(std::string(log_text));
  return errors;
}

std::vector<std::string> Runc::command(std::initializer_list<std::string> args) const {
  std::vector<std::string> argv = {config_.binary};
  if (!config_.root.empty()) {
    argv.push_back("--root");
    argv.push_back(config_.root);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Status Runc::check(const Result<ProcessOutput>& output, const std::string& what) const {
  if (!output.ok()) return output.error();
  if (output->exit_code == 0) return okStatus();
  std::string message = trim(output->err);
  if (message.empty()) message = trim(output->out);
  // runc 1.1: "container does not exist" (state, delete, kill of an unknown id).
  ErrorCode code = message.find("does not exist") != std::string::npos ? ErrorCode::kNotFound
                                                                       : ErrorCode::kInternal;
  return makeError(code,
                   what + " failed (exit " + std::to_string(output->exit_code) + "): " + message);
}

Status Runc::launch(const char* verb, const std::string& id, const CreateOptions& options) const {
  char log_template[] = "/tmp/berth-runc-create-XXXXXX";
  int log_fd = ::mkstemp(log_template);
  if (log_fd < 0) return errnoError("create runc log file", errno);
  ::close(log_fd);
  std::string log_path = log_template;
  Fd dev_null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  std::vector<std::string> argv = {config_.binary};
  if (!config_.root.empty()) argv.insert(argv.end(), {"--root", config_.root});
  argv.insert(argv.end(),
              {"--log", log_path, "--log-format", "json", verb, "--bundle", options.bundle});
  if (std::string(verb) == "run") argv.push_back("--detach");
  if (!options.pid_file.empty()) argv.insert(argv.end(), {"--pid-file", options.pid_file});
  argv.push_back(id);
  auto output = runProcess(argv, options.stdout_fd >= 0 ? options.stdout_fd : dev_null.get(),
                           options.stderr_fd >= 0 ? options.stderr_fd : dev_null.get());
  std::string log_text = readFile(log_path);
  ::unlink(log_path.c_str());
  if (!output.ok()) return output.error();
  if (output->exit_code == 0) return okStatus();
  std::string message = runcLogErrors(log_text);
  if (message.empty()) message = "no error in runc's log";
  ErrorCode code = message.find("already exists") != std::string::npos ? ErrorCode::kAlreadyExists
                                                                       : ErrorCode::kInternal;
  return makeError(code, std::string("runc ") + verb + " " + id + " failed (exit " +
                             std::to_string(output->exit_code) + "): " + message);
}

Status Runc::create(const std::string& id, const CreateOptions& options) const {
  return launch("create", id, options);
}

Status Runc::run(const std::string& id, const CreateOptions& options) const {
  return launch("run", id, options);
}

Status Runc::start(const std::string& id) const {
  return check(runProcess(command({"start", id})), "runc start " + id);
}

Result<RuncState> Runc::state(const std::string& id) const {
  auto output = runProcess(command({"state", id}));
  BERTH_RETURN_IF_ERROR(check(output, "runc state " + id));
  return parseRuncState(output->out);
}

Status Runc::kill(const std::string& id, int signal, bool all) const {
  auto argv = all ? command({"kill", "--all", id, std::to_string(signal)})
                  : command({"kill", id, std::to_string(signal)});
  return check(runProcess(argv), "runc kill " + id);
}

Status Runc::remove(const std::string& id, bool force) const {
  auto argv = force ? command({"delete", "--force", id}) : command({"delete", id});
  return check(runProcess(argv), "runc delete " + id);
}

Result<std::vector<RuncState>> Runc::list() const {
  auto output = runProcess(command({"list", "--format", "json"}));
  BERTH_RETURN_IF_ERROR(check(output, "runc list"));
  return parseRuncList(output->out);
}

}  // namespace berth::runtime
