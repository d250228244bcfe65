#include "bench/pod_bench.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "api/object.h"
#include "bench/pod_bench_report.h"
#include "bench/pod_lab.h"
#include "bench/server_process.h"
#include "client/https_client.h"
#include "client/remote_client.h"
#include "runtime/image/image_store.h"
#include "runtime/oci/runc.h"

namespace berth::bench {

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace lab;  // the lab's constants and steps (pod_lab.h)
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

constexpr const char* kNodeName = "bench-node";
constexpr const char* kNamespace = "bench-pods";
// The API listens on the lab's own loopback, so a fixed port cannot clash.
constexpr int kApiPort = 6443;
constexpr int kGraceSeconds = 1;
constexpr int kCreateThreads = 8;

struct Options {
  std::vector<int> counts = {1, 10, 100};
  int floor_runs = 10;
  double timeout_s = 300;  // per round, until every pod is ready
  double idle_s = 10;
  std::vector<std::string> server_flags;
  std::string keep_log;  // copy the agent server's log here
  // The agent as a process of its own (server --disable-agent + berth
  // agent), so that its idle figures are its own.
  bool agent_process = false;
};

int usage() {
  std::fprintf(stderr,
               "usage: berth bench pods [--counts 1,10,100] [--floor-runs 10] [--timeout SECONDS]\n"
               "                        [--idle SECONDS] [--server-flag F]... [--keep-log FILE]\n"
               "                        [--agent-process]\n"
               "  As root: a lab network namespace, a busybox image, `berth server` with its\n"
               "  agent inside the lab; for each N, N pods created at once, each timed from its\n"
               "  create call to Running+Ready seen through a watch, next to `runc run -d` of\n"
               "  the same rootfs for N containers at once (the floor); then the server's idle\n"
               "  RSS and CPU against a --disable-agent server (--agent-process: the agent\n"
               "  runs as `berth agent` beside a --disable-agent server, and its own figures\n"
               "  are reported).\n"
               "  Everything is removed at the end, also on SIGINT.\n");
  return 2;
}

double msBetween(TimePoint a, TimePoint b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// `berth server` with its agent, inside the lab through nsenter (only the
// network namespace: `ip netns exec` would remount /sys and hide cgroups
// from runc), in a process group of its own so a terminal's ^C reaches only
// the bench, which then deletes the pods through it.
class AgentServer {
 public:
  Status start(const Lab& lab, const Options& opt) {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return makeError(ErrorCode::kInternal, "readlink /proc/self/exe failed");
    self_.assign(buf, static_cast<size_t>(n));
    log_path_ = lab.dir + "/server.log";
    std::vector<std::string> args = {self_,
                                     "server",
                                     "--data-dir",
                                     lab.data_dir,
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(kApiPort),
                                     "--advertise-address",
                                     kNodeIp};
    if (opt.agent_process) {
      args.push_back("--disable-agent");
    } else {
      std::vector<std::string> node = nodeFlags(lab);
      args.insert(args.end(), node.begin(), node.end());
    }
    args.insert(args.end(), opt.server_flags.begin(), opt.server_flags.end());
    t0_ = SteadyClock::now();
    BERTH_ASSIGN_OR_RETURN(pid_, spawnInLab(lab, args, log_path_));
    return okStatus();
  }

  // --agent-process: `berth agent` for the lab's node, once the server is
  // ready (it joins with the node token the server wrote).
  Status startAgent(const Lab& lab, const Options& opt) {
    agent_log_path_ = lab.dir + "/agent.log";
    std::vector<std::string> args = {self_,
                                     "agent",
                                     "--server",
                                     "https://127.0.0.1:" + std::to_string(kApiPort),
                                     "--token-file",
                                     lab.data_dir + "/node-token",
                                     "--ca-file",
                                     lab.data_dir + "/pki/ca.crt",
                                     "--agent-data-dir",
                                     lab.data_dir + "/agent"};
    std::vector<std::string> node = nodeFlags(lab);
    args.insert(args.end(), node.begin(), node.end());
    for (const auto& f : opt.server_flags)
      if (f == "-v") args.push_back(f);
    BERTH_ASSIGN_OR_RETURN(agent_pid_, spawnInLab(lab, args, agent_log_path_));
    return okStatus();
  }

  // Waits for /readyz 200 on the lab's loopback, reading the admin token and
  // CA as the server writes them (DATA/admin-token, DATA/pki/ca.crt).
  Status waitReady(const Lab& lab, Interrupts& interrupts, double timeout_s) {
    auto deadline = SteadyClock::now() + std::chrono::duration<double>(timeout_s);
    std::unique_ptr<client::HttpsClient> c;
    std::string last = "not started";
    while (SteadyClock::now() < deadline && !interrupts.interrupted()) {
      if (!alive()) return makeError(ErrorCode::kUnavailable, "server exited:\n" + logTail());
      if (!c) c = adminClientOnceWritten(lab.data_dir, kApiPort, &ca_pem_, &token_);
      if (c) {
        auto r = c->request("GET", "/readyz");
        if (r.ok() && r->status == 200) {
          ready_ms_ = msBetween(t0_, SteadyClock::now());
          return okStatus();
        }
        last = r.ok() ? "status " + std::to_string(r->status) : r.error().message;
      }
      interrupts.sleepFor(std::chrono::milliseconds(10));
    }
    if (interrupts.interrupted()) return makeError(ErrorCode::kUnavailable, "interrupted");
    return makeError(ErrorCode::kTimeout, "server not ready: " + last + "\n" + logTail());
  }

  // The server (and the agent process, when there is one) still runs.
  bool alive() { return running(&pid_) && (agent_log_path_.empty() || running(&agent_pid_)); }
  // SIGTERM (the agent stops, leaving containers to the cleanup), SIGKILL
  // after 10 s; only these pids.
  void stop() {
    if (agent_pid_ > 0) stopChild(agent_pid_, std::chrono::seconds(10));
    agent_pid_ = -1;
    if (pid_ > 0) stopChild(pid_, std::chrono::seconds(10));
    pid_ = -1;
  }
  std::string logTail() const {
    std::string out;
    for (const std::string* path : {&log_path_, &agent_log_path_}) {
      if (path->empty()) continue;
      std::string log = readWholeFile(*path);
      out += log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
    }
    return out;
  }

  pid_t pid() const { return pid_; }
  pid_t agentPid() const { return agent_pid_; }
  const std::string& agentLogPath() const { return agent_log_path_; }
  const std::string& token() const { return token_; }
  const std::string& caPem() const { return ca_pem_; }
  const std::string& logPath() const { return log_path_; }
  double readyMs() const { return ready_ms_; }

 private:
  static std::vector<std::string> nodeFlags(const Lab& lab) {
    return {"--node-ip",  kNodeIp,  "--node-name",   kNodeName,
            "--pod-cidr", kPodCidr, "--cgroup-root", lab.cgroup_root};
  }
  static bool running(pid_t* pid) {
    if (*pid <= 0) return false;
    int wstatus = 0;
    if (::waitpid(*pid, &wstatus, WNOHANG) == *pid) {
      *pid = -1;
      return false;
    }
    return true;
  }
  // `args` run inside the lab's network namespace (through nsenter: `ip
  // netns exec` would remount /sys and hide cgroups from runc), output to
  // `log_path`, in a process group of their own. Forked by the main thread,
  // which outlives it (PR_SET_PDEATHSIG fires when the forking thread ends).
  static Result<pid_t> spawnInLab(const Lab& lab, std::vector<std::string> args,
                                  const std::string& log_path) {
    args.insert(args.begin(), {kNsenter, "--net=/run/netns/" + lab.netns});
    pid_t pid = spawnLogged(std::move(args), log_path, /*own_group=*/true);
    if (pid < 0) return makeError(ErrorCode::kInternal, "fork failed");
    return pid;
  }

  std::string self_;
  pid_t pid_ = -1;
  pid_t agent_pid_ = -1;
  TimePoint t0_;
  std::string log_path_;
  std::string agent_log_path_;
  std::string token_;
  std::string ca_pem_;
  double ready_ms_ = 0;
};

bool conditionTrue(const api::Object& obj, const char* type) {
  if (const json::array* conds = api::arrAt(obj, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (c.is_object() && api::strAt(c.as_object(), {"type"}) == type)
        return api::strAt(c.as_object(), {"status"}) == "True";
  return false;
}

// Ready, and without the not-ready taints the node lifecycle controller
// keeps until it has seen the node Ready (the scheduler filters on them).
bool nodeSchedulable(const api::Object& node) {
  if (!conditionTrue(node, "Ready")) return false;
  if (const json::array* taints = api::arrAt(node, {"spec", "taints"}))
    for (const auto& t : *taints)
      if (t.is_object()) {
        std::string effect = api::strAt(t.as_object(), {"effect"});
        if (effect == "NoSchedule" || effect == "NoExecute") return false;
      }
  return true;
}

bool runningAndReady(const api::Object& pod) {
  return api::strAt(pod, {"status", "phase"}) == "Running" && conditionTrue(pod, "Ready");
}

// busybox `sleep 3600`, no probes, image present, tiny requests so that a
// hundred fit; terminationGracePeriodSeconds 1 since sleep as pid 1 ignores
// SIGTERM and a default-grace delete would wait the full grace period.
api::Object podObject(const std::string& name) {
  json::object container{
      {"name", "sleep"},
      {"image", kImage},
      {"imagePullPolicy", "Never"},
      {"command", json::array{"/bin/sleep", "3600"}},
      {"resources", json::object{{"requests", json::object{{"cpu", "5m"}, {"memory", "4Mi"}}}}}};
  return api::Object{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", json::object{{"name", name},
                                {"namespace", kNamespace},
                                {"labels", json::object{{"app", "berth-bench-pods"}}}}},
      {"spec", json::object{{"restartPolicy", "Always"},
                            {"terminationGracePeriodSeconds", kGraceSeconds},
                            {"containers", json::array{container}}}}};
}

// Per-pod timestamps of one round, filled by the pods watch.
class PodTracker {
 public:
  struct Times {
    std::optional<TimePoint> created, ready, delete_returned, gone;
  };

  void expect(const std::vector<std::string>& names) {
    std::lock_guard lock(mu_);
    pods_.clear();
    for (const auto& n : names) pods_[n];
  }
  void noteCreated(const std::string& name, TimePoint t) {
    std::lock_guard lock(mu_);
    pods_[name].created = t;
  }
  void noteDeleteReturned(const std::string& name, TimePoint t) {
    std::lock_guard lock(mu_);
    pods_[name].delete_returned = t;
  }
  void onEvent(const client::Event& e) {
    auto now = SteadyClock::now();
    std::lock_guard lock(mu_);
    if (e.type == client::EventType::kError) {
      watch_error_ = e.error.message;
    } else if (e.object) {
      auto it = pods_.find(api::name(*e.object));
      if (it == pods_.end()) return;
      if (e.type == client::EventType::kDeleted) {
        if (!it->second.gone) it->second.gone = now;
      } else if (e.type != client::EventType::kBookmark && !it->second.ready &&
                 runningAndReady(*e.object)) {
        it->second.ready = now;
      }
    } else {
      return;
    }
    cv_.notify_all();
  }
  // Waits until every expected pod has `field` set, the deadline passes, the
  // watch fails or the bench is interrupted; the latest such time, or none.
  std::optional<TimePoint> waitAll(std::optional<TimePoint> Times::*field, TimePoint deadline,
                                   Interrupts& interrupts, std::string* error) {
    std::unique_lock lock(mu_);
    for (;;) {
      std::optional<TimePoint> last;
      bool all = true;
      for (const auto& [name, t] : pods_) {
        if (!(t.*field)) {
          all = false;
          break;
        }
        if (!last || *(t.*field) > *last) last = t.*field;
      }
      if (all) return last;
      if (!watch_error_.empty()) {
        *error = "watch failed: " + watch_error_;
        return std::nullopt;
      }
      if (interrupts.interrupted()) {
        *error = "interrupted";
        return std::nullopt;
      }
      if (SteadyClock::now() >= deadline) {
        *error = "timed out";
        return std::nullopt;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  std::map<std::string, Times> snapshot() {
    std::lock_guard lock(mu_);
    return pods_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Times> pods_;
  std::string watch_error_;
};

// Calls `op(i)` for i in [0, n) from up to kCreateThreads threads at once.
void fanOut(int n, const std::function<void(int)>& op) {
  int threads = std::min(n, kCreateThreads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = t; i < n; i += threads) op(i);
    });
  for (auto& th : pool) th.join();
}

// Runc containers left in a runc root; -1 when runc cannot say.
int runcCount(const std::string& root) {
  if (!fs::exists(root)) return 0;
  auto list = runtime::Runc(runtime::RuncConfig{kRunc, root}).list();
  return list.ok() ? static_cast<int>(list->size()) : -1;
}

// Waits until the agent's runc root holds no container; when that was, or
// none after `timeout_s`.
std::optional<TimePoint> waitRuntimeClean(const Lab& lab, double timeout_s,
                                          Interrupts& interrupts) {
  std::string root = lab.data_dir + "/agent/runtime/runc";
  auto t0 = SteadyClock::now();
  while (secondsSince(t0) < timeout_s && !interrupts.interrupted()) {
    if (runcCount(root) == 0) return SteadyClock::now();
    interrupts.sleepFor(std::chrono::milliseconds(100));
  }
  return std::nullopt;
}

PodRound runRound(int n, client::RemoteClient& api, PodTracker& tracker, const Lab& lab,
                  const Options& opt, Interrupts& interrupts) {
  PodRound round;
  round.pods = n;
  const auto& pod_kind = client::kind("", "Pod");
  std::vector<std::string> names;
  char buf[32];
  for (int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "p%d-%03d", n, i);
    names.push_back(buf);
  }
  tracker.expect(names);
  std::mutex err_mu;
  std::string create_error;
  auto t_create = SteadyClock::now();
  fanOut(n, [&](int i) {
    auto created = api.create(pod_kind, podObject(names[i]));
    auto now = SteadyClock::now();
    if (created.ok()) {
      tracker.noteCreated(names[i], now);
    } else {
      std::lock_guard lock(err_mu);
      if (create_error.empty())
        create_error = "create " + names[i] + ": " + created.error().message;
    }
  });
  std::string error = create_error;
  std::optional<TimePoint> all_ready;
  if (error.empty()) {
    auto deadline = t_create + std::chrono::duration_cast<SteadyClock::duration>(
                                   std::chrono::duration<double>(opt.timeout_s));
    all_ready = tracker.waitAll(&PodTracker::Times::ready, deadline, interrupts, &error);
  }
  if (all_ready) round.all_ready_ms = msBetween(t_create, *all_ready);
  for (const auto& [name, t] : tracker.snapshot())
    if (t.created && t.ready)
      round.ready_ms.push_back(std::max(0.0, msBetween(*t.created, *t.ready)));
  std::printf(
      "  N=%d: %zu/%d Running+Ready%s%s\n", n, round.ready_ms.size(), n,
      all_ready
          ? (", all in " + std::to_string(static_cast<long>(round.all_ready_ms)) + " ms").c_str()
          : "",
      error.empty() ? "" : ("; stopped: " + error).c_str());
  std::fflush(stdout);
  round.error = error;
  if (interrupts.interrupted()) return round;

  // Deletion with the grace period the pods' spec gives (kGraceSeconds).
  auto t_delete = SteadyClock::now();
  std::string delete_error;
  fanOut(n, [&](int i) {
    auto removed = api.remove(pod_kind, kNamespace, names[i]);
    auto now = SteadyClock::now();
    if (removed.ok() || removed.error().code == ErrorCode::kNotFound) {
      tracker.noteDeleteReturned(names[i], now);
    } else {
      std::lock_guard lock(err_mu);
      if (delete_error.empty())
        delete_error = "delete " + names[i] + ": " + removed.error().message;
    }
  });
  std::string gone_error = delete_error;
  std::optional<TimePoint> all_gone;
  if (gone_error.empty())
    all_gone = tracker.waitAll(&PodTracker::Times::gone,
                               t_delete + std::chrono::duration_cast<SteadyClock::duration>(
                                              std::chrono::duration<double>(opt.timeout_s)),
                               interrupts, &gone_error);
  if (all_gone) round.all_gone_ms = msBetween(t_delete, *all_gone);
  for (const auto& [name, t] : tracker.snapshot())
    if (t.delete_returned && t.gone)
      round.gone_ms.push_back(std::max(0.0, msBetween(*t.delete_returned, *t.gone)));
  // The agent tears containers and sandboxes down before its final delete;
  // this is what is left of its runtime after the API object went.
  if (all_gone) {
    if (auto clean = waitRuntimeClean(lab, 60, interrupts))
      round.runtime_clean_ms = std::max(0.0, msBetween(*all_gone, *clean));
  }
  std::printf(
      "  N=%d: %zu/%d deleted%s%s\n", n, round.gone_ms.size(), n,
      all_gone ? (", all gone in " + std::to_string(static_cast<long>(round.all_gone_ms)) + " ms")
                     .c_str()
               : "",
      gone_error.empty() ? "" : ("; stopped: " + gone_error).c_str());
  std::fflush(stdout);
  if (round.error.empty() && !gone_error.empty()) round.error = "deletion: " + gone_error;
  return round;
}

// Threads: of /proc/PID/status, -1 when unreadable.
int readThreads(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  return -1;
}

// The idle figures of each of `pids` left alone: VmRSS, private memory and
// threads at the end, CPU over the same window.
std::vector<IdleFigures> measureIdle(const std::vector<pid_t>& pids, double settle_s,
                                     double window_s, Interrupts& interrupts) {
  std::vector<IdleFigures> out(pids.size());
  if (!interrupts.sleepFor(std::chrono::duration<double>(settle_s))) return out;
  std::vector<double> cpu0;
  for (pid_t pid : pids) cpu0.push_back(cpuSeconds(pid));
  auto t0 = SteadyClock::now();
  if (!interrupts.sleepFor(std::chrono::duration<double>(window_s))) return out;
  for (size_t i = 0; i < pids.size(); ++i) {
    IdleFigures& f = out[i];
    double cpu1 = cpuSeconds(pids[i]);
    f.window_s = secondsSince(t0);
    f.rss_kib = readRssKib(pids[i]);
    f.threads = readThreads(pids[i]);
    f.private_kib = readPrivateKib(pids[i]);
    if (cpu0[i] >= 0 && cpu1 >= 0 && f.window_s > 0)
      f.cpu_percent = 100.0 * (cpu1 - cpu0[i]) / f.window_s;
  }
  return out;
}

// The idle figures of the server with the agent: in one process, or the
// agent's own and the server's (--agent-process).
void measureIdle(AgentServer& server, const Options& opt, Interrupts& interrupts,
                 IdleFigures* agent, IdleFigures* server_only) {
  if (!opt.agent_process) {
    *agent = measureIdle({server.pid()}, opt.idle_s, opt.idle_s, interrupts)[0];
    return;
  }
  auto both = measureIdle({server.agentPid(), server.pid()}, opt.idle_s, opt.idle_s, interrupts);
  *agent = both[0];
  *server_only = both[1];
}

// Deletes whatever pods are left in the bench namespace with grace 0 and
// waits (up to `timeout_s`, or a second signal) for them to go: the agent
// then tears their sandboxes down itself. How many there were, or -1 when
// some are still there.
int deleteLeftoverPods(client::RemoteClient& api, Interrupts& interrupts, double timeout_s) {
  const auto& pod_kind = client::kind("", "Pod");
  auto listed = api.list(pod_kind, kNamespace, {});
  if (!listed.ok()) return -1;
  if (listed->items.empty()) return 0;
  std::printf("deleting %zu pods left over (grace 0)\n", listed->items.size());
  std::fflush(stdout);
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  for (const auto& pod : listed->items)
    (void)api.remove(pod_kind, kNamespace, api::name(*pod), now);
  auto t0 = SteadyClock::now();
  while (secondsSince(t0) < timeout_s && interrupts.count() < 2) {
    auto left = api.list(pod_kind, kNamespace, {});
    if (left.ok() && left->items.empty()) return static_cast<int>(listed->items.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return -1;
}

// Everything the bench made, in dependency order; safe to call with any
// part missing. Prints what could not be removed.
void tearDown(Lab* lab, AgentServer* server, client::RemoteClient* api, Interrupts& interrupts,
              const Options& opt) {
  if (api && server->alive() && interrupts.count() < 2)
    (void)deleteLeftoverPods(*api, interrupts, 30);
  if (!opt.keep_log.empty() && !server->agentLogPath().empty()) {
    std::error_code ec;
    fs::copy_file(server->agentLogPath(), opt.keep_log + ".agent",
                  fs::copy_options::overwrite_existing, ec);
  }
  if (!opt.keep_log.empty() && !server->logPath().empty()) {
    std::error_code ec;
    fs::copy_file(server->logPath(), opt.keep_log, fs::copy_options::overwrite_existing, ec);
  }
  server->stop();
  std::string what = lab->netns + ", " + lab->cgroup_root + " and " + lab->dir;
  if (removeLab(lab))
    std::printf("cleanup: lab namespace, cgroup root and temp dir removed (%s)\n", what.c_str());
  else
    std::printf("cleanup: INCOMPLETE, see the messages above (%s)\n", what.c_str());
  std::fflush(stdout);
}

Status checkPrerequisites() {
  if (::geteuid() != 0)
    return makeError(ErrorCode::kForbidden,
                     "must run as root: it creates a network namespace, cgroups, overlay mounts "
                     "and runc containers");
  for (std::string bin :
       {std::string(kIp), std::string(kNsenter), std::string(kRunc), std::string(kBusybox),
        std::string(kCniDir) + "/bridge", std::string(kCniDir) + "/host-local"})
    if (::access(bin.c_str(), X_OK) != 0)
      return makeError(ErrorCode::kNotFound, bin + " is missing");
  return okStatus();
}

// The measured part; leaves everything for tearDown.
Status measure(const Options& opt, Lab* lab, AgentServer* server,
               std::unique_ptr<client::RemoteClient>* api, Interrupts& interrupts,
               PodBenchReport* report) {
  BERTH_RETURN_IF_ERROR(setUpLab(lab));
  BERTH_RETURN_IF_ERROR(enterLab(lab));
  double pack_ms = 0;
  BERTH_RETURN_IF_ERROR(packImage(*lab, &pack_ms));
  BERTH_ASSIGN_OR_RETURN(auto store, runtime::ImageStore::open(lab->data_dir + "/agent/images"));
  BERTH_ASSIGN_OR_RETURN(auto rootfs, store->prepare(kImage));
  std::printf("lab: netns %s, node IP %s, cgroup root %s, dir %s\nimage %s packed in %.0f ms\n",
              lab->netns.c_str(), kNodeIp, lab->cgroup_root.c_str(), lab->dir.c_str(), kImage,
              pack_ms);
  std::fflush(stdout);

  // The floor first, on a quiet machine (no server yet): runc one container
  // at a time, and for each N > 1 as many at once.
  BERTH_RETURN_IF_ERROR(
      measureFloor(*lab, rootfs, opt.floor_runs, interrupts, &report->floor_run_ms));
  std::map<int, std::pair<std::vector<double>, double>> floors;  // N -> (per container, all)
  for (int n : opt.counts) {
    if (n <= 1 || floors.count(n) || interrupts.interrupted()) continue;
    auto& f = floors[n];
    BERTH_RETURN_IF_ERROR(measureFloorAtOnce(*lab, rootfs, n, interrupts, &f.first, &f.second));
  }
  if (interrupts.interrupted()) return makeError(ErrorCode::kUnavailable, "interrupted");
  std::printf("floor: runc run -d p50 %.1f ms one by one (%d runs)",
              percentilesOf(report->floor_run_ms).p50, opt.floor_runs);
  for (const auto& [n, f] : floors)
    std::printf("; %d at once: p50 %.1f ms, all in %.0f ms", n, percentilesOf(f.first).p50,
                f.second);
  std::printf("\n");
  std::fflush(stdout);

  BERTH_RETURN_IF_ERROR(server->start(*lab, opt));
  BERTH_RETURN_IF_ERROR(server->waitReady(*lab, interrupts, 60));
  report->agent_process = opt.agent_process;
  if (opt.agent_process) BERTH_RETURN_IF_ERROR(server->startAgent(*lab, opt));
  client::RemoteClientOptions ro;
  ro.server = "https://127.0.0.1:" + std::to_string(kApiPort);
  ro.ca_pem = server->caPem();
  ro.bearer_token = server->token();
  ro.user_agent = "berth-bench-pods";
  ro.connections = kCreateThreads;
  BERTH_ASSIGN_OR_RETURN(*api, client::RemoteClient::create(ro));
  client::RemoteClient& c = **api;

  // The node: registered by the agent, Ready, and untainted.
  auto t_node = SteadyClock::now();
  bool schedulable = false;
  while (!schedulable && secondsSince(t_node) < 60 && !interrupts.interrupted()) {
    auto node = c.get(client::kind("", "Node"), "", kNodeName);
    schedulable = node.ok() && nodeSchedulable(**node);
    if (!schedulable) interrupts.sleepFor(std::chrono::milliseconds(50));
  }
  if (!schedulable)
    return makeError(ErrorCode::kTimeout, "node " + std::string(kNodeName) +
                                              " not Ready and untainted within 60 s\n" +
                                              server->logTail());
  std::printf("server+agent: ready in %.0f ms, node Ready in %.0f ms more, RSS %s\n",
              server->readyMs(), secondsSince(t_node) * 1000,
              mib(readRssKib(server->pid())).c_str());
  std::printf("idle before pods: %.0f s to settle, then CPU over %.0f s\n", opt.idle_s, opt.idle_s);
  std::fflush(stdout);
  measureIdle(*server, opt, interrupts, &report->before_pods, &report->server_before_pods);
  if (interrupts.interrupted()) return makeError(ErrorCode::kUnavailable, "interrupted");

  BERTH_RETURN_IF_ERROR(c.create(client::kind("", "Namespace"),
                                 api::Object{{"apiVersion", "v1"},
                                             {"kind", "Namespace"},
                                             {"metadata", json::object{{"name", kNamespace}}}}));
  PodTracker tracker;
  const auto& pod_kind = client::kind("", "Pod");
  BERTH_ASSIGN_OR_RETURN(auto initial, c.list(pod_kind, kNamespace, {}));
  client::ListOptions wo;
  wo.resource_version = std::to_string(initial.revision);
  BERTH_ASSIGN_OR_RETURN(auto watch, c.watch(pod_kind, kNamespace, wo,
                                             [&](const client::Event& e) { tracker.onEvent(e); }));
  Status rounds = okStatus();
  for (int n : opt.counts) {
    report->rounds.push_back(runRound(n, c, tracker, *lab, opt, interrupts));
    if (auto f = floors.find(n); f != floors.end()) {
      report->rounds.back().floor_ms = f->second.first;
      report->rounds.back().floor_all_ms = f->second.second;
    }
    if (interrupts.interrupted()) break;
    if (!report->rounds.back().error.empty()) {
      rounds = makeError(ErrorCode::kTimeout,
                         "round N=" + std::to_string(n) + ": " + report->rounds.back().error);
      break;
    }
  }
  watch->stop();
  // Idle means no pod and no container: what a stopped round left goes
  // first, with grace 0 (bounded: the rounds' figures are in by now).
  int leftovers = deleteLeftoverPods(c, interrupts, 120);
  if (interrupts.interrupted()) return makeError(ErrorCode::kUnavailable, "interrupted");
  if (leftovers < 0 || !waitRuntimeClean(*lab, 60, interrupts)) {
    std::printf("idle after the pods: not measured, pods or containers are still there\n");
    if (rounds.ok()) rounds = makeError(ErrorCode::kTimeout, "pods did not go");
  } else {
    if (leftovers > 0)
      report->idle_note = std::to_string(leftovers) + " pods left by a stopped round deleted first";
    std::printf("idle after the pods: %.0f s to settle, then CPU over %.0f s\n", opt.idle_s,
                opt.idle_s);
    std::fflush(stdout);
    measureIdle(*server, opt, interrupts, &report->after_pods, &report->server_after_pods);
  }
  // The server with the agent goes before the comparison starts.
  api->reset();
  server->stop();
  if (interrupts.interrupted()) return makeError(ErrorCode::kUnavailable, "interrupted");

  // With the agent in a process of its own its figures are its own; there
  // is nothing to subtract.
  if (opt.agent_process) return rounds;
  auto plain = BenchServer::start(false);
  if (!plain.ok()) return plain.error();
  std::printf("server --disable-agent: ready in %.0f ms; %.0f s to settle, CPU over %.0f s\n",
              (*plain)->readyMs(), opt.idle_s, opt.idle_s);
  std::fflush(stdout);
  report->without_agent = measureIdle({(*plain)->pid()}, opt.idle_s, opt.idle_s, interrupts)[0];
  (*plain)->stop();
  if (interrupts.interrupted()) return makeError(ErrorCode::kUnavailable, "interrupted");
  return rounds;
}

bool parseCounts(const std::string& text, std::vector<int>* out) {
  out->clear();
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    char* end = nullptr;
    long v = std::strtol(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || v <= 0 || v > 110) return false;
    out->push_back(static_cast<int>(v));
  }
  return !out->empty();
}

}  // namespace

int runPodBench(const std::vector<std::string>& args) {
  Options opt;
  // args[0] is "pods".
  for (size_t i = 1; i < args.size(); ++i) {
    auto number = [&](double* out) { return positiveNumberArg(args, &i, out); };
    double v = 0;
    if (args[i] == "--counts" && i + 1 < args.size()) {
      if (!parseCounts(args[++i], &opt.counts)) return usage();
    } else if (args[i] == "--floor-runs" && number(&v)) {
      opt.floor_runs = static_cast<int>(v);
    } else if (args[i] == "--timeout" && number(&v)) {
      opt.timeout_s = v;
    } else if (args[i] == "--idle" && number(&v)) {
      opt.idle_s = v;
    } else if (args[i] == "--server-flag" && i + 1 < args.size()) {
      opt.server_flags.push_back(args[++i]);
    } else if (args[i] == "--keep-log" && i + 1 < args.size()) {
      opt.keep_log = args[++i];
    } else if (args[i] == "--agent-process") {
      opt.agent_process = true;
    } else {
      return usage();
    }
  }
  if (Status st = checkPrerequisites(); !st.ok()) {
    std::fprintf(stderr, "berth bench pods: %s\n", st.error().message.c_str());
    return 1;
  }
  PodBenchReport report;
  report.grace_seconds = kGraceSeconds;
  report.cores = std::thread::hardware_concurrency();
  report.loadavg_start = loadavg();
  std::string counts;
  for (int n : opt.counts) counts += (counts.empty() ? "" : ",") + std::to_string(n);
  std::printf("berth bench pods: counts=%s floor-runs=%d\nloadavg at start: %s (cores: %u)\n",
              counts.c_str(), opt.floor_runs, report.loadavg_start.c_str(), report.cores);
  std::fflush(stdout);

  Status st = okStatus();
  {
    lab::Interrupts interrupts;
    lab::Lab lab;
    AgentServer server;
    std::unique_ptr<client::RemoteClient> api;
    st = measure(opt, &lab, &server, &api, interrupts, &report);
    if (!st.ok()) std::fprintf(stderr, "berth bench pods: %s\n", st.error().message.c_str());
    tearDown(&lab, &server, api.get(), interrupts, opt);
  }
  report.loadavg_end = loadavg();
  std::printf("%s", formatTables(report).c_str());
  std::printf("\nloadavg at end: %s\n", report.loadavg_end.c_str());
  std::printf("%s\n", summaryLine(report).c_str());
  std::fflush(stdout);
  return st.ok() ? 0 : 1;
}

}  // namespace berth::bench
