#include "bench/api_bench.h"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/load.h"
#include "bench/server_process.h"
#include "bench/watch_fanout.h"
#include "client/https_client.h"

namespace berth::bench {

namespace {

struct BenchOptions {
  int clients = 16;
  double duration = 5;
  double rate = 1000;
  int watchers = 1000;
  int watch_writes = 500;
  bool in_process = false;
};

int usage() {
  std::fprintf(stderr,
               "usage: berth bench api [--clients N] [--duration S] [--rate R] [--watchers W]\n"
               "                       [--watch-writes M] [--in-process]\n"
               "  --clients N       concurrent keep-alive HTTPS clients (default 16)\n"
               "  --duration S      seconds per phase (default 5)\n"
               "  --rate R          open-loop creates per second (default 1000)\n"
               "  --watchers W      concurrent watches in the fan-out phase (default 1000)\n"
               "  --watch-writes M  writes every watcher must see (default 500)\n"
               "  --in-process      run the server in this process instead of a child\n");
  return 2;
}

const client::Headers kJson = {{"Content-Type", "application/json"}};
const client::Headers kMergePatch = {{"Content-Type", "application/merge-patch+json"}};

int statusOf(const Result<client::ClientResponse>& r, std::string* error) {
  if (!r.ok()) {
    *error = r.error().message;
    return -1;
  }
  if (r->status >= 300) *error = r->body;
  return r->status;
}

struct Kind {
  std::string label;     // printed
  std::string resource;  // path segment
  std::string (*body)(const std::string& name);
  std::string delete_query;
};

std::string configMapBody(const std::string& name) {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"("},"data":{"k":"v"}})";
}

std::string podBody(const std::string& name) {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
         R"("},"spec":{"containers":[{"name":"c","image":"busybox"}]}})";
}

void printRow(const PhaseResult& r) {
  std::printf("%-22s %9ld %10.0f %9.2f %9.2f %7ld\n", r.name.c_str(), r.ops, r.rate(), r.p50_ms, r.p99_ms,
              r.errors);
  if (!r.first_error.empty()) std::printf("    first error: %.300s\n", r.first_error.c_str());
  std::fflush(stdout);
}

// create / get / list / patch / delete of one kind; names are per thread so
// that get, patch and delete touch objects that exist.
std::vector<PhaseResult> runCrud(const Kind& kind, const std::string& ns,
                                 std::vector<std::unique_ptr<client::HttpsClient>>& clients, double seconds) {
  std::vector<PhaseResult> out;
  std::string base = "/api/v1/namespaces/" + ns + "/" + kind.resource;
  std::vector<std::vector<std::string>> names(clients.size());
  out.push_back(runClosedLoop(kind.label + " create", clients, seconds,
                              [&](int t, long i, client::HttpsClient& c, std::string* err) {
                                std::string name = "b-" + std::to_string(t) + "-" + std::to_string(i);
                                int s = statusOf(c.request("POST", base, kind.body(name), kJson), err);
                                if (s == 201) names[t].push_back(name);
                                return s;
                              }));
  printRow(out.back());
  out.push_back(runClosedLoop(kind.label + " get", clients, seconds,
                              [&](int t, long i, client::HttpsClient& c, std::string* err) {
                                if (names[t].empty()) return 0;
                                const std::string& name = names[t][i % names[t].size()];
                                return statusOf(c.request("GET", base + "/" + name), err);
                              }));
  printRow(out.back());
  out.push_back(runClosedLoop(kind.label + " list(50)", clients, seconds,
                              [&](int, long, client::HttpsClient& c, std::string* err) {
                                return statusOf(c.request("GET", base + "?limit=50"), err);
                              }));
  printRow(out.back());
  out.push_back(runClosedLoop(kind.label + " patch", clients, seconds,
                              [&](int t, long i, client::HttpsClient& c, std::string* err) {
                                if (names[t].empty()) return 0;
                                const std::string& name = names[t][i % names[t].size()];
                                std::string patch = R"({"metadata":{"labels":{"bench":")" + std::to_string(i) + R"("}}})";
                                return statusOf(c.request("PATCH", base + "/" + name, patch, kMergePatch), err);
                              }));
  printRow(out.back());
  out.push_back(runClosedLoop(kind.label + " delete", clients, seconds,
                              [&](int t, long i, client::HttpsClient& c, std::string* err) {
                                if (static_cast<size_t>(i) >= names[t].size()) return 0;
                                return statusOf(c.request("DELETE", base + "/" + names[t][i] + kind.delete_query), err);
                              }));
  printRow(out.back());
  return out;
}

long serverRss(const void* arg) { return static_cast<const BenchServer*>(arg)->rssKib(); }

int run(const BenchOptions& opt) {
  std::printf("berth bench api: clients=%d duration=%.0fs/phase rate=%.0f/s watchers=%d watch-writes=%d server=%s\n",
              opt.clients, opt.duration, opt.rate, opt.watchers, opt.watch_writes,
              opt.in_process ? "in-process" : "child process");
  std::string load_before = loadavg();
  std::printf("loadavg at start: %s (cores: %u)\n", load_before.c_str(), std::thread::hardware_concurrency());
  std::fflush(stdout);

  // Start-up and idle RSS of the whole server (scheduler and controllers
  // included); the throughput phases then run against the API alone
  // (--no-control-plane), as upstream measures kube-apiserver apart from
  // the controllers.
  auto full = BenchServer::start(opt.in_process);
  if (!full.ok()) {
    std::fprintf(stderr, "bench api: server start failed: %s\n", full.error().message.c_str());
    return 1;
  }
  double ready_ms = (*full)->readyMs();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  long idle_rss = (*full)->rssKib();
  (*full)->stop();
  std::printf("server: start to ready %.1f ms, idle RSS %s%s (API, scheduler and controllers)\n", ready_ms,
              mib(idle_rss).c_str(), opt.in_process ? " (includes the load generator)" : "");

  auto started = BenchServer::start(opt.in_process, {"--no-control-plane"});
  if (!started.ok()) {
    std::fprintf(stderr, "bench api: server start failed: %s\n", started.error().message.c_str());
    return 1;
  }
  std::unique_ptr<BenchServer> server = std::move(started).value();
  std::printf("phases below: berth server --no-control-plane\n");

  client::ClientOptions co;
  co.port = server->port();
  co.ca_pem = server->caPem();
  co.bearer_token = server->token();
  co.request_timeout = std::chrono::seconds(30);
  co.user_agent = "berth-bench";
  std::vector<std::unique_ptr<client::HttpsClient>> clients;
  for (int i = 0; i < opt.clients; ++i) clients.push_back(std::make_unique<client::HttpsClient>(co));

  // Namespaces for the open-loop and watch phases keep their lists apart
  // from the CRUD phases.
  for (const char* ns : {"bench-open", "bench-watch"}) {
    std::string body = std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") + ns + R"("}})";
    auto r = clients[0]->request("POST", "/api/v1/namespaces", body, kJson);
    if (!r.ok() || r->status != 201) {
      std::fprintf(stderr, "bench api: create namespace %s failed: %s\n", ns,
                   r.ok() ? r->body.c_str() : r.error().message.c_str());
      return 1;
    }
  }

  std::printf("\n%-22s %9s %10s %9s %9s %7s\n", "phase", "ok", "ops/s", "p50 ms", "p99 ms", "errors");
  PhaseResult floor = runClosedLoop("GET /version (floor)", clients, opt.duration,
                                    [](int, long, client::HttpsClient& c, std::string* err) {
                                      return statusOf(c.request("GET", "/version"), err);
                                    });
  printRow(floor);
  Kind cm{"configmaps", "configmaps", configMapBody, ""};
  Kind pod{"pods", "pods", podBody, "?gracePeriodSeconds=0"};
  auto cm_res = runCrud(cm, "default", clients, opt.duration);
  auto pod_res = runCrud(pod, "default", clients, opt.duration);

  PhaseResult open = runOpenLoop("open-loop create", clients, opt.duration, opt.rate,
                                 [](int, long k, client::HttpsClient& c, std::string* err) {
                                   return statusOf(c.request("POST", "/api/v1/namespaces/bench-open/configmaps",
                                                             configMapBody("ol-" + std::to_string(k)), kJson),
                                                   err);
                                 });
  printRow(open);
  std::printf("    open loop: target %.0f/s, achieved %.0f/s, p99 %.2f ms (target <= 10 ms: %s)\n", opt.rate,
              open.rate(), open.p99_ms, open.p99_ms <= 10 ? "met" : "missed");

  FanoutOptions fo;
  fo.client = co;
  fo.ns = "bench-watch";
  fo.watchers = opt.watchers;
  fo.writes = opt.watch_writes;
  std::printf("\nwatch fan-out: opening %d watches...\n", opt.watchers);
  std::fflush(stdout);
  FanoutResult fan = runWatchFanout(fo, clients, serverRss, server.get());
  bool all = fan.complete == fan.watchers && fan.writes_ok == fan.writes;
  std::printf("    connected %d/%d in %.2f s; writes %d/%d; delivered %ld of %ld events in %.3f s = %.0f events/s\n",
              fan.connected, fan.watchers, fan.setup_s, fan.writes_ok, fan.writes, fan.delivered,
              static_cast<long>(fan.watchers) * fan.writes, fan.seconds, fan.events_per_s);
  std::printf("    every watcher got every event: %s (%d/%d complete)\n", all ? "yes" : "no", fan.complete,
              fan.watchers);
  if (!fan.first_error.empty()) std::printf("    first error: %.300s\n", fan.first_error.c_str());
  std::printf("    server RSS with %d watches open: %s\n", fan.watchers, mib(fan.server_rss_kib).c_str());

  clients.clear();
  long after_rss = server->rssKib();
  std::string load_after = loadavg();
  server->stop();

  double cm_get = cm_res[1].rate(), pod_get = pod_res[1].rate();
  auto ratio = [&](double v) { return floor.rate() > 0 ? v / floor.rate() : 0.0; };
  std::printf("\nratios against GET /version on the same server, same run (%.0f/s):\n", floor.rate());
  for (const auto* set : {&cm_res, &pod_res})
    for (const auto& r : *set) std::printf("    %-22s / version-floor = %.2f\n", r.name.c_str(), ratio(r.rate()));
  std::printf("server RSS: idle %s, after run %s\n", mib(idle_rss).c_str(), mib(after_rss).c_str());
  std::printf("loadavg at end: %s%s\n", load_after.c_str(),
              std::strtod(load_after.c_str(), nullptr) > std::thread::hardware_concurrency()
                  ? "  (machine shared with other work: figures are pessimistic)"
                  : "");
  std::printf(
      "bench api: ready=%.0fms idle_rss=%s cm[create=%.0f get=%.0f list=%.0f patch=%.0f delete=%.0f]/s "
      "pod[create=%.0f get=%.0f list=%.0f patch=%.0f delete=%.0f]/s get/version-floor=%.2f "
      "open-loop=%.0f/%.0f/s p99=%.2fms watch=%dx%d every-event=%s %.0f ev/s rss_after=%s load=%.2f\n",
      ready_ms, mib(idle_rss).c_str(), cm_res[0].rate(), cm_get, cm_res[2].rate(), cm_res[3].rate(),
      cm_res[4].rate(), pod_res[0].rate(), pod_get, pod_res[2].rate(), pod_res[3].rate(), pod_res[4].rate(),
      ratio(cm_get), open.rate(), opt.rate, open.p99_ms, fan.watchers, fan.writes, all ? "yes" : "no",
      fan.events_per_s, mib(after_rss).c_str(), std::strtod(load_after.c_str(), nullptr));
  std::fflush(stdout);
  return all ? 0 : 1;
}

}  // namespace

int runApiBench(const std::vector<std::string>& args) {
  BenchOptions opt;
  // args[0] is "api".
  for (size_t i = 1; i < args.size(); ++i) {
    auto value = [&](const char* flag) -> const std::string* {
      if (args[i] == flag && i + 1 < args.size()) return &args[++i];
      return nullptr;
    };
    try {
      if (auto* v = value("--clients")) opt.clients = std::stoi(*v);
      else if (auto* v = value("--duration")) opt.duration = std::stod(*v);
      else if (auto* v = value("--rate")) opt.rate = std::stod(*v);
      else if (auto* v = value("--watchers")) opt.watchers = std::stoi(*v);
      else if (auto* v = value("--watch-writes")) opt.watch_writes = std::stoi(*v);
      else if (args[i] == "--in-process") opt.in_process = true;
      else return usage();
    } catch (const std::exception&) {
      return usage();
    }
  }
  if (opt.clients < 1 || opt.duration <= 0 || opt.rate <= 0 || opt.watchers < 1 || opt.watch_writes < 1)
    return usage();
  signal(SIGPIPE, SIG_IGN);
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench api: %s\n", e.what());
    return 1;
  }
}

}  // namespace berth::bench
