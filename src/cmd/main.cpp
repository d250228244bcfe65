// berth: one binary, a few roles (see docs/ARCHITECTURE.md). This file only
// parses flags and wires components.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "agent/node_agent.h"
#include "bench/api_bench.h"
#include "bench/cluster_bench.h"
#include "bench/pod_bench.h"
#include "bench/scheduler_bench.h"
#include "cmd/agent_cmd.h"
#include "cmd/image_cmd.h"
#include "common/log.h"
#include "runtime/oci/shim.h"
#include "server/cluster_server.h"

namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage:\n"
      "  berth server [--data-dir DIR] [--listen ADDR:PORT] [--advertise-address IP]\n"
      "               [--service-cidr CIDR] [--no-control-plane]\n"
      "               [--node-monitor-period 5s] [--node-monitor-grace-period 40s]\n"
      "               [--node-eviction-rate 0.1] [--secondary-node-eviction-rate 0.01]\n"
      "               [--large-cluster-size-threshold 50] [--unhealthy-zone-threshold 0.55]\n"
      "               [--scheduler-strategy least|most] [-v]\n"
      "               [--disable-agent] [--node-name N] [--node-ip IP] [--pod-cidr CIDR]\n"
      "               [--cluster-dns IP] [--max-pods 110] [--runc PATH] [--cgroup-root /kubepods]\n"
      "    runs the control plane and, unless --disable-agent (or not root), an agent that\n"
      "    runs this machine's pods (a single-node cluster)\n"
      "  berth agent --hollow N --server URL --token T [flags]   (berth agent --help)\n"
      "  berth image [--root DIR] import|pack|ls|rm ...            (berth image)\n"
      "  berth bench api [flags]         (berth bench api --help)\n"
      "  berth bench scheduler [flags]   (berth bench scheduler --help)\n"
      "  berth bench cluster [flags]     (berth bench cluster --help)\n"
      "  berth bench pods [flags]        (berth bench pods --help; as root)\n");
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
  for (const auto& a : args) {
    if (a == "-v") berth::log::setLevel(berth::log::Level::kDebug);
  }
  // The embedded agent's flags go to it; the rest to the server.
  std::vector<std::string> flags;
  berth::agent::NodeAgentOptions node;
  bool agent_enabled = true;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string error;
    if (berth::cmd::takeNodeFlag(args, &i, &node, &error)) {
      if (!error.empty()) {
        std::fprintf(stderr, "berth server: %s\n", error.c_str());
        return usage();
      }
    } else if (args[i] == "--disable-agent") {
      agent_enabled = false;
    } else if (args[i] != "-v") {
      flags.push_back(args[i]);
    }
  }
  if (auto st = berth::server::parseServerFlags(flags, &config); !st.ok()) {
    std::fprintf(stderr, "berth server: %s\n", st.error().message.c_str());
    return usage();
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
  std::unique_ptr<berth::agent::NodeAgent> agent;
  if (agent_enabled && (*server)->client()) {
    if (geteuid() != 0) {
      std::printf("berth server: not root, so no agent runs pods on this machine\n");
    } else {
      if (node.data_dir.empty()) node.data_dir = config.data_dir + "/agent";
      berth::cmd::defaultNodeOptions(&node, config.advertise_address);
      node.ca_pem = (*server)->caPem();
      auto started = berth::agent::NodeAgent::start(*(*server)->client(), node);
      if (!started.ok()) {
        std::fprintf(stderr, "berth server: agent: %s\n", started.error().message.c_str());
        (*server)->stop();
        return 1;
      }
      agent = std::move(started).value();
    }
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::printf("berth server ready in %lld ms, listening on port %d\n", static_cast<long long>(ms), (*server)->port());
  if (agent)
    std::printf("node %s (%s) runs pods here\n", node.node_name.c_str(), node.node_ip.c_str());
  std::printf("kubeconfig: %s\n", (*server)->kubeconfigPath().c_str());
  std::printf("use it with:\n  export KUBECONFIG=%s\n  kubectl get nodes,namespaces,services -A\n",
              (*server)->kubeconfigPath().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  BERTH_LOG(kInfo, "server") << "stopping signal=" << sig;
  // The agent first: it leaves its containers running.
  if (agent) agent->stop();
  (*server)->stop();
  return 0;
}

}  // namespace

// jemalloc's options (read at its start). Without a background thread it
// returns freed memory to the system only while the process keeps
// allocating, so an idle server kept what its busiest minute freed (30 MiB
// after 100 pods came and went); the thread purges it after the decay time.
extern "C" {
#if defined(BERTH_JEMALLOC)
const char* malloc_conf = "background_thread:true";
#endif
}

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "server") return runServer(args);
  else if (cmd == "agent") return berth::cmd::runAgent(args);
  else if (cmd == "image")
    return berth::cmd::runImage(args, defaultDataDir() + "/images");
  else if (cmd == "shim")
    return berth::runtime::shimMain(args);
  else if (cmd == "bench" && !args.empty() && args[0] == "api") return berth::bench::runApiBench(args);
  else if (cmd == "bench" && !args.empty() && args[0] == "scheduler") return berth::bench::runSchedulerBench(args);
  else if (cmd == "bench" && !args.empty() && args[0] == "cluster") return berth::bench::runClusterBench(args);
  else if (cmd == "bench" && !args.empty() && args[0] == "pods") return berth::bench::runPodBench(args);
  return usage();
}
