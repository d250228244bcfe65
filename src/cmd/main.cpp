// berth: one binary, a few roles (see docs/ARCHITECTURE.md). This file only
// parses flags and wires components.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/api_bench.h"
#include "common/log.h"
#include "server/cluster_server.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  berth server [--data-dir DIR] [--listen ADDR:PORT] [--advertise-address IP]\n"
               "               [--service-cidr CIDR] [-v]\n"
               "  berth bench api [flags]   (see berth bench api --help)\n");
  return 2;
}

std::string defaultDataDir() {
  if (geteuid() == 0) return "/var/lib/berth";
  const char* home = getenv("HOME");
  return std::string(home ? home : ".") + "/.berth";
}

int runServer(const std::vector<std::string>& args) {
  auto t0 = std::chrono::steady_clock::now();
  berth::server::ServerConfig config;
  config.data_dir = defaultDataDir();
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&](const char* flag) -> const std::string* {
      if (args[i] == flag && i + 1 < args.size()) return &args[++i];
      return nullptr;
    };
    if (auto* v = value("--data-dir")) config.data_dir = *v;
    else if (auto* v = value("--listen")) config.listen = *v;
    else if (auto* v = value("--advertise-address")) config.advertise_address = *v;
    else if (auto* v = value("--service-cidr")) config.service_cidr = *v;
    else if (args[i] == "-v") berth::log::setLevel(berth::log::Level::kDebug);
    else {
      std::fprintf(stderr, "berth server: unknown flag %s\n", args[i].c_str());
      return usage();
    }
  }
  // Block the stop signals before any thread starts, so that only sigwait
  // below sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = berth::server::ClusterServer::start(config);
  if (!server.ok()) {
    std::fprintf(stderr, "berth server: %s\n", server.error().message.c_str());
    return 1;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::printf("berth server ready in %lld ms, listening on port %d\n", static_cast<long long>(ms), (*server)->port());
  std::printf("kubeconfig: %s\n", (*server)->kubeconfigPath().c_str());
  std::printf("use it with:\n  export KUBECONFIG=%s\n  kubectl get nodes,namespaces,services -A\n",
              (*server)->kubeconfigPath().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  BERTH_LOG(kInfo, "server") << "stopping signal=" << sig;
  (*server)->stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "server") return runServer(args);
  else if (cmd == "bench" && !args.empty() && args[0] == "api") return berth::bench::runApiBench(args);
  return usage();
}
