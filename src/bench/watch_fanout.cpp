#include "bench/watch_fanout.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

namespace berth::bench {

namespace {

using Clock = std::chrono::steady_clock;

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct Watcher {
  const FanoutOptions* options = nullptr;
  std::string target;
  int expected = 0;  // sentinel + timed writes
  std::atomic<int> seen{0};
  std::atomic<int64_t> last_ns{0};
  std::atomic<bool> finished{false};
  std::string error;
  pthread_t thread{};
  bool started = false;
};

void* watcherMain(void* arg) {
  auto* w = static_cast<Watcher*>(arg);
  try {
    client::ClientOptions o = w->options->client;
    // Bounded: a watcher that misses an event gives up after 10 s of
    // silence instead of holding the benchmark open.
    o.stream_idle_timeout = std::chrono::seconds(10);
    o.connect_timeout = std::chrono::seconds(30);
    o.request_timeout = std::chrono::seconds(60);
    client::HttpsClient c(o);
    auto r = c.stream("GET", w->target, [&](std::string_view line) {
      if (line.find("\"ADDED\"") != std::string_view::npos) {
        w->last_ns.store(nowNs(), std::memory_order_relaxed);
        int n = w->seen.fetch_add(1, std::memory_order_relaxed) + 1;
        if (n >= w->expected) return false;
      }
      return true;
    });
    if (!r.ok()) w->error = r.error().message;
    else if (r->status != 200) w->error = "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 200);
  } catch (const std::exception& e) {
    w->error = e.what();
  }
  w->finished.store(true);
  return nullptr;
}

std::string configMap(const std::string& name) {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"("},"data":{"k":"v"}})";
}

}  // namespace

FanoutResult runWatchFanout(const FanoutOptions& options, std::vector<std::unique_ptr<client::HttpsClient>>& writers,
                            long (*rss)(const void*), const void* rss_arg) {
  FanoutResult res;
  res.watchers = options.watchers;
  res.writes = options.writes;
  std::string base = "/api/v1/namespaces/" + options.ns + "/configmaps";
  // Watch from the list's resourceVersion so that no event can fall between
  // a late connection and the writes (the watch cache replays from it).
  auto list = writers[0]->request("GET", base + "?limit=1");
  if (!list.ok() || list->status != 200) {
    res.first_error = list.ok() ? "list HTTP " + std::to_string(list->status) : list.error().message;
    return res;
  }
  std::string rv;
  try {
    auto v = boost::json::parse(list->body);
    rv = std::string(v.at("metadata").at("resourceVersion").as_string());
  } catch (const std::exception& e) {
    res.first_error = std::string("list: ") + e.what();
    return res;
  }
  std::string target = base + "?watch=1&resourceVersion=" + rv + "&timeoutSeconds=120";
  std::vector<std::unique_ptr<Watcher>> ws;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, options.stack_bytes);
  auto t_setup = Clock::now();
  for (int i = 0; i < options.watchers; ++i) {
    auto w = std::make_unique<Watcher>();
    w->options = &options;
    w->target = target;
    w->expected = options.writes + 1;
    if (pthread_create(&w->thread, &attr, watcherMain, w.get()) == 0) w->started = true;
    else w->error = "pthread_create failed";
    ws.push_back(std::move(w));
  }
  pthread_attr_destroy(&attr);

  auto cm = writers[0]->request("POST", base, configMap("sentinel"), {{"Content-Type", "application/json"}});
  if (!cm.ok() || cm->status != 201) res.first_error = "sentinel create failed";
  auto deadline = Clock::now() + std::chrono::seconds(60);
  auto countWhere = [&](auto pred) {
    int n = 0;
    for (auto& w : ws) n += pred(*w) ? 1 : 0;
    return n;
  };
  while (Clock::now() < deadline) {
    int ready = countWhere([](Watcher& w) { return w.seen.load() >= 1 || w.finished.load(); });
    if (ready == options.watchers) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  res.connected = countWhere([](Watcher& w) { return w.seen.load() >= 1; });
  res.setup_s = std::chrono::duration<double>(Clock::now() - t_setup).count();

  // Timed writes, spread over the writer clients.
  auto t0 = Clock::now();
  std::atomic<int> next{0}, ok{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < writers.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int k; (k = next.fetch_add(1)) < options.writes;) {
        auto r = writers[t]->request("POST", base, configMap("fan-" + std::to_string(k)),
                                     {{"Content-Type", "application/json"}});
        if (r.ok() && r->status == 201) ok.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  res.writes_ok = ok.load();
  int want = res.writes_ok + 1;
  deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    int done = countWhere([&](Watcher& w) { return w.seen.load() >= want || w.finished.load(); });
    if (done == options.watchers) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (rss) res.server_rss_kib = rss(rss_arg);
  int64_t last = 0;
  for (auto& w : ws) {
    int timed = std::max(0, w->seen.load() - 1);
    res.delivered += timed;
    if (w->seen.load() >= want) ++res.complete;
    last = std::max(last, w->last_ns.load());
  }
  int64_t t0_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count();
  res.seconds = last > t0_ns ? (last - t0_ns) / 1e9 : 0;
  res.events_per_s = res.seconds > 0 ? res.delivered / res.seconds : 0;
  for (auto& w : ws) {
    if (w->started) pthread_join(w->thread, nullptr);
    if (res.first_error.empty() && !w->error.empty()) res.first_error = w->error;
  }
  return res;
}

}  // namespace berth::bench
