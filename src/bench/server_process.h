#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "client/https_client.h"
#include "common/result.h"
#include "server/cluster_server.h"

namespace berth::bench {

// The server under test: either `berth server` as a child process (so its
// RSS and start-up are measured apart from the load generator) or a
// ClusterServer in this process.
class BenchServer {
 public:
  // Starts the server on a free 127.0.0.1 port in a fresh temp data dir and
  // waits until /readyz answers 200 (polled every 2 ms). server_flags are
  // `berth server` flags (parseServerFlags), e.g. --no-control-plane.
  static Result<std::unique_ptr<BenchServer>> start(bool in_process,
                                                    const std::vector<std::string>& server_flags = {});
  // The server's directory (data/, server.log); removed by stop().
  const std::string& dir() const { return dir_; }
  // The in-process server, or null for a child process.
  server::ClusterServer* inProcess() { return in_process_.get(); }
  ~BenchServer();
  BenchServer(const BenchServer&) = delete;
  BenchServer& operator=(const BenchServer&) = delete;

  int port() const { return port_; }
  const std::string& token() const { return token_; }
  // What agents authenticate with (their own API fairness flow).
  const std::string& nodeToken() const { return node_token_; }
  const std::string& caPem() const { return ca_pem_; }
  // Exec (or start()) to first /readyz 200.
  double readyMs() const { return ready_ms_; }
  // VmRSS of the server's process in KiB (this process when in-process).
  long rssKib() const;
  // The child's pid, or this process's when in-process.
  pid_t pid() const;
  bool childProcess() const { return pid_ > 0; }
  // Kills the child by pid (or stops the in-process server) and removes the
  // temp dir. Idempotent.
  void stop();

 private:
  BenchServer() = default;
  Status waitReady(double timeout_s);

  std::string dir_;
  pid_t pid_ = -1;
  std::unique_ptr<server::ClusterServer> in_process_;
  int port_ = 0;
  std::string node_token_;
  std::string token_;
  std::string ca_pem_;
  double ready_ms_ = 0;
};

// VmRSS of /proc/PID/status in KiB, -1 when unreadable.
// A whole file; "" when it cannot be read.
std::string readWholeFile(const std::string& path);
// A token file as certs.cpp writes it (the token and a newline); "" while
// it is missing or only partly there.
std::string readToken(const std::string& path);

// The client a readiness wait asks /readyz with, once the server of
// data_dir has written its CA and admin token (DATA/pki/ca.crt,
// DATA/admin-token; read into *ca_pem and *token as they appear); nullptr
// until both are there.
std::unique_ptr<client::HttpsClient> adminClientOnceWritten(const std::string& data_dir, int port,
                                                            std::string* ca_pem,
                                                            std::string* token);
// The value of the flag args[*i] as a positive number, *i moved onto it;
// false when there is none or it is not one.
bool positiveNumberArg(const std::vector<std::string>& args, size_t* i, double* out);
// Private_Clean + Private_Dirty of /proc/<pid>/smaps_rollup: the memory no
// other process shares (RSS also counts the binary's and libraries' pages
// other processes map too); -1 when unreadable.
long readPrivateKib(pid_t pid);
long readRssKib(pid_t pid);
// User + system CPU seconds of a process so far, -1 when unreadable.
double cpuSeconds(pid_t pid);
// Forks and execs argv (argv[0] a path), stdout and stderr to log_path,
// ended by SIGTERM when the forking thread ends; in a process group of its
// own with own_group (a terminal's ^C then reaches only the bench). The
// child's pid, or -1.
pid_t spawnLogged(std::vector<std::string> argv, const std::string& log_path, bool own_group);
// spawnLogged of this binary with `args` (e.g. {"agent", "--hollow", "10"}).
pid_t spawnSelf(const std::vector<std::string>& args, const std::string& log_path);
// SIGTERM to the child, SIGKILL after `grace`; reaps it. Only this pid.
void stopChild(pid_t pid, std::chrono::seconds grace);
// Seconds from `t` to now on the steady clock.
double secondsSince(std::chrono::steady_clock::time_point t);
// /proc/loadavg's three averages.
std::string loadavg();
// "12.3 MiB", or "n/a" for a negative value.
std::string mib(long kib);

}  // namespace berth::bench
