#include "bench/cluster_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "bench/load.h"
#include "bench/server_process.h"
#include "client/https_client.h"

namespace berth::bench {

namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

struct Options {
  int nodes = 100;
  int pods = 3000;
  // Pods per Deployment (upstream's density test uses one RC per 3,000
  // pods at scale; smaller groups spread the work over more controllers'
  // keys).
  int per_deployment = 1000;
  double probe_rate = 20;
  double baseline_seconds = 5;
  double timeout_s = 1800;
  std::vector<std::string> server_flags;
};

int usage() {
  std::fprintf(stderr,
               "usage: berth bench cluster [--nodes N] [--pods M] [--per-deployment K]\n"
               "                           [--probe-rate R] [--timeout SECONDS] [--server-flag F]...\n"
               "  Upstream's density test on hollow nodes: berth server and berth agent --hollow N\n"
               "  as child processes, M pods as Deployments of K replicas; time to all pods\n"
               "  Running and Ready, API latency during the run vs idle, server RSS and CPU.\n");
  return 2;
}

const client::Headers kJson = {{"Content-Type", "application/json"}};
const client::Headers kMergePatch = {{"Content-Type", "application/merge-patch+json"}};
constexpr const char* kProbeNs = "bench-probe";
constexpr const char* kWorkNs = "bench-density";

// Latencies of one probe verb.
struct ProbeStats {
  std::vector<double> ms;
  long errors = 0;
  std::string first_error;
};

// An open-loop probe: request k is due at start + k / rate and its latency
// counts from the due time (a stalled server cannot hide its queueing).
// Rotates GET, LIST and PATCH of small objects in their own namespace, the
// single-object and list calls of upstream's API latency SLI.
class Probe {
 public:
  Probe(client::ClientOptions co, double rate) : client_(std::move(co)), rate_(rate) {}

  void start() {
    stop_ = false;
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Verb → stats since the last take().
  std::vector<std::pair<std::string, ProbeStats>> take() {
    std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, ProbeStats>> out;
    for (auto& [verb, st] : stats_) out.emplace_back(verb, std::move(st));
    stats_.clear();
    return out;
  }

 private:
  void loop() {
    auto start = SteadyClock::now();
    for (long k = 0; !stop_; ++k) {
      auto due = start + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(k / rate_));
      std::this_thread::sleep_until(due);
      if (stop_) break;
      std::string base = std::string("/api/v1/namespaces/") + kProbeNs + "/configmaps";
      const char* verb = nullptr;
      Result<client::ClientResponse> r = makeError(ErrorCode::kInternal, "no request");
      switch (k % 3) {
        case 0:
          verb = "GET";
          r = client_.request("GET", base + "/probe");
          break;
        case 1:
          verb = "LIST";
          r = client_.request("GET", base);
          break;
        default:
          verb = "PATCH";
          r = client_.request("PATCH", base + "/probe",
                              R"({"data":{"k":")" + std::to_string(k) + R"("}})", kMergePatch);
      }
      double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - due).count();
      std::lock_guard lock(mu_);
      ProbeStats& st = stats_[verb];
      if (r.ok() && r->status < 300) {
        st.ms.push_back(ms);
      } else {
        ++st.errors;
        if (st.first_error.empty())
          st.first_error = r.ok() ? "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 200)
                                  : r.error().message;
      }
    }
  }

  client::HttpsClient client_;
  double rate_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, ProbeStats> stats_;
};

struct Summary {
  double p50 = 0, p99 = 0, max = 0;
  long ok = 0, errors = 0;
  std::string first_error;
};

Summary summarize(ProbeStats& st) {
  Summary s;
  std::sort(st.ms.begin(), st.ms.end());
  s.p50 = percentile(st.ms, 0.50);
  s.p99 = percentile(st.ms, 0.99);
  s.max = st.ms.empty() ? 0 : st.ms.back();
  s.ok = static_cast<long>(st.ms.size());
  s.errors = st.errors;
  s.first_error = st.first_error;
  return s;
}

// Samples a child's RSS every second and keeps the peak.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid) {
    thread_ = std::thread([this] {
      while (!stop_) {
        long kib = readRssKib(pid_);
        long cur = peak_.load();
        while (kib > cur && !peak_.compare_exchange_weak(cur, kib)) {
        }
        for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~RssSampler() {
    stop_ = true;
    thread_.join();
  }
  long peakKib() const { return peak_.load(); }

 private:
  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<long> peak_{0};
  std::thread thread_;
};

Result<json::value> getJson(client::HttpsClient& c, const std::string& target) {
  BERTH_ASSIGN_OR_RETURN(auto r, c.request("GET", target));
  if (r.status != 200) return makeError(ErrorCode::kInternal, "GET " + target + ": HTTP " + std::to_string(r.status));
  json::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec) return makeError(ErrorCode::kInternal, "GET " + target + ": bad JSON");
  return v;
}

Status post(client::HttpsClient& c, const std::string& target, const json::object& body) {
  BERTH_ASSIGN_OR_RETURN(auto r, c.request("POST", target, json::serialize(body), kJson));
  if (r.status != 201)
    return makeError(ErrorCode::kInternal, "POST " + target + ": HTTP " + std::to_string(r.status) + " " +
                                               r.body.substr(0, 300));
  return okStatus();
}

const json::array* itemsOf(const json::value& list) {
  const auto* items = list.is_object() ? list.as_object().if_contains("items") : nullptr;
  return items && items->is_array() ? &items->as_array() : nullptr;
}

const json::value* pathOf(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (const char* key : path) {
    if (!cur->is_object()) return nullptr;
    cur = cur->as_object().if_contains(key);
    if (!cur) return nullptr;
  }
  return cur;
}

int readyNodes(client::HttpsClient& c) {
  auto v = getJson(c, "/api/v1/nodes");
  if (!v.ok()) return -1;
  int ready = 0;
  const auto* items = itemsOf(*v);
  if (!items) return -1;
  for (const auto& n : *items) {
    const auto* conds = pathOf(n, {"status", "conditions"});
    if (!conds || !conds->is_array()) continue;
    for (const auto& cnd : conds->as_array()) {
      const auto* type = pathOf(cnd, {"type"});
      const auto* status = pathOf(cnd, {"status"});
      if (type && status && *type == "Ready" && *status == "True") ++ready;
    }
  }
  return ready;
}

// Sum of readyReplicas over the work namespace's Deployments.
long readyPods(client::HttpsClient& c) {
  auto v = getJson(c, std::string("/apis/apps/v1/namespaces/") + kWorkNs + "/deployments");
  if (!v.ok()) return -1;
  const auto* items = itemsOf(*v);
  if (!items) return -1;
  long ready = 0;
  for (const auto& d : *items) {
    const auto* r = pathOf(d, {"status", "readyReplicas"});
    if (r && r->is_number()) ready += r->to_number<long>();
  }
  return ready;
}

json::object deployment(const std::string& name, int replicas) {
  json::object labels{{"app", name}};
  json::object container{{"name", "c"},
                         {"image", "registry.k8s.io/pause:3.9"},
                         {"resources", json::object{{"requests", json::object{{"cpu", "10m"}, {"memory", "16Mi"}}}}}};
  return json::object{
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", json::object{{"name", name}}},
      {"spec", json::object{{"replicas", replicas},
                            {"selector", json::object{{"matchLabels", labels}}},
                            {"template", json::object{{"metadata", json::object{{"labels", labels}}},
                                                      {"spec", json::object{{"containers", json::array{container}}}}}}}}};
}

void printProbeTable(const char* title, std::vector<std::pair<std::string, ProbeStats>> stats,
                     std::map<std::string, Summary>* out) {
  std::printf("%s\n  %-6s %8s %9s %9s %9s %7s\n", title, "verb", "ok", "p50 ms", "p99 ms", "max ms", "errors");
  for (auto& [verb, st] : stats) {
    Summary s = summarize(st);
    std::printf("  %-6s %8ld %9.2f %9.2f %9.2f %7ld\n", verb.c_str(), s.ok, s.p50, s.p99, s.max, s.errors);
    if (!s.first_error.empty()) std::printf("    first error: %s\n", s.first_error.c_str());
    (*out)[verb] = s;
  }
}

int run(const Options& opt) {
  std::printf("berth bench cluster: nodes=%d pods=%d per-deployment=%d probe=%.0f/s\n", opt.nodes, opt.pods,
              opt.per_deployment, opt.probe_rate);
  std::printf("loadavg at start: %s (cores: %u)\n", loadavg().c_str(), std::thread::hardware_concurrency());
  std::fflush(stdout);

  auto started = BenchServer::start(false, opt.server_flags);
  if (!started.ok()) {
    std::fprintf(stderr, "bench cluster: server start failed: %s\n", started.error().message.c_str());
    return 1;
  }
  std::unique_ptr<BenchServer> server = std::move(started).value();
  std::printf("server: ready in %.1f ms, RSS %s\n", server->readyMs(), mib(server->rssKib()).c_str());

  client::ClientOptions co;
  co.port = server->port();
  co.ca_pem = server->caPem();
  co.bearer_token = server->token();
  co.request_timeout = std::chrono::seconds(120);
  co.user_agent = "berth-bench-cluster";
  client::HttpsClient ctl(co);
  for (const char* ns : {kProbeNs, kWorkNs}) {
    if (auto st = post(ctl, "/api/v1/namespaces",
                       json::object{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", json::object{{"name", ns}}}});
        !st.ok()) {
      std::fprintf(stderr, "bench cluster: %s\n", st.error().message.c_str());
      return 1;
    }
  }
  for (int i = 0; i < 20; ++i) {
    json::object cm{{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", json::object{{"name", i == 0 ? std::string("probe") : "probe-" + std::to_string(i)}}},
                    {"data", json::object{{"k", "v"}}}};
    if (auto st = post(ctl, std::string("/api/v1/namespaces/") + kProbeNs + "/configmaps", cm); !st.ok()) {
      std::fprintf(stderr, "bench cluster: %s\n", st.error().message.c_str());
      return 1;
    }
  }

  // Baseline: the same probe on the idle server (no nodes, no pods).
  Probe probe(co, opt.probe_rate);
  probe.start();
  std::this_thread::sleep_for(std::chrono::duration<double>(opt.baseline_seconds));
  probe.stop();
  std::map<std::string, Summary> idle;
  printProbeTable("\nAPI probe on the idle server (baseline):", probe.take(), &idle);

  // The hollow nodes, in their own process over HTTPS.
  std::string ca_path = server->dir() + "/ca.crt";
  {
    std::ofstream out(ca_path);
    out << server->caPem();
  }
  std::vector<std::string> agent_args = {"agent", "--hollow", std::to_string(opt.nodes), "--server",
                                         "https://127.0.0.1:" + std::to_string(server->port()),
                                         // The agents' identity: API fairness
                                         // serves the probe beside the agent.
                                         "--token", server->nodeToken(), "--ca-file", ca_path};
  auto t_nodes = SteadyClock::now();
  pid_t agent = spawnSelf(agent_args, server->dir() + "/agent.log");
  if (agent < 0) {
    std::fprintf(stderr, "bench cluster: cannot start the hollow agent\n");
    return 1;
  }
  RssSampler server_rss(server->pid());
  RssSampler agent_rss(agent);
  probe.start();
  int ready = 0;
  while (ready < opt.nodes && secondsSince(t_nodes) < opt.timeout_s) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    ready = readyNodes(ctl);
  }
  double nodes_s = secondsSince(t_nodes);
  std::printf("\nnodes: %d/%d Ready in %.1f s; server RSS %s, agent RSS %s; loadavg %s\n", ready, opt.nodes, nodes_s,
              mib(server->rssKib()).c_str(), mib(readRssKib(agent)).c_str(), loadavg().c_str());
  std::fflush(stdout);
  bool ok = ready == opt.nodes;

  double cpu_before = cpuSeconds(server->pid());
  double pods_s = 0;
  long done = 0;
  if (ok) {
    auto t0 = SteadyClock::now();
    int deployments = (opt.pods + opt.per_deployment - 1) / opt.per_deployment;
    std::string base = std::string("/apis/apps/v1/namespaces/") + kWorkNs + "/deployments";
    for (int d = 0; d < deployments; ++d) {
      int replicas = std::min(opt.per_deployment, opt.pods - d * opt.per_deployment);
      if (auto st = post(ctl, base, deployment("density-" + std::to_string(d), replicas)); !st.ok()) {
        std::fprintf(stderr, "bench cluster: %s\n", st.error().message.c_str());
        ok = false;
        break;
      }
    }
    double last_print = 0;
    while (ok && done < opt.pods && secondsSince(t0) < opt.timeout_s) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      done = std::max(done, readyPods(ctl));
      if (secondsSince(t0) - last_print >= 10) {
        last_print = secondsSince(t0);
        std::printf("  %6.0f s: %ld/%d pods Running+Ready, server RSS %s, loadavg %s\n", last_print, done, opt.pods,
                    mib(server->rssKib()).c_str(), loadavg().c_str());
        std::fflush(stdout);
      }
    }
    pods_s = secondsSince(t0);
    ok = ok && done == opt.pods;
  }
  probe.stop();
  double cpu_s = cpuSeconds(server->pid()) - cpu_before;
  long rss_end = server->rssKib();
  std::map<std::string, Summary> busy;
  printProbeTable("\nAPI probe while nodes registered and pods started:", probe.take(), &busy);

  std::printf("\nresult: %s\n", ok ? "all pods Running and Ready" : "INCOMPLETE");
  std::printf("  nodes Ready:             %d/%d in %.1f s\n", ready, opt.nodes, nodes_s);
  std::printf("  pods Running+Ready:      %ld/%d in %.1f s (%.0f pods/s; deployments' readyReplicas)\n", done,
              opt.pods, pods_s, pods_s > 0 ? done / pods_s : 0.0);
  std::printf("  server RSS:              peak %s, at end %s (target <= 4 GiB: %s)\n",
              mib(server_rss.peakKib()).c_str(), mib(rss_end).c_str(),
              server_rss.peakKib() <= 4L * 1024 * 1024 ? "met" : "missed");
  std::printf("  server CPU during pods:  %.1f s (%.2f cores)\n", cpu_s, pods_s > 0 ? cpu_s / pods_s : 0.0);
  std::printf("  agent RSS:               peak %s\n", mib(agent_rss.peakKib()).c_str());
  for (const auto& [verb, s] : busy) {
    const Summary& base = idle[verb];
    std::printf("  API %-5s p99 during run %8.2f ms vs idle %6.2f ms (%.1fx; upstream SLO 1 s%s)\n", verb.c_str(),
                s.p99, base.p99, base.p99 > 0 ? s.p99 / base.p99 : 0.0,
                verb == "LIST" ? ", 30 s for lists" : "");
  }
  std::printf("loadavg at end: %s\n", loadavg().c_str());
  std::fflush(stdout);

  stopChild(agent, std::chrono::seconds(10));
  server->stop();
  return ok ? 0 : 1;
}

}  // namespace

int runClusterBench(const std::vector<std::string>& args) {
  Options opt;
  // args[0] is "cluster".
  for (size_t i = 1; i < args.size(); ++i) {
    auto number = [&](double* out) { return positiveNumberArg(args, &i, out); };
    double v = 0;
    if (args[i] == "--nodes" && number(&v)) opt.nodes = static_cast<int>(v);
    else if (args[i] == "--pods" && number(&v)) opt.pods = static_cast<int>(v);
    else if (args[i] == "--per-deployment" && number(&v)) opt.per_deployment = static_cast<int>(v);
    else if (args[i] == "--probe-rate" && number(&v)) opt.probe_rate = v;
    else if (args[i] == "--timeout" && number(&v)) opt.timeout_s = v;
    else if (args[i] == "--server-flag" && i + 1 < args.size()) opt.server_flags.push_back(args[++i]);
    else return usage();
  }
  return run(opt);
}

}  // namespace berth::bench
