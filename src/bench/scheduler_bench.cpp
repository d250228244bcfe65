#include "bench/scheduler_bench.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/object.h"
#include "apiserver/registry/registry.h"
#include "bench/server_process.h"
#include "client/event_recorder.h"
#include "client/informer.h"
#include "client/inprocess_client.h"
#include "common/log.h"
#include "scheduler/scheduler.h"
#include "server/cluster_server.h"

namespace berth::bench {

namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

struct Options {
  int nodes = 100;
  int pods = 3000;
  scheduler::ScoringStrategy strategy = scheduler::ScoringStrategy::kLeastAllocated;
  int clients = 16;
  double timeout_s = 300;
  // All nodes 4c/16Gi instead of four shapes (the bin-packing lower bound is
  // then tight).
  bool uniform = false;
};

int usage() {
  std::fprintf(
      stderr,
      "usage: berth bench scheduler [--nodes N] [--pods M] [--strategy least|most] [--clients C]\n"
      "                             [--timeout SECONDS] [--uniform]\n");
  return 2;
}

// Thread roles by name prefix, in the order "cpu per pod" prints them: the
// scheduler's threads (sched-cycle, sched-par, sched-bind), then the
// server's side of a binding: the store's writer (SQLite, decorating and
// fanning out watch events), in-process watch delivery to informers,
// informer list+watch threads, the event recorders, controller workers.
struct ThreadRole {
  const char* prefix;
  const char* label;
};
constexpr ThreadRole kThreadRoles[] = {
    {"sched-cycle", "scheduling thread"},
    {"sched-par", "its filter/score helpers"},
    {"sched-bind", "binders"},
    {"store-writer", "store writer"},
    {"watch-dispatch", "watch delivery"},
    {"informer", "informers"},
    {"events", "event recorders"},
    {"ctrl-worker", "controller workers"},
};
constexpr size_t kNumThreadRoles = std::size(kThreadRoles);

// CPU time by role: on a shared machine bound/s moves with the load, CPU
// per pod much less.
struct CpuSample {
  double process = 0;
  // CPU seconds (user + system) of this process's live threads per role.
  std::array<double, kNumThreadRoles> roles{};
  static CpuSample take() {
    CpuSample s;
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    s.process = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/task", ec)) {
      std::ifstream comm(e.path() / "comm");
      std::string name;
      std::getline(comm, name);
      size_t role = 0;
      while (role < kNumThreadRoles && name.rfind(kThreadRoles[role].prefix, 0) != 0) ++role;
      if (role == kNumThreadRoles) continue;
      std::ifstream stat(e.path() / "stat");
      std::string line;
      std::getline(stat, line);
      auto paren = line.rfind(')');
      if (paren == std::string::npos) continue;
      // Fields after "pid (comm)": state is field 3, utime 14, stime 15.
      std::istringstream in(line.substr(paren + 2));
      std::string skip;
      for (int field = 3; field < 14; ++field) in >> skip;
      long utime = 0, stime = 0;
      in >> utime >> stime;
      s.roles[role] += static_cast<double>(utime + stime) / tick;
    }
    return s;
  }
};

// "cpu per pod: ..." for `pods` pods between two samples; the scheduling
// thread's share in *cycle_us.
std::string cpuPerPod(const CpuSample& a, const CpuSample& b, int pods, double* cycle_us) {
  auto us = [&](double x, double y) { return pods > 0 ? (y - x) * 1e6 / pods : 0.0; };
  *cycle_us = us(a.roles[0], b.roles[0]);
  std::string out = "cpu per pod: ";
  char buf[96];
  for (size_t r = 0; r < kNumThreadRoles; ++r) {
    std::snprintf(buf, sizeof(buf), "%s %.0f us, ", kThreadRoles[r].label,
                  us(a.roles[r], b.roles[r]));
    out += buf;
  }
  std::snprintf(buf, sizeof(buf), "whole process %.0f us", us(a.process, b.process));
  return out + buf;
}

// Node shapes (cpu cores, memory GiB), cycled over the nodes.
struct Shape {
  int cpu;
  int mem_gib;
};
constexpr Shape kShapes[] = {{4, 16}, {8, 32}, {4, 8}, {2, 8}};
constexpr int kMaxPodsPerNode = 110;

const Shape& shapeOf(int i, bool uniform) { return kShapes[uniform ? 0 : i % 4]; }

json::object nodeObject(int i, bool uniform) {
  const Shape& s = shapeOf(i, uniform);
  std::string name = "node-" + std::to_string(i);
  json::object alloc{{"cpu", std::to_string(s.cpu)},
                     {"memory", std::to_string(s.mem_gib) + "Gi"},
                     {"pods", std::to_string(kMaxPodsPerNode)}};
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", json::object{{"name", name},
                                {"labels", json::object{{"kubernetes.io/hostname", name},
                                                        {"topology.kubernetes.io/zone",
                                                         "zone-" + std::to_string(i % 3)}}}}},
      {"status", json::object{{"capacity", alloc},
                              {"allocatable", alloc},
                              {"conditions",
                               json::array{json::object{{"type", "Ready"}, {"status", "True"}}}}}}};
}

// Pod i's requests: around the averages, from half to one and a half of them.
std::pair<int64_t, int64_t> podRequests(int i, int64_t avg_milli_cpu, int64_t avg_mib) {
  static const double kFactors[] = {0.5, 1.25, 0.75, 1.5, 1.0};
  double f = kFactors[i % 5];
  return {std::max<int64_t>(1, std::llround(avg_milli_cpu * f)),
          std::max<int64_t>(1, std::llround(avg_mib * f))};
}

json::object podObject(const std::string& ns, const std::string& name, int64_t milli_cpu,
                       int64_t mib, const std::string& scheduler_name) {
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       json::object{{"name", name}, {"namespace", ns}, {"labels", json::object{{"app", "bench"}}}}},
      {"spec",
       json::object{
           {"schedulerName", scheduler_name},
           {"containers",
            json::array{json::object{
                {"name", "c"},
                {"image", "registry.k8s.io/pause:3.9"},
                {"resources",
                 json::object{
                     {"requests", json::object{{"cpu", std::to_string(milli_cpu) + "m"},
                                               {"memory", std::to_string(mib) + "Mi"}}}}}}}}}}};
}

// Creates `count` pods from `clients` threads; returns the elapsed seconds
// (first create to last answer) and counts failures.
double createPods(client::Client& c, int clients, int count,
                  const std::function<json::object(int)>& make, std::atomic<int>* failures,
                  std::string* first_error, std::mutex* err_mu) {
  const api::KindInfo& pods = client::kind("", "Pod");
  std::atomic<int> next{0};
  auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        auto r = c.create(pods, make(i));
        if (!r.ok()) {
          ++*failures;
          std::lock_guard lock(*err_mu);
          if (first_error->empty()) *first_error = r.error().message;
        }
      }
    });
  for (auto& t : threads) t.join();
  return secondsSince(start);
}

// Counts the pods of a namespace a watch has seen bound, as a user would.
class BindCounter {
 public:
  Status start(client::Client& c, const std::string& ns, int want) {
    want_ = want;
    auto w = c.watch(client::kind("", "Pod"), ns, {}, [this](const client::Event& ev) {
      if (ev.type != client::EventType::kAdded && ev.type != client::EventType::kModified) return;
      if (api::strAt(*ev.object, {"spec", "nodeName"}).empty()) return;
      std::lock_guard lock(mu_);
      if (bound_.insert(api::strAt(*ev.object, {"metadata", "name"})).second) {
        last_ = SteadyClock::now();
        if (static_cast<int>(bound_.size()) == want_) cv_.notify_all();
      }
    });
    if (!w.ok()) return std::move(w).error();
    watch_ = std::move(w).value();
    return okStatus();
  }
  // True when every pod was seen bound within the timeout.
  bool wait(double timeout_s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s),
                        [&] { return static_cast<int>(bound_.size()) == want_; });
  }
  void stop() {
    if (watch_) watch_->stop();
  }
  int count() {
    std::lock_guard lock(mu_);
    return static_cast<int>(bound_.size());
  }
  // Seconds from `t0` to the last bind seen.
  double lastBoundAfter(SteadyClock::time_point t0) {
    std::lock_guard lock(mu_);
    return std::chrono::duration<double>(last_ - t0).count();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> bound_;
  SteadyClock::time_point last_;
  int want_ = 0;
  std::unique_ptr<client::Watch> watch_;
};

// Phase 3, upstream scheduler_perf's measure: M pods wait in the queue
// before their scheduler starts; the time from its start to the last bind
// is the scheduler's own throughput, not bounded by the creates. The
// server's scheduler cannot be started late, so this phase runs a second
// Scheduler with the server's options (profile "bench-backlog", the same
// strategy) over its own in-process client on the server's Registry; the
// server's idle default-scheduler runs beside it. Returns pods bound per
// second (0 when incomplete).
double runBacklog(apiserver::Registry& registry, const Options& opt, int64_t avg_milli_cpu,
                  int64_t avg_mib, int* bound_out, std::string* cpu_line, double* cycle_us) {
  const std::string name = "bench-backlog";
  client::InProcessClient c(registry);
  std::atomic<int> failures{0};
  std::mutex err_mu;
  std::string first_error;
  createPods(
      c, opt.clients, opt.pods,
      [&](int i) {
        auto [cpu, mib] = podRequests(i + 1, avg_milli_cpu, avg_mib);
        return podObject(name, "backlog-" + std::to_string(i), cpu, mib, name);
      },
      &failures, &first_error, &err_mu);
  client::InformerFactory informers(c);
  client::EventRecorder recorder(c, RealClock::instance(), name);
  // What ControlPlane::start gives the server's scheduler.
  scheduler::SchedulerOptions so;
  so.profile.fit.strategy = opt.strategy;
  so.profile.scheduler_name = name;
  auto sched = scheduler::Scheduler::create(c, informers, recorder, RealClock::instance(), so);
  BindCounter counter;
  if (!sched.ok() || !counter.start(c, name, opt.pods).ok()) return 0;
  informers.start();
  if (!informers.waitForSync(std::chrono::seconds(60))) return 0;
  auto t0 = SteadyClock::now();
  CpuSample cpu0 = CpuSample::take();
  (*sched)->start();
  bool complete = counter.wait(opt.timeout_s);
  // Before stop(): the scheduler's threads are still there to be read.
  *cpu_line = cpuPerPod(cpu0, CpuSample::take(), counter.count(), cycle_us);
  counter.stop();
  (*sched)->stop();
  informers.stop();
  recorder.flush();
  *bound_out = counter.count();
  double secs = counter.lastBoundAfter(t0);
  return complete && secs > 0 ? opt.pods / secs : 0;
}

// Waits until the server's scheduler has seen every node: a probe pod that
// only the last node (written last, with its status) admits is bound.
// Informer events arrive in order, so the scheduler has the other nodes by
// then too.
Status waitSchedulerHasNodes(client::Client& c, const Options& opt) {
  const std::string ns = "bench-probe";
  std::string last = "node-" + std::to_string(opt.nodes - 1);
  json::object pod = podObject(ns, "probe", 1, 1, "default-scheduler");
  pod["spec"].as_object()["nodeSelector"] = json::object{{"kubernetes.io/hostname", last}};
  BindCounter counter;
  BERTH_RETURN_IF_ERROR(counter.start(c, ns, 1));
  auto r = c.create(client::kind("", "Pod"), std::move(pod));
  if (!r.ok()) return std::move(r).error();
  bool bound = counter.wait(120);
  counter.stop();
  if (!bound) return makeError(ErrorCode::kTimeout, "the probe pod for " + last + " was not bound");
  return okStatus();
}

// The unbound pods of a namespace and the first one's status, to say why a
// phase did not complete.
void printUnbound(client::Client& c, const std::string& ns) {
  auto all = c.list(client::kind("", "Pod"), ns, {});
  if (!all.ok()) return;
  int unbound = 0;
  for (const auto& p : all->items) {
    if (!api::strAt(*p, {"spec", "nodeName"}).empty()) continue;
    if (unbound++ == 0)
      std::printf(
          "    first unbound pod %s/%s: status %s\n", ns.c_str(),
          api::strAt(*p, {"metadata", "name"}).c_str(),
          json::serialize(api::at(*p, {"status"}) ? *api::at(*p, {"status"}) : json::value())
              .c_str());
  }
  std::printf("    %d unbound pods in %s\n", unbound, ns.c_str());
}

int run(const Options& opt) {
  // The real server in this process, its scheduler and controllers
  // included. Nodes never renew a Lease here, so the node lifecycle
  // controller's grace period outlasts the bench.
  std::vector<std::string> flags = {
      "--scheduler-strategy",
      opt.strategy == scheduler::ScoringStrategy::kMostAllocated ? "most" : "least",
      "--node-monitor-grace-period", "24h"};
  auto started = BenchServer::start(true, flags);
  if (!started.ok()) {
    std::fprintf(stderr, "bench scheduler: %s\n", started.error().message.c_str());
    return 1;
  }
  std::unique_ptr<BenchServer> server = std::move(started).value();
  apiserver::Registry& registry = server->inProcess()->registry();
  // The load generator's own client: what a user's writes go through,
  // minus HTTP.
  client::InProcessClient bench_client(registry);
  client::Client& c = bench_client;
  const api::KindInfo& pods_kind = client::kind("", "Pod");
  const api::KindInfo& nodes_kind = client::kind("", "Node");
  std::printf("loadavg at start: %s (cores: %u)\n", loadavg().c_str(),
              std::thread::hardware_concurrency());
  std::printf(
      "server: berth server in this process (ClusterServer, --scheduler-strategy %s; the "
      "scheduler and controllers run), ready in %.0f ms\n",
      flags[1].c_str(), server->readyMs());

  for (const char* ns : {"bench", "bench-floor", "bench-backlog", "bench-probe"}) {
    auto r = c.create(
        client::kind("", "Namespace"),
        json::object{
            {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", json::object{{"name", ns}}}});
    if (!r.ok()) {
      std::fprintf(stderr, "bench scheduler: create namespace %s: %s\n", ns,
                   r.error().message.c_str());
      return 1;
    }
  }
  int64_t total_milli_cpu = 0, total_mib = 0;
  std::vector<std::tuple<int64_t, int64_t, int64_t>> capacities;  // milli cpu, MiB, pods
  auto nodes_t0 = SteadyClock::now();
  for (int i = 0; i < opt.nodes; ++i) {
    // Status is not taken on create: write it through nodes/status, as
    // an agent's first heartbeat would.
    json::object node = nodeObject(i, opt.uniform);
    json::value status = node["status"];
    auto r = c.create(nodes_kind, node);
    if (r.ok()) {
      json::object with_status = **r;
      with_status["status"] = status;
      r = c.update(nodes_kind, std::move(with_status), client::Subresource::kStatus);
    }
    if (!r.ok()) {
      std::fprintf(stderr, "bench scheduler: create node: %s\n", r.error().message.c_str());
      return 1;
    }
    const Shape& s = shapeOf(i, opt.uniform);
    total_milli_cpu += s.cpu * 1000;
    total_mib += s.mem_gib * 1024;
    capacities.emplace_back(s.cpu * 1000, s.mem_gib * 1024, kMaxPodsPerNode);
  }
  if (Status st = waitSchedulerHasNodes(c, opt); !st.ok()) {
    std::fprintf(stderr, "bench scheduler: %s\n", st.error().message.c_str());
    printUnbound(c, "bench-probe");
    return 1;
  }
  // Requests sized so that each of the two scheduled sets of pods (the
  // end-to-end run and the backlog) fills about 30% of the cluster.
  int64_t avg_milli_cpu = std::max<int64_t>(1, total_milli_cpu * 3 / 10 / opt.pods);
  int64_t avg_mib = std::max<int64_t>(1, total_mib * 3 / 10 / opt.pods);
  std::printf(
      "cluster: %d nodes (%s, %d pods each) created and seen by the scheduler in %.2f s, %d pods "
      "averaging %ldm cpu / %ldMi\n",
      opt.nodes, opt.uniform ? "all 4c/16Gi" : "4 shapes: 4c/16Gi 8c/32Gi 4c/8Gi 2c/8Gi",
      kMaxPodsPerNode, secondsSince(nodes_t0), opt.pods, static_cast<long>(avg_milli_cpu),
      static_cast<long>(avg_mib));

  std::mutex err_mu;
  std::string first_error;
  std::atomic<int> failures{0};
  // The API write floor: the same number of pods, nobody schedules them
  // (the server's scheduler sees them and leaves them alone).
  double floor_s = createPods(
      c, opt.clients, opt.pods,
      [&](int i) {
        auto [cpu, mib] = podRequests(i, avg_milli_cpu, avg_mib);
        return podObject("bench-floor", "floor-" + std::to_string(i), cpu, mib, "bench-nobody");
      },
      &failures, &first_error, &err_mu);
  double floor_rate = opt.pods / floor_s;
  std::printf("floor: %d plain pod creates from %d clients in %.2f s = %.0f creates/s\n", opt.pods,
              opt.clients, floor_s, floor_rate);

  BindCounter counter;
  if (Status st = counter.start(c, "bench", opt.pods); !st.ok()) {
    std::fprintf(stderr, "bench scheduler: watch: %s\n", st.error().message.c_str());
    return 1;
  }
  auto t0 = SteadyClock::now();
  CpuSample cpu0 = CpuSample::take();
  double create_s = createPods(
      c, opt.clients, opt.pods,
      [&](int i) {
        auto [cpu, mib] = podRequests(i, avg_milli_cpu, avg_mib);
        return podObject("bench", "pod-" + std::to_string(i), cpu, mib, "default-scheduler");
      },
      &failures, &first_error, &err_mu);
  bool complete = counter.wait(opt.timeout_s);
  CpuSample cpu1 = CpuSample::take();
  double bound_s = counter.lastBoundAfter(t0);
  counter.stop();
  if (!complete) {
    std::printf("incomplete after %.0f s:\n", opt.timeout_s);
    printUnbound(c, "bench");
  }

  // Placement: pods per node, from the API.
  std::map<std::string, int> per_node;
  auto listed = c.list(pods_kind, "bench", {});
  if (listed.ok())
    for (const auto& p : listed->items) {
      std::string node = api::strAt(*p, {"spec", "nodeName"});
      if (!node.empty()) ++per_node[node];
    }
  int bound_count = counter.count();
  double bound_rate = bound_s > 0 ? bound_count / bound_s : 0;
  std::printf(
      "run: %d pods created in %.2f s (%.0f/s); %d/%d bound %.2f s after the first create = %.0f "
      "bound/s\n",
      opt.pods, create_s, opt.pods / create_s, bound_count, opt.pods, bound_s, bound_rate);
  std::printf(
      "    bound/s against the create floor: %.2f (a scheduled pod costs 3 writes: create, "
      "binding, Scheduled event)\n",
      floor_rate > 0 ? bound_rate / floor_rate : 0.0);
  double cycle_us = 0;
  std::printf("    %s (creates included)\n",
              cpuPerPod(cpu0, cpu1, counter.count(), &cycle_us).c_str());
  // Placement quality.
  int64_t total_req_cpu = 0, total_req_mib = 0;
  for (int i = 0; i < opt.pods; ++i) {
    auto [cpu, mib] = podRequests(i, avg_milli_cpu, avg_mib);
    total_req_cpu += cpu;
    total_req_mib += mib;
  }
  int used = static_cast<int>(per_node.size());
  std::string quality;
  if (opt.strategy == scheduler::ScoringStrategy::kMostAllocated) {
    // Lower bound: the fewest nodes whose capacity could hold the requests,
    // taking the largest nodes first, in every dimension.
    auto fewest = [&](auto get, int64_t need) {
      std::vector<int64_t> caps;
      for (const auto& t : capacities) caps.push_back(get(t));
      std::sort(caps.rbegin(), caps.rend());
      int64_t sum = 0;
      int k = 0;
      while (sum < need && k < static_cast<int>(caps.size())) sum += caps[k++];
      return k;
    };
    int lb = std::max({fewest([](const auto& t) { return std::get<0>(t); }, total_req_cpu),
                       fewest([](const auto& t) { return std::get<1>(t); }, total_req_mib),
                       fewest([](const auto& t) { return std::get<2>(t); }, opt.pods)});
    std::printf(
        "placement (MostAllocated): %d nodes used, lower bound %d (largest nodes first over cpu, "
        "memory, pods) "
        "= %.2fx\n",
        used, lb, lb > 0 ? static_cast<double>(used) / lb : 0.0);
    char buf[128];
    std::snprintf(buf, sizeof(buf), "nodes_used=%d lower_bound=%d ratio=%.2f", used, lb,
                  lb > 0 ? static_cast<double>(used) / lb : 0.0);
    quality = buf;
  } else {
    double mean = static_cast<double>(bound_count) / opt.nodes;
    double var = 0;
    for (int i = 0; i < opt.nodes; ++i) {
      auto it = per_node.find("node-" + std::to_string(i));
      double n = it == per_node.end() ? 0 : it->second;
      var += (n - mean) * (n - mean);
    }
    double stddev = std::sqrt(var / opt.nodes);
    std::printf(
        "placement (LeastAllocated): %d of %d nodes used; pods per node mean %.1f, stddev %.1f, "
        "stddev/mean %.2f%s\n",
        used, opt.nodes, mean, stddev, mean > 0 ? stddev / mean : 0.0,
        opt.uniform
            ? ""
            : " (node sizes differ by 4x: an even spread of requests is not an even count)");
    char buf[128];
    std::snprintf(buf, sizeof(buf), "nodes_used=%d pods_per_node_mean=%.1f stddev=%.1f cv=%.2f",
                  used, mean, stddev, mean > 0 ? stddev / mean : 0.0);
    quality = buf;
  }
  if (failures > 0)
    std::printf("    %d create failures, first: %.300s\n", failures.load(), first_error.c_str());

  int backlog_bound = 0;
  std::string backlog_cpu;
  double backlog_cycle_us = 0;
  double backlog_rate = runBacklog(registry, opt, avg_milli_cpu, avg_mib, &backlog_bound,
                                   &backlog_cpu, &backlog_cycle_us);
  std::printf(
      "backlog: %d pods queued before their scheduler started (a second Scheduler with the "
      "server's options over the server's Registry): %d/%d bound at %.0f pods/s (%.2f of the "
      "create floor)\n",
      opt.pods, backlog_bound, opt.pods, backlog_rate,
      floor_rate > 0 ? backlog_rate / floor_rate : 0.0);
  std::printf("    %s\n", backlog_cpu.c_str());
  if (backlog_bound != opt.pods) printUnbound(c, "bench-backlog");
  std::string load = loadavg();
  std::printf("loadavg at end: %s%s\n", load.c_str(),
              std::strtod(load.c_str(), nullptr) > std::thread::hardware_concurrency()
                  ? "  (machine shared with other work: figures are pessimistic)"
                  : "");
  std::printf(
      "bench scheduler: nodes=%d pods=%d strategy=%s bound=%d/%d bound_per_s=%.0f "
      "create_floor_per_s=%.0f ratio=%.2f backlog_bound_per_s=%.0f backlog_ratio=%.2f "
      "cycle_us_per_pod=%.0f backlog_cycle_us_per_pod=%.0f %s "
      "complete=%s\n",
      opt.nodes, opt.pods, scheduler::scoringStrategyName(opt.strategy), bound_count, opt.pods,
      bound_rate, floor_rate, floor_rate > 0 ? bound_rate / floor_rate : 0.0, backlog_rate,
      floor_rate > 0 ? backlog_rate / floor_rate : 0.0, cycle_us, backlog_cycle_us, quality.c_str(),
      complete && backlog_bound == opt.pods ? "yes" : "no");
  std::fflush(stdout);
  return complete && backlog_bound == opt.pods && failures == 0 ? 0 : 1;
}

}  // namespace

int runSchedulerBench(const std::vector<std::string>& args) {
  Options opt;
  // args[0] is "scheduler".
  for (size_t i = 1; i < args.size(); ++i) {
    auto value = [&](const char* flag) -> const std::string* {
      if (args[i] == flag && i + 1 < args.size()) return &args[++i];
      return nullptr;
    };
    try {
      if (auto* v = value("--nodes"))
        opt.nodes = std::stoi(*v);
      else if (auto* v = value("--pods"))
        opt.pods = std::stoi(*v);
      else if (auto* v = value("--clients"))
        opt.clients = std::stoi(*v);
      else if (auto* v = value("--timeout"))
        opt.timeout_s = std::stod(*v);
      else if (args[i] == "--uniform")
        opt.uniform = true;
      else if (auto* v = value("--strategy")) {
        auto s = scheduler::parseScoringStrategy(*v);
        if (!s.ok()) return usage();
        opt.strategy = *s;
      } else {
        return usage();
      }
    } catch (const std::exception&) {
      return usage();
    }
  }
  if (opt.nodes < 1 || opt.pods < 1 || opt.clients < 1 || opt.timeout_s <= 0) return usage();
  // Two sets of M pods (the run and the backlog) share the nodes.
  if (2 * opt.pods > opt.nodes * kMaxPodsPerNode * 9 / 10) {
    std::fprintf(stderr,
                 "bench scheduler: at most %d pods (twice) fit %d nodes of %d pods (90%%)\n",
                 opt.nodes * kMaxPodsPerNode * 9 / 20, opt.nodes, kMaxPodsPerNode);
    return 2;
  }
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench scheduler: %s\n", e.what());
    return 1;
  }
}

}  // namespace berth::bench
