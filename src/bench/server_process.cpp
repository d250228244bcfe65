#include "bench/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "client/https_client.h"
#include "common/subprocess.h"

namespace berth::bench {

namespace {

using Clock = std::chrono::steady_clock;

// Asks the kernel for a free loopback port. A race with another process
// taking it before the child binds is possible but harmless: start fails
// loudly.
int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace

std::string readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string readToken(const std::string& path) {
  std::string t = readWholeFile(path);
  if (t.empty() || t.back() != '\n') return "";
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  return t;
}

pid_t spawnLogged(std::vector<std::string> argv_s, const std::string& log_path, bool own_group) {
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Only async-signal-safe calls from here on.
  if (own_group) ::setpgid(0, 0);
  // A bench that dies (crash, kill) takes its server and agents with it.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(1);
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

pid_t spawnSelf(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<std::string> argv = {"/proc/self/exe"};
  argv.insert(argv.end(), args.begin(), args.end());
  return spawnLogged(std::move(argv), log_path, false);
}

void stopChild(pid_t pid, std::chrono::seconds grace) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  // Give the graceful path its time, then insist; only this child, by pid.
  auto deadline = Clock::now() + grace;
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &wstatus, 0);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

double cpuSeconds(pid_t pid) {
  // utime and stime are fields 14 and 15.
  std::vector<std::string> stat = procStat(pid);
  if (stat.size() < 15) return -1;
  long ticks =
      std::strtol(stat[13].c_str(), nullptr, 10) + std::strtol(stat[14].c_str(), nullptr, 10);
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string mib(long kib) {
  if (kib < 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", kib / 1024.0);
  return buf;
}

long readRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

std::unique_ptr<client::HttpsClient> adminClientOnceWritten(const std::string& data_dir, int port,
                                                            std::string* ca_pem,
                                                            std::string* token) {
  if (ca_pem->empty()) *ca_pem = readWholeFile(data_dir + "/pki/ca.crt");
  if (token->empty()) *token = readToken(data_dir + "/admin-token");
  if (ca_pem->empty() || token->empty()) return nullptr;
  client::ClientOptions o;
  o.port = port;
  o.ca_pem = *ca_pem;
  o.bearer_token = *token;
  o.connect_timeout = std::chrono::milliseconds(500);
  o.request_timeout = std::chrono::milliseconds(2000);
  return std::make_unique<client::HttpsClient>(o);
}

bool positiveNumberArg(const std::vector<std::string>& args, size_t* i, double* out) {
  if (*i + 1 >= args.size()) return false;
  char* end = nullptr;
  *out = std::strtod(args[++*i].c_str(), &end);
  return end && *end == '\0' && *out > 0;
}

long readPrivateKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  long kib = -1;
  while (std::getline(in, line)) {
    if (line.rfind("Private_Clean:", 0) == 0 || line.rfind("Private_Dirty:", 0) == 0)
      kib = std::max(kib, 0L) + std::strtol(line.c_str() + line.find(':') + 1, nullptr, 10);
  }
  return kib;
}

Result<std::unique_ptr<BenchServer>> BenchServer::start(bool in_process,
                                                        const std::vector<std::string>& server_flags) {
  std::unique_ptr<BenchServer> s(new BenchServer());
  char tmpl[] = "/tmp/berth-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) return makeError(ErrorCode::kInternal, "mkdtemp failed");
  s->dir_ = tmpl;
  std::string data_dir = s->dir_ + "/data";
  auto t0 = Clock::now();
  if (in_process) {
    server::ServerConfig config;
    config.data_dir = data_dir;
    config.listen = "127.0.0.1:0";
    BERTH_RETURN_IF_ERROR(server::parseServerFlags(server_flags, &config));
    auto srv = server::ClusterServer::start(config);
    if (!srv.ok()) return std::move(srv).error();
    s->in_process_ = std::move(srv).value();
    s->port_ = s->in_process_->port();
    s->token_ = s->in_process_->adminToken();
    s->node_token_ = s->in_process_->nodeToken();
    s->ca_pem_ = s->in_process_->caPem();
    BERTH_RETURN_IF_ERROR(s->waitReady(60));
    s->ready_ms_ = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    return s;
  }
  s->port_ = freePort();
  if (s->port_ <= 0) return makeError(ErrorCode::kInternal, "no free port");
  std::string listen = "127.0.0.1:" + std::to_string(s->port_);
  std::string log_path = s->dir_ + "/server.log";
  // The benches run on hollow nodes: no agent runs pods on this machine.
  std::vector<std::string> argv_s = {"server",   "--data-dir", data_dir,
                                     "--listen", listen,       "--disable-agent"};
  argv_s.insert(argv_s.end(), server_flags.begin(), server_flags.end());
  t0 = Clock::now();
  pid_t pid = spawnSelf(argv_s, log_path);
  if (pid < 0) return makeError(ErrorCode::kInternal, "fork failed");
  s->pid_ = pid;
  // Credentials appear on disk during start-up (apiserver/auth/certs.cpp:
  // DATA/pki/ca.crt, DATA/admin-token, both written atomically).
  Status st = s->waitReady(60);
  if (!st.ok()) {
    std::string log = readWholeFile(log_path);
    s->stop();
    Error e = std::move(st).error();
    e.message += "; server log:\n" + log.substr(log.size() > 2000 ? log.size() - 2000 : 0);
    return e;
  }
  s->ready_ms_ = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  // Written with the admin token, before the server listened.
  s->node_token_ = readToken(data_dir + "/node-token");
  return s;
}

Status BenchServer::waitReady(double timeout_s) {
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  std::unique_ptr<client::HttpsClient> c;
  std::string data_dir = dir_ + "/data";
  std::string last = "not started";
  while (Clock::now() < deadline) {
    if (pid_ > 0) {
      int wstatus = 0;
      if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
        pid_ = -1;
        return makeError(ErrorCode::kUnavailable, "server exited during start-up");
      }
    }
    if (!c) c = adminClientOnceWritten(data_dir, port_, &ca_pem_, &token_);
    if (c) {
      auto r = c->request("GET", "/readyz");
      if (r.ok() && r->status == 200) return okStatus();
      last = r.ok() ? "status " + std::to_string(r->status) : r.error().message;
      if (!r.ok()) c->close();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return makeError(ErrorCode::kTimeout, "server not ready: " + last);
}

pid_t BenchServer::pid() const { return pid_ > 0 ? pid_ : ::getpid(); }

long BenchServer::rssKib() const { return readRssKib(pid_ > 0 ? pid_ : ::getpid()); }

void BenchServer::stop() {
  if (in_process_) {
    in_process_->stop();
    in_process_.reset();
  }
  if (pid_ > 0) {
    stopChild(pid_, std::chrono::seconds(5));
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

BenchServer::~BenchServer() { stop(); }

}  // namespace berth::bench
