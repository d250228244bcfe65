// InProcessClient specifics over a Registry on SQLite + the watch cache in a
// temp dir: shared decoded objects, the watch dispatcher (order, stop, slow
// handlers, the client going away) and pods/binding through
// Registry::bind. The behaviour both clients share is asserted in
// tests/integration/client_test.cpp.
#include "client/inprocess_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <thread>

#include "api/object.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/watch_cache.h"

namespace berth::client {
namespace {

namespace json = boost::json;
using apiserver::Registry;

const api::KindInfo& coreKind(const char* k) {
  const auto* info = api::KindRegistry::builtin().byKind("", "v1", k);
  if (!info) std::abort();
  return *info;
}

Object configMap(const std::string& name) {
  return Object{{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", Object{{"name", name}, {"namespace", "default"}}},
                {"data", Object{{"k", "v"}}}};
}

Object pod(const std::string& name) {
  return Object{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", Object{{"name", name}, {"namespace", "default"}}},
      {"spec", Object{{"schedulerName", "manual"},
                      {"containers", json::array{Object{{"name", "c"}, {"image", "busybox"}}}}}}};
}

Object binding(const std::string& node) {
  return Object{{"target", Object{{"kind", "Node"}, {"name", node}}}};
}

// Collects events; waits are bounded by a generous deadline.
class Events {
 public:
  WatchHandler handler() {
    return [this](const Event& e) {
      std::lock_guard lock(mu_);
      events_.push_back(e);
      cv_.notify_all();
    };
  }
  bool waitFor(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(15), [&] { return events_.size() >= n; });
  }
  std::vector<Event> all() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

class InProcessClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-inproc-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto backend = storage::SqliteStore::open(dir_ + "/state.db", {});
    ASSERT_TRUE(backend.ok()) << backend.error().message;
    backend_ = std::move(backend).value();
    const auto& kinds = api::KindRegistry::builtin();
    storage::WatchCacheOptions wo;
    wo.decorate = [&kinds](storage::KeyValue kv) {
      return Registry::decorate(kinds, std::move(kv));
    };
    wo.bookmark_interval = std::chrono::milliseconds(0);
    auto cache = storage::WatchCache::create(backend_, wo);
    ASSERT_TRUE(cache.ok());
    cache_ = std::move(cache).value();
    clock_.set(std::chrono::system_clock::from_time_t(1893553445));  // 2030-01-02T03:04:05Z
    registry_ = std::make_unique<Registry>(kinds, cache_, clock_, Registry::Options{});
    client_ = std::make_unique<InProcessClient>(*registry_, options());
    Object ns{
        {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", Object{{"name", "default"}}}};
    ASSERT_TRUE(client_->create(coreKind("Namespace"), ns).ok());
  }

  void TearDown() override {
    client_.reset();
    registry_.reset();
    cache_.reset();
    backend_.reset();
    std::filesystem::remove_all(dir_);
  }

  virtual InProcessClient::Options options() {
    InProcessClient::Options o;
    o.watch_threads = 2;
    return o;
  }

  std::string dir_;
  FakeClock clock_;
  std::shared_ptr<storage::SqliteStore> backend_;
  std::shared_ptr<storage::WatchCache> cache_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<InProcessClient> client_;
};

TEST_F(InProcessClientTest, DecodedObjectsAreSharedWhileHeld) {
  ASSERT_TRUE(client_->create(coreKind("ConfigMap"), configMap("a")).ok());
  auto first = client_->get(coreKind("ConfigMap"), "default", "a");
  auto second = client_->get(coreKind("ConfigMap"), "default", "a");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->get(), second->get());
  EXPECT_FALSE(api::getStringPath(**first, "metadata.resourceVersion").empty());
  auto l = client_->list(coreKind("ConfigMap"), "default", {});
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->items.size(), 1u);
  EXPECT_EQ(l->items[0].get(), first->get());
  // A new version is a new object.
  ASSERT_TRUE(
      client_
          ->patch(coreKind("ConfigMap"), "default", "a", PatchType::kMerge, R"({"data":{"k":"w"}})")
          .ok());
  auto third = client_->get(coreKind("ConfigMap"), "default", "a");
  ASSERT_TRUE(third.ok());
  EXPECT_NE(third->get(), first->get());
  EXPECT_EQ(api::getStringPath(**third, "data.k"), "w");
}

TEST_F(InProcessClientTest, ManyWatchesEachGetEveryEventInOrder) {
  constexpr int kWatches = 6;
  constexpr int kObjects = 150;
  std::vector<std::unique_ptr<Events>> events;
  std::vector<std::unique_ptr<Watch>> watches;
  for (int i = 0; i < kWatches; ++i) {
    events.push_back(std::make_unique<Events>());
    auto w = client_->watch(coreKind("ConfigMap"), "default", {}, events.back()->handler());
    ASSERT_TRUE(w.ok()) << w.error().message;
    watches.push_back(std::move(w).value());
  }
  for (int i = 0; i < kObjects; ++i)
    ASSERT_TRUE(client_->create(coreKind("ConfigMap"), configMap("cm-" + std::to_string(i))).ok());
  for (auto& e : events) {
    ASSERT_TRUE(e->waitFor(kObjects));
    auto got = e->all();
    ASSERT_EQ(got.size(), static_cast<size_t>(kObjects));
    for (int i = 0; i < kObjects; ++i) {
      EXPECT_EQ(got[i].type, EventType::kAdded);
      EXPECT_EQ(api::name(*got[i].object), "cm-" + std::to_string(i));
    }
    // Every watch sees the same object. Sharing one decoded object between
    // watches is a best-effort cache (it may miss under load), so compare
    // content, not pointers.
    EXPECT_EQ(*got[0].object, *events[0]->all()[0].object);
  }
}

TEST_F(InProcessClientTest, StopWaitsForTheRunningHandler) {
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<bool> handler_done{false};
  std::atomic<int> calls{0};
  auto w = client_->watch(coreKind("ConfigMap"), "default", {}, [&](const Event&) {
    if (calls.fetch_add(1) == 0) {
      entered.set_value();
      released.wait();
      handler_done = true;
    }
  });
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(client_->create(coreKind("ConfigMap"), configMap("a")).ok());
  entered.get_future().wait();
  ASSERT_TRUE(client_->create(coreKind("ConfigMap"), configMap("b")).ok());
  bool done_when_stopped = false;
  int calls_when_stopped = 0;
  std::thread stopper([&] {
    (*w)->stop();
    done_when_stopped = handler_done.load();
    calls_when_stopped = calls.load();
  });
  release.set_value();
  stopper.join();
  EXPECT_TRUE(done_when_stopped);
  // Nothing is delivered once stop() returned ("b" only if it came first).
  Events probe;
  auto w2 = client_->watch(coreKind("ConfigMap"), "default", {}, probe.handler());
  ASSERT_TRUE(w2.ok());
  ASSERT_TRUE(client_->create(coreKind("ConfigMap"), configMap("c")).ok());
  ASSERT_TRUE(probe.waitFor(1));
  EXPECT_EQ(calls.load(), calls_when_stopped);
  EXPECT_LE(calls_when_stopped, 2);
}

class SlowHandlerTest : public InProcessClientTest {
 protected:
  InProcessClient::Options options() override {
    InProcessClient::Options o;
    o.watch_threads = 1;
    o.max_pending_events = 4;
    return o;
  }
};

TEST_F(SlowHandlerTest, AHandlerTooFarBehindEndsTheWatch) {
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  Events events;
  auto record = events.handler();
  std::atomic<int> calls{0};
  auto w = client_->watch(coreKind("ConfigMap"), "default", {}, [&](const Event& e) {
    if (calls.fetch_add(1) == 0) {
      entered.set_value();
      released.wait();
    }
    record(e);
  });
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(client_->create(coreKind("ConfigMap"), configMap("cm-0")).ok());
  entered.get_future().wait();
  for (int i = 1; i < 10; ++i)
    ASSERT_TRUE(client_->create(coreKind("ConfigMap"), configMap("cm-" + std::to_string(i))).ok());
  release.set_value();
  ASSERT_TRUE(events.waitFor(2));
  auto got = events.all();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, EventType::kAdded);
  EXPECT_EQ(got[1].type, EventType::kError);
  EXPECT_EQ(got[1].error.code, ErrorCode::kUnavailable);
}

TEST_F(InProcessClientTest, DestroyingTheClientStopsItsWatches) {
  std::atomic<int> calls{0};
  auto w = client_->watch(coreKind("ConfigMap"), "default", {}, [&](const Event&) { ++calls; });
  ASSERT_TRUE(w.ok());
  client_.reset();
  // Writes go on without the client; the orphaned watch stays silent and
  // stopping it is harmless.
  apiserver::WriteOptions wo;
  ASSERT_TRUE(registry_->create(coreKind("ConfigMap"), "default", configMap("a"), wo).ok());
  (*w)->stop();
  w->reset();
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(InProcessClientTest, MalformedResourceVersionIsABadRequest) {
  ListOptions opts;
  opts.resource_version = "12abc";
  auto w = client_->watch(coreKind("ConfigMap"), "default", opts, [](const Event&) {});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(w.error().message, "invalid resource version \"12abc\"");
}

TEST_F(InProcessClientTest, BindingReplacesThePodScheduledCondition) {
  ASSERT_TRUE(client_->create(coreKind("Pod"), pod("p")).ok());
  // The scheduler reported it unschedulable earlier.
  auto unschedulable = client_->patch(
      coreKind("Pod"), "default", "p", PatchType::kMerge,
      R"({"status":{"conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable",)"
      R"("message":"0/1 nodes are available","lastTransitionTime":"2029-01-01T00:00:00Z"}]}})",
      Subresource::kStatus);
  ASSERT_TRUE(unschedulable.ok()) << unschedulable.error().message;
  Object b = binding("n1");
  b["metadata"] = Object{{"annotations", Object{{"a", "1"}}}};
  auto status = client_->createSubresource(coreKind("Pod"), "default", "p", "binding", b);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(json::serialize(**status),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":201})");
  auto bound = client_->get(coreKind("Pod"), "default", "p");
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ(api::getStringPath(**bound, "spec.nodeName"), "n1");
  EXPECT_EQ(api::getStringPath(**bound, "metadata.annotations.a"), "1");
  EXPECT_EQ(json::serialize(*api::findPath(**bound, "status.conditions")),
            R"([{"type":"PodScheduled","status":"True","lastProbeTime":null,)"
            R"("lastTransitionTime":"2030-01-02T03:04:05Z"}])");
}

TEST_F(InProcessClientTest, BindingRefusals) {
  Object gated = pod("gated");
  gated["spec"].as_object()["schedulingGates"] = json::array{Object{{"name", "example.com/wait"}}};
  ASSERT_TRUE(client_->create(coreKind("Pod"), gated).ok());
  auto r =
      client_->createSubresource(coreKind("Pod"), "default", "gated", "binding", binding("n1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(r.error().message,
            "Operation cannot be fulfilled on pods/binding \"gated\": pod gated has non-empty "
            ".spec.schedulingGates");

  auto created = client_->create(coreKind("Pod"), pod("p"));
  ASSERT_TRUE(created.ok());
  // A stale resourceVersion precondition.
  Object stale = binding("n1");
  stale["metadata"] = Object{{"resourceVersion", "1"}};
  r = client_->createSubresource(coreKind("Pod"), "default", "p", "binding", stale);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(r.error().message,
            "Operation cannot be fulfilled on pods \"p\": Precondition failed: ResourceVersion in "
            "precondition: 1, ResourceVersion in object meta: " +
                api::getStringPath(**created, "metadata.resourceVersion"));
  // The body names another pod.
  Object other = binding("n1");
  other["metadata"] = Object{{"name", "q"}};
  r = client_->createSubresource(coreKind("Pod"), "default", "p", "binding", other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(r.error().message, "name in URL does not match name in Binding object");
  // ValidatePodBinding: both problems, as an aggregate.
  Object empty{{"target", Object{{"kind", "Service"}}}};
  r = client_->createSubresource(coreKind("Pod"), "default", "p", "binding", empty);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(r.error().message,
            "[target.kind: Unsupported value: \"Service\": supported values: \"Node\", "
            "\"<empty>\", target.name: "
            "Required value]");
  // Nothing of that changed the pod.
  auto got = client_->get(coreKind("Pod"), "default", "p");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(api::getStringPath(**got, "spec.nodeName"), "");
  // Subresources other than binding are not served in-process.
  r = client_->createSubresource(coreKind("Pod"), "default", "p", "ephemeral", Object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_F(InProcessClientTest, WritesNeedANamespaceForNamespacedKinds) {
  Object cm = configMap("a");
  cm["metadata"].as_object().erase("namespace");
  auto r = client_->create(coreKind("ConfigMap"), cm);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace berth::client
