// `berth agent`: flags and wiring only (STYLE.md: src/cmd/ wires).
#include "cmd/agent_cmd.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/hollow/hollow_node_set.h"
#include "agent/node_agent.h"
#include "client/informer.h"
#include "client/remote_client.h"
#include "common/log.h"
#include "controllers/bootstrap/bootstrap.h"

namespace berth::cmd {

namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage:\n"
      "  berth agent --server URL (--token T | --token-file F) [--ca-file F] [--kubeconfig F]\n"
      "              [--node-name N] [--node-ip IP] [--pod-cidr CIDR] [--agent-data-dir D]\n"
      "              [--cluster-dns IP] [--max-pods 110] [--runc PATH] [--cgroup-root /kubepods]\n"
      "  berth agent --hollow N --server URL (--token T | --token-file F) [--ca-file F]\n"
      "              [--kubeconfig F] [--name-prefix P] [--first-index I]\n"
      "              [--cpu 4] [--memory 16Gi] [--pods 110] [--ephemeral-storage 100Gi]\n"
      "              [--zones z1,z2,...] [--startup-latency-ms MS] [--ready-delay-ms MS]\n"
      "              [--node-lease-duration-seconds 40] [--workers W] [--node-workers W]\n"
      "              [--delete-on-exit] [-v]\n"
      "  --hollow N runs N simulated nodes (no containers) for scale tests; --kubeconfig\n"
      "  takes server, CA and credentials from a kubeconfig instead of the flags.\n");
  return 2;
}

bool readFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

bool parseInt(const std::string& s, int* out) {
  try {
    size_t pos = 0;
    int v = std::stoi(s, &pos);
    if (pos != s.size() || v < 0) return false;
    *out = v;
    return true;
  } catch (...) {
    return false;
  }
}

std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

bool takeNodeFlag(const std::vector<std::string>& args, size_t* i, agent::NodeAgentOptions* o,
                  std::string* error) {
  const std::string& flag = args[*i];
  static const char* const kFlags[] = {"--node-name",      "--node-ip",     "--pod-cidr",
                                       "--agent-data-dir", "--cluster-dns", "--max-pods",
                                       "--runc",           "--cgroup-root"};
  bool known = false;
  for (const char* f : kFlags) known |= flag == f;
  if (!known) return false;
  if (*i + 1 >= args.size()) {
    *error = flag + " wants a value";
    return true;
  }
  const std::string& v = args[++*i];
  if (flag == "--node-name") {
    o->node_name = v;
  } else if (flag == "--node-ip") {
    o->node_ip = v;
  } else if (flag == "--pod-cidr") {
    o->pod_cidr = v;
  } else if (flag == "--agent-data-dir") {
    o->data_dir = v;
  } else if (flag == "--cluster-dns") {
    o->dns.servers = splitComma(v);
  } else if (flag == "--max-pods") {
    if (!parseInt(v, &o->max_pods) || o->max_pods == 0)
      *error = "--max-pods wants a positive integer";
  } else if (flag == "--runc") {
    o->runc_binary = v;
  } else if (flag == "--cgroup-root") {
    o->cgroup_root = v;
  }
  return true;
}

void defaultNodeOptions(agent::NodeAgentOptions* o, const std::string& default_ip) {
  if (o->node_name.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    o->node_name = host;
    std::transform(o->node_name.begin(), o->node_name.end(), o->node_name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
  }
  if (o->node_ip.empty())
    o->node_ip = default_ip.empty() ? controllers::defaultAdvertiseAddress() : default_ip;
}

namespace {

// A real node until a stop signal (blocked in `signals`) arrives.
int runNode(client::Client& client, agent::NodeAgentOptions options, const sigset_t& signals) {
  auto t0 = std::chrono::steady_clock::now();
  auto node = agent::NodeAgent::start(client, options);
  if (!node.ok()) {
    std::fprintf(stderr, "berth agent: %s\n", node.error().message.c_str());
    return 1;
  }
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf("berth agent: node %s (%s) started in %lld ms\n", options.node_name.c_str(),
              options.node_ip.c_str(), static_cast<long long>(ms));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  BERTH_LOG(kInfo, "agent") << "stopping signal=" << sig;
  (*node)->stop();
  return 0;
}

}  // namespace

int runAgent(const std::vector<std::string>& args) {
  int hollow = -1;
  std::string server, token, token_file, ca_file, kubeconfig;
  bool delete_on_exit = false;
  agent::hollow::HollowOptions options;
  agent::NodeAgentOptions node;
  std::string node_error;
  bool workers_set = false, node_workers_set = false;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&](const char* flag) -> const std::string* {
      if (args[i] == flag && i + 1 < args.size()) return &args[++i];
      return nullptr;
    };
    auto number = [&](const std::string& v, int* out, const char* flag) {
      if (parseInt(v, out)) return true;
      std::fprintf(stderr, "berth agent: %s wants a non-negative integer, got %s\n", flag,
                   v.c_str());
      return false;
    };
    int ms = 0;
    if (takeNodeFlag(args, &i, &node, &node_error)) {
      if (!node_error.empty()) {
        std::fprintf(stderr, "berth agent: %s\n", node_error.c_str());
        return usage();
      }
    } else if (auto* v = value("--hollow")) {
      if (!number(*v, &hollow, "--hollow")) return usage();
    } else if (auto* v = value("--server"))
      server = *v;
    else if (auto* v = value("--token"))
      token = *v;
    else if (auto* v = value("--token-file"))
      token_file = *v;
    else if (auto* v = value("--ca-file"))
      ca_file = *v;
    else if (auto* v = value("--kubeconfig"))
      kubeconfig = *v;
    else if (auto* v = value("--name-prefix"))
      options.name_prefix = *v;
    else if (auto* v = value("--first-index")) {
      if (!number(*v, &options.first_index, "--first-index")) return usage();
    } else if (auto* v = value("--cpu"))
      options.resources.cpu = *v;
    else if (auto* v = value("--memory"))
      options.resources.memory = *v;
    else if (auto* v = value("--pods"))
      options.resources.pods = *v;
    else if (auto* v = value("--ephemeral-storage"))
      options.resources.ephemeral_storage = *v;
    else if (auto* v = value("--zones"))
      options.zones = splitComma(*v);
    else if (auto* v = value("--startup-latency-ms")) {
      if (!number(*v, &ms, "--startup-latency-ms")) return usage();
      options.startup_latency = std::chrono::milliseconds(ms);
    } else if (auto* v = value("--ready-delay-ms")) {
      if (!number(*v, &ms, "--ready-delay-ms")) return usage();
      options.ready_delay = std::chrono::milliseconds(ms);
    } else if (auto* v = value("--node-lease-duration-seconds")) {
      // kubelet's flag; it renews the lease every quarter of the duration.
      if (!number(*v, &ms, "--node-lease-duration-seconds") || ms < 4) {
        std::fprintf(stderr, "berth agent: --node-lease-duration-seconds must be at least 4\n");
        return usage();
      }
      options.lease_duration = std::chrono::seconds(ms);
      options.lease_renew_interval = std::chrono::seconds(ms / 4);
    } else if (auto* v = value("--workers")) {
      if (!number(*v, &options.workers, "--workers") || options.workers == 0) return usage();
      workers_set = true;
    } else if (auto* v = value("--node-workers")) {
      if (!number(*v, &options.node_workers, "--node-workers") || options.node_workers == 0) return usage();
      node_workers_set = true;
    } else if (args[i] == "--delete-on-exit")
      delete_on_exit = true;
    else if (args[i] == "-v")
      log::setLevel(log::Level::kDebug);
    else if (args[i] == "-h" || args[i] == "--help")
      return usage();
    else {
      std::fprintf(stderr, "berth agent: unknown flag %s\n", args[i].c_str());
      return usage();
    }
  }
  if (hollow == 0) {
    std::fprintf(stderr, "berth agent: --hollow wants at least one node\n");
    return usage();
  }

  // Each worker makes one blocking request at a time, so the workers bound
  // the writes in flight: 5,000 nodes renew 500 Leases a second, which two
  // node workers cannot keep up with once a loaded server answers in tens
  // of milliseconds (every Lease would lapse). One worker per 100 nodes.
  if (hollow > 0 && !node_workers_set) options.node_workers = std::clamp(hollow / 100, 2, 64);
  if (hollow > 0 && !workers_set) options.workers = std::clamp(hollow / 100, options.workers, 64);

  Result<std::unique_ptr<client::RemoteClient>> remote =
      makeError(ErrorCode::kBadRequest, "no server given");
  client::RemoteClientOptions ro;
  if (!kubeconfig.empty()) {
    std::string text;
    if (!readFile(kubeconfig, &text)) {
      std::fprintf(stderr, "berth agent: cannot read --kubeconfig %s\n", kubeconfig.c_str());
      return 1;
    }
    auto parsed = client::RemoteClient::parseKubeconfig(
        text, std::filesystem::path(kubeconfig).parent_path().string());
    if (!parsed.ok()) {
      std::fprintf(stderr, "berth agent: %s\n", parsed.error().message.c_str());
      return 1;
    }
    ro = std::move(parsed).value();
  } else {
    if (server.empty()) {
      std::fprintf(stderr, "berth agent: --server (or --kubeconfig) is required\n");
      return usage();
    }
    if (!token_file.empty() && !readFile(token_file, &token)) {
      std::fprintf(stderr, "berth agent: cannot read --token-file %s\n", token_file.c_str());
      return 1;
    }
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    ro.server = server;
    ro.bearer_token = token;
    if (!ca_file.empty() && !readFile(ca_file, &ro.ca_pem)) {
      std::fprintf(stderr, "berth agent: cannot read --ca-file %s\n", ca_file.c_str());
      return 1;
    }
  }
  const std::string ca_pem = ro.ca_pem;
  ro.user_agent = hollow > 0 ? "berth-agent-hollow" : "berth-agent";
  // One keep-alive connection per writing worker (pod and node workers).
  ro.connections = options.workers + options.node_workers;
  remote = client::RemoteClient::create(std::move(ro));
  if (!remote.ok()) {
    std::fprintf(stderr, "berth agent: %s\n", remote.error().message.c_str());
    return 1;
  }

  // Block the stop signals before any thread starts, so that only sigwait
  // below sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (hollow < 0) {
    if (workers_set) node.workers = options.workers;
    if (node.data_dir.empty()) node.data_dir = "/var/lib/berth/agent";
    defaultNodeOptions(&node, "");
    // The cluster CA also signs the API server's client certificate for the
    // agent's log endpoint.
    node.ca_pem = ca_pem;
    return runNode(**remote, std::move(node), set);
  }
  options.count = hollow;
  options.run_threads = true;
  auto t0 = std::chrono::steady_clock::now();
  client::InformerFactory informers(**remote);
  agent::hollow::HollowNodeSet nodes(**remote, informers, RealClock::instance(), options);
  if (auto st = nodes.start(); !st.ok()) {
    std::fprintf(stderr, "berth agent: %s\n", st.error().message.c_str());
    return 1;
  }
  // Report once every node is in; a signal meanwhile stays pending for sigwait.
  if (nodes.waitRegistered(std::chrono::minutes(5))) {
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    std::printf("berth agent: %d hollow nodes registered in %lld ms (%s%d..%s%d)\n", hollow,
                static_cast<long long>(ms), options.name_prefix.c_str(), options.first_index,
                options.name_prefix.c_str(), options.first_index + hollow - 1);
  } else {
    std::printf("berth agent: %zu of %d hollow nodes registered so far; still trying\n",
                nodes.registeredCount(), hollow);
  }
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  BERTH_LOG(kInfo, "agent") << "stopping signal=" << sig;
  nodes.stop(delete_on_exit);
  informers.stop();
  auto stats = nodes.stats();
  std::printf(
      "berth agent: stopped; lease renewals %llu, pod status writes %llu, pod deletions %llu\n",
      static_cast<unsigned long long>(stats.lease_renewals),
      static_cast<unsigned long long>(stats.pod_status_updates),
      static_cast<unsigned long long>(stats.pod_deletions));
  return 0;
}

}  // namespace berth::cmd
