// Informer cache, indexes and handlers (driven synchronously with inject*),
// and the threaded list+watch path against FakeClient, including the relist
// after a watch ends with 410 Gone.
#include "client/informer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>

#include "api/object.h"
#include "client/fake_client.h"

namespace berth::client {
namespace {

namespace json = boost::json;

constexpr std::chrono::seconds kDeadline{20};

Object pod(const std::string& ns, const std::string& name, const std::string& node = "",
           int64_t rv = 0) {
  Object p = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{},"spec":{}})").as_object();
  auto& md = p["metadata"].as_object();
  md["namespace"] = ns;
  md["name"] = name;
  if (rv > 0) md["resourceVersion"] = std::to_string(rv);
  if (!node.empty()) p["spec"].as_object()["nodeName"] = node;
  return p;
}

ObjectPtr ptr(Object o) { return std::make_shared<const Object>(std::move(o)); }

std::vector<std::string> keys(const std::vector<ObjectPtr>& items) {
  std::vector<std::string> out;
  for (const auto& o : items) out.push_back(keyOf(*o));
  std::sort(out.begin(), out.end());
  return out;
}

IndexFunc byNode() {
  return [](const Object& obj) {
    std::string node = api::getStringPath(obj, "spec.nodeName");
    return node.empty() ? std::vector<std::string>{} : std::vector<std::string>{node};
  };
}

// Handler calls as lines ("add ns/a", "update ns/a 2->3", "delete ns/a"),
// with a condition to wait on for the threaded tests.
class Log {
 public:
  EventHandlers handlers(const std::string& tag = "") {
    EventHandlers h;
    h.on_add = [this, tag](const ObjectPtr& o) { push(tag + "add " + keyOf(*o)); };
    h.on_update = [this, tag](const ObjectPtr& old_obj, const ObjectPtr& new_obj) {
      push(tag + "update " + keyOf(*new_obj) + " " +
           api::getStringPath(*old_obj, "metadata.resourceVersion") + "->" +
           api::getStringPath(*new_obj, "metadata.resourceVersion"));
    };
    h.on_delete = [this, tag](const ObjectPtr& o) { push(tag + "delete " + keyOf(*o)); };
    return h;
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }
  bool waitForCount(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return lines_.size() >= n; });
  }

 private:
  void push(std::string line) {
    {
      std::lock_guard lock(mu_);
      lines_.push_back(std::move(line));
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

TEST(InformerTest, InjectMaintainsCacheIndexesAndHandlerOrder) {
  FakeClock clock;
  FakeClient client(clock);
  Log log;
  Informer informer(client, kind("", "Pod"));
  informer.addIndex("node", byNode());
  informer.addHandlers(log.handlers("1:"));
  informer.addHandlers(log.handlers("2:"));

  informer.injectUpsert(ptr(pod("a", "p1", "n1", 1)));
  informer.injectUpsert(ptr(pod("a", "p2", "n1", 2)));
  informer.injectUpsert(ptr(pod("b", "p3", "n2", 3)));
  // Same resourceVersion as cached: skipped.
  informer.injectUpsert(ptr(pod("a", "p1", "n1", 1)));
  // p1 moves to n2.
  informer.injectUpsert(ptr(pod("a", "p1", "n2", 4)));
  informer.injectDelete("a/p2");
  informer.injectDelete("a/unknown");

  EXPECT_EQ(log.lines(),
            (std::vector<std::string>{"1:add a/p1", "2:add a/p1", "1:add a/p2", "2:add a/p2",
                                      "1:add b/p3", "2:add b/p3", "1:update a/p1 1->4",
                                      "2:update a/p1 1->4", "1:delete a/p2", "2:delete a/p2"}));
  EXPECT_EQ(informer.size(), 2u);
  EXPECT_EQ(informer.revision(), 4);
  EXPECT_EQ(keys(informer.byIndex("node", "n2")), (std::vector<std::string>{"a/p1", "b/p3"}));
  EXPECT_TRUE(informer.byIndex("node", "n1").empty());
  EXPECT_TRUE(informer.byIndex("missing-index", "n1").empty());
  EXPECT_EQ(keys(informer.listNamespace("a")), (std::vector<std::string>{"a/p1"}));
  EXPECT_EQ(keys(informer.listNamespace("")), (std::vector<std::string>{"a/p1", "b/p3"}));
  EXPECT_EQ(keys(informer.list()), (std::vector<std::string>{"a/p1", "b/p3"}));
  ASSERT_NE(informer.get("a", "p1"), nullptr);
  EXPECT_EQ(api::getStringPath(*informer.get("a/p1"), "spec.nodeName"), "n2");
  EXPECT_EQ(informer.get("a/p2"), nullptr);

  EXPECT_FALSE(informer.hasSynced());
  informer.markSynced();
  EXPECT_TRUE(informer.hasSynced());
  EXPECT_TRUE(informer.waitForSync(std::chrono::milliseconds(0)));
}

TEST(InformerTest, CacheSharesObjects) {
  FakeClock clock;
  FakeClient client(clock);
  Informer informer(client, kind("", "Pod"));
  auto obj = ptr(pod("a", "p1", "", 1));
  informer.injectUpsert(obj);
  EXPECT_EQ(informer.get("a/p1").get(), obj.get());
  EXPECT_EQ(informer.list().at(0).get(), obj.get());
}

TEST(InformerTest, LateHandlersGetAddsForCachedObjects) {
  FakeClock clock;
  FakeClient client(clock);
  Log early, late;
  Informer informer(client, kind("", "Pod"));
  informer.addHandlers(early.handlers());
  informer.injectUpsert(ptr(pod("a", "p1", "", 1)));
  informer.injectUpsert(ptr(pod("a", "p2", "", 2)));
  informer.addHandlers(late.handlers());
  EXPECT_EQ(late.lines(), (std::vector<std::string>{"add a/p1", "add a/p2"}));
  informer.injectUpsert(ptr(pod("a", "p3", "", 3)));
  EXPECT_EQ(late.lines(), (std::vector<std::string>{"add a/p1", "add a/p2", "add a/p3"}));
  EXPECT_EQ(early.lines().size(), 3u);
}

TEST(InformerTest, HandlersMayAddHandlersAndInjectReentrantly) {
  FakeClock clock;
  FakeClient client(clock);
  Log late;
  Informer informer(client, kind("", "Pod"));
  bool added = false;
  EventHandlers h;
  h.on_add = [&](const ObjectPtr& o) {
    // Re-entrant calls from a handler are queued behind the current event.
    if (!added) {
      added = true;
      informer.addHandlers(late.handlers());
      informer.injectUpsert(ptr(pod("a", "from-handler", "", 9)));
    }
  };
  informer.addHandlers(h);
  informer.injectUpsert(ptr(pod("a", "p1", "", 1)));
  EXPECT_EQ(late.lines(), (std::vector<std::string>{"add a/p1", "add a/from-handler"}));
  EXPECT_EQ(informer.size(), 2u);
}

TEST(InformerTest, ListsInPagesThenFollowsTheWatch) {
  FakeClock clock;
  FakeClient client(clock);
  const auto& pods = kind("", "Pod");
  for (int i = 0; i < 1100; ++i)
    client.add(pods, pod("ns", "p" + std::to_string(i), i % 2 ? "n1" : "n2"));
  Log log;
  Informer informer(client, pods);
  informer.addIndex("node", byNode());
  informer.addHandlers(log.handlers());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(kDeadline));
  EXPECT_EQ(informer.size(), 1100u);
  EXPECT_EQ(informer.revision(), 1101);  // the empty store was at revision 1
  EXPECT_EQ(informer.byIndex("node", "n1").size(), 550u);
  int lists = 0;
  for (const auto& a : client.actions()) lists += a.verb == "list";
  EXPECT_EQ(lists, 3);  // 500 + 500 + 100

  ASSERT_TRUE(log.waitForCount(1100));
  auto created = client.create(pods, pod("ns", "new", "n1"));
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(log.waitForCount(1101));
  EXPECT_EQ(log.lines().back(), "add ns/new");
  EXPECT_EQ(informer.byIndex("node", "n1").size(), 551u);
  DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(client.remove(pods, "ns", "new", now).ok());
  ASSERT_TRUE(log.waitForCount(1102));
  EXPECT_EQ(log.lines().back(), "delete ns/new");
  EXPECT_EQ(informer.get("ns/new"), nullptr);
  EXPECT_EQ(informer.byIndex("node", "n1").size(), 550u);
  informer.stop();
}

TEST(InformerTest, SelectorsNarrowTheCache) {
  FakeClock clock;
  FakeClient client(clock);
  const auto& pods = kind("", "Pod");
  client.add(pods, pod("ns", "mine", "n1"));
  client.add(pods, pod("ns", "other", "n2"));
  client.add(pods, pod("ns", "unbound"));
  ListOptions on_n1;
  on_n1.field_selector = "spec.nodeName=n1";
  Log log;
  Informer informer(client, pods, "", on_n1);
  informer.addHandlers(log.handlers());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(kDeadline));
  ASSERT_TRUE(log.waitForCount(1));
  EXPECT_EQ(keys(informer.list()), (std::vector<std::string>{"ns/mine"}));

  // Binding a pod to n1 brings it into the selection (a node agent's view).
  Object binding = json::parse(R"({"target":{"kind":"Node","name":"n1"}})").as_object();
  ASSERT_TRUE(client.createSubresource(pods, "ns", "unbound", "binding", binding).ok());
  ASSERT_TRUE(log.waitForCount(2));
  EXPECT_EQ(log.lines().back(), "add ns/unbound");
  EXPECT_EQ(informer.size(), 2u);
}

// A Client whose watches the test drives by hand; everything else goes to
// the FakeClient underneath.
class ScriptedClient : public FakeClient {
 public:
  using FakeClient::FakeClient;

  Result<std::unique_ptr<Watch>> watch(const api::KindInfo& kind, const std::string& ns,
                                       const ListOptions& opts, WatchHandler handler) override {
    {
      std::lock_guard lock(mu_);
      handlers_.push_back(std::move(handler));
      watch_rvs_.push_back(opts.resource_version);
    }
    cv_.notify_all();
    class NoWatch : public Watch {
     public:
      void stop() override {}
    };
    return std::unique_ptr<Watch>(std::make_unique<NoWatch>());
  }

  bool waitForWatches(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return handlers_.size() >= n; });
  }
  WatchHandler handler(size_t i) {
    std::lock_guard lock(mu_);
    return handlers_.at(i);
  }
  std::string watchRv(size_t i) {
    std::lock_guard lock(mu_);
    return watch_rvs_.at(i);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<WatchHandler> handlers_;
  std::vector<std::string> watch_rvs_;
};

TEST(InformerTest, RelistsAfterGoneAndReconciles) {
  FakeClock clock;
  ScriptedClient client(clock);
  const auto& pods = kind("", "Pod");
  client.add(pods, pod("ns", "a"));  // rv 2 (an empty store is at revision 1)
  client.add(pods, pod("ns", "b"));  // rv 3
  client.add(pods, pod("ns", "c"));  // rv 4
  Log log;
  Informer informer(client, pods);
  informer.addIndex("node", byNode());
  informer.addHandlers(log.handlers());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(kDeadline));
  ASSERT_TRUE(client.waitForWatches(1));
  EXPECT_EQ(client.watchRv(0), "4");

  // A watch event moves the cache along.
  Event modified;
  modified.type = EventType::kModified;
  modified.object = ptr(pod("ns", "c", "", 4));
  client.handler(0)(modified);  // same resourceVersion: skipped
  Event bookmark;
  bookmark.type = EventType::kBookmark;
  bookmark.revision = 4;
  client.handler(0)(bookmark);

  // Meanwhile (while the watch is "disconnected"): a changes, b goes, d
  // appears, c stays.
  auto a = client.get(pods, "ns", "a");
  ASSERT_TRUE(a.ok());
  Object a2 = **a;
  a2["spec"].as_object()["nodeName"] = "n1";
  ASSERT_TRUE(client.update(pods, a2).ok());              // rv 5
  ASSERT_TRUE(client.remove(pods, "ns", "b").ok());       // rv 6
  ASSERT_TRUE(client.create(pods, pod("ns", "d")).ok());  // rv 7

  Event gone;
  gone.type = EventType::kError;
  gone.error = makeError(ErrorCode::kExpired, "too old resource version: 4 (6)");
  client.handler(0)(gone);

  ASSERT_TRUE(client.waitForWatches(2));
  ASSERT_TRUE(log.waitForCount(6));
  EXPECT_EQ(log.lines(), (std::vector<std::string>{"add ns/a", "add ns/b", "add ns/c",
                                                   "update ns/a 2->5", "add ns/d", "delete ns/b"}));
  EXPECT_EQ(client.watchRv(1), "7");
  EXPECT_EQ(informer.revision(), 7);
  EXPECT_EQ(keys(informer.list()), (std::vector<std::string>{"ns/a", "ns/c", "ns/d"}));
  EXPECT_EQ(keys(informer.byIndex("node", "n1")), (std::vector<std::string>{"ns/a"}));
  informer.stop();
}

TEST(InformerTest, RelistsWhenTheFakeBreaksTheWatch) {
  FakeClock clock;
  FakeClient client(clock);
  const auto& pods = kind("", "Pod");
  client.add(pods, pod("ns", "a"));
  std::mutex mu;
  std::condition_variable cv;
  int watches = 0;
  client.prependReactor("watch", "pods", [&](const Action&) -> std::optional<Result<ObjectPtr>> {
    {
      std::lock_guard lock(mu);
      ++watches;
    }
    cv.notify_all();
    return std::nullopt;
  });
  Log log;
  Informer informer(client, pods);
  informer.addHandlers(log.handlers());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(kDeadline));
  // Added after the list: it can only arrive through the watch, so once the
  // handler has seen it the watch is open.
  client.add(pods, pod("ns", "b"));
  ASSERT_TRUE(log.waitForCount(2));

  client.breakWatches(pods, makeError(ErrorCode::kExpired, "too old resource version"));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kDeadline, [&] { return watches >= 2; }));
  }
  int lists = 0;
  for (const auto& a : client.actions()) lists += a.verb == "list";
  EXPECT_EQ(lists, 2);
  // The new watch delivers.
  client.add(pods, pod("ns", "c"));
  ASSERT_TRUE(log.waitForCount(3));
  EXPECT_EQ(log.lines(), (std::vector<std::string>{"add ns/a", "add ns/b", "add ns/c"}));
  informer.stop();
}

TEST(InformerFactoryTest, SharesOneInformerPerKind) {
  FakeClock clock;
  FakeClient client(clock);
  client.add(kind("", "Node"), json::parse(R"({"metadata":{"name":"n1"}})").as_object());
  InformerFactory factory(client);
  Informer& pods = factory.forKind("", "Pod");
  EXPECT_EQ(&pods, &factory.forKind(kind("", "Pod")));
  factory.start();
  // Created after start(): started at once.
  Informer& nodes = factory.forKind("", "Node");
  EXPECT_NE(&pods, &nodes);
  ASSERT_TRUE(factory.waitForSync(kDeadline));
  EXPECT_TRUE(pods.hasSynced());
  EXPECT_EQ(nodes.size(), 1u);
  EXPECT_NE(nodes.get("n1"), nullptr);
  factory.stop();
}

}  // namespace
}  // namespace berth::client
