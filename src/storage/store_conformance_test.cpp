// One conformance suite for the Store contract (store.h), run against every
// implementation, as Kubernetes runs its storage tests against etcd3 and the
// cacher (staging/src/k8s.io/apiserver/pkg/storage/testing).

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "storage/sqlite/sqlite_store.h"
#include "storage/store_test_util.h"
#include "storage/watch_cache.h"

namespace berth::storage {
namespace {

using testing::Recorder;
using testing::str;
using testing::TempDir;

class Harness {
 public:
  virtual ~Harness() = default;
  virtual Store& store() = 0;
  // Closes everything and opens the same database again.
  virtual void reopen() = 0;
};

class SqliteHarness : public Harness {
 public:
  SqliteHarness() { reopen(); }
  Store& store() override { return *store_; }
  void reopen() override {
    store_.reset();
    auto opened = SqliteStore::open(dir_.file("db.sqlite"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }

 private:
  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

class CacheHarness : public Harness {
 public:
  explicit CacheHarness(size_t capacity) : capacity_(capacity) { reopen(); }
  ~CacheHarness() override {
    cache_.reset();
    backend_.reset();
  }
  Store& store() override { return *cache_; }
  void reopen() override {
    cache_.reset();
    backend_.reset();
    auto opened = SqliteStore::open(dir_.file("db.sqlite"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    backend_ = std::move(opened).value();
    WatchCacheOptions options;
    options.capacity = capacity_;
    options.bookmark_interval = std::chrono::milliseconds(0);
    // Attaches a decoded form but keeps the bytes, so the generic
    // assertions on values hold.
    options.decorate = [](KeyValue kv) {
      kv.decoded = std::make_shared<const std::string>("decoded:" + kv.key);
      return kv;
    };
    auto cache = WatchCache::create(backend_, options);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    cache_ = std::move(cache).value();
  }

 private:
  TempDir dir_;
  size_t capacity_;
  std::shared_ptr<SqliteStore> backend_;
  std::unique_ptr<WatchCache> cache_;
};

struct Backend {
  std::string name;
  std::function<std::unique_ptr<Harness>()> make;
};

std::ostream& operator<<(std::ostream& os, const Backend& b) { return os << b.name; }

class StoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { harness_ = GetParam().make(); }
  void TearDown() override { harness_.reset(); }
  Store& store() { return harness_->store(); }

  KeyValue mustCreate(const std::string& key, const std::string& value) {
    auto r = store().create(key, value);
    EXPECT_TRUE(r.ok()) << key << ": " << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : KeyValue{};
  }
  KeyValue mustUpdate(const std::string& key, const std::string& value, int64_t expected = 0) {
    auto r = store().update(key, value, expected);
    EXPECT_TRUE(r.ok()) << key << ": " << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : KeyValue{};
  }
  std::vector<std::string> keysOf(const ListResult& result) {
    std::vector<std::string> keys;
    for (const auto& kv : result.items) keys.push_back(kv.key);
    return keys;
  }

  std::unique_ptr<Harness> harness_;
};

TEST_P(StoreConformance, CreateAssignsIncreasingRevisionsAndRejectsDuplicates) {
  int64_t before = store().currentRevision();
  auto a = mustCreate("/registry/pods/default/a", "A");
  EXPECT_GT(a.mod_revision, before);
  EXPECT_EQ(a.create_revision, a.mod_revision);
  EXPECT_EQ(str(a.value), "A");
  EXPECT_EQ(store().currentRevision(), a.mod_revision);

  auto b = mustCreate("/registry/pods/default/b", "B");
  EXPECT_GT(b.mod_revision, a.mod_revision);

  auto dup = store().create("/registry/pods/default/a", "again");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(store().currentRevision(), b.mod_revision) << "a failed write takes no revision";

  auto empty = store().create("", "x");
  ASSERT_FALSE(empty.ok());
}

TEST_P(StoreConformance, GetLatestAndNotFound) {
  auto missing = store().get("/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  auto created = mustCreate("/k", "v1");
  auto got = store().get("/k");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->key, "/k");
  EXPECT_EQ(str(got->value), "v1");
  EXPECT_EQ(got->mod_revision, created.mod_revision);
  EXPECT_EQ(got->create_revision, created.create_revision);
}

TEST_P(StoreConformance, GetAtRevision) {
  auto other = mustCreate("/other", "x");
  auto v1 = mustCreate("/k", "v1");
  auto v2 = mustUpdate("/k", "v2");
  auto gone = store().remove("/k");
  ASSERT_TRUE(gone.ok());

  auto at1 = store().get("/k", v1.mod_revision);
  ASSERT_TRUE(at1.ok()) << at1.error().message;
  EXPECT_EQ(str(at1->value), "v1");
  EXPECT_EQ(at1->mod_revision, v1.mod_revision);

  auto at2 = store().get("/k", v2.mod_revision);
  ASSERT_TRUE(at2.ok());
  EXPECT_EQ(str(at2->value), "v2");
  EXPECT_EQ(at2->create_revision, v1.mod_revision);

  auto before = store().get("/k", other.mod_revision);
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code, ErrorCode::kNotFound);

  auto after_delete = store().get("/k", gone->mod_revision);
  ASSERT_FALSE(after_delete.ok());
  EXPECT_EQ(after_delete.error().code, ErrorCode::kNotFound);

  auto future = store().get("/k", store().currentRevision() + 100);
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.error().code, ErrorCode::kTimeout);
}

TEST_P(StoreConformance, ListPrefixInKeyOrder) {
  for (const char* key : {"/a/2", "/a/1", "/b/1", "/a/3", "/a", "/ab"}) mustCreate(key, key);
  ListOptions options;
  options.prefix = "/a/";
  auto listed = store().list(options);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(keysOf(*listed), (std::vector<std::string>{"/a/1", "/a/2", "/a/3"}));
  EXPECT_EQ(listed->revision, store().currentRevision());
  EXPECT_FALSE(listed->more);
  EXPECT_EQ(str(listed->items[1].value), "/a/2");

  options.prefix = "";
  listed = store().list(options);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->items.size(), 6u);

  options.prefix = "/a/1";  // an exact key works as a prefix
  listed = store().list(options);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(keysOf(*listed), (std::vector<std::string>{"/a/1"}));
}

TEST_P(StoreConformance, ListPagesWithLimitStartAfterMoreRemaining) {
  for (int i = 0; i < 7; ++i) mustCreate("/p/" + std::to_string(i), "v");
  mustCreate("/q/0", "v");
  ListOptions options;
  options.prefix = "/p/";
  options.limit = 3;
  auto page1 = store().list(options);
  ASSERT_TRUE(page1.ok());
  EXPECT_EQ(keysOf(*page1), (std::vector<std::string>{"/p/0", "/p/1", "/p/2"}));
  EXPECT_TRUE(page1->more);
  EXPECT_EQ(page1->remaining, 4);

  options.start_after = page1->items.back().key;
  options.revision = page1->revision;
  auto page2 = store().list(options);
  ASSERT_TRUE(page2.ok()) << page2.error().message;
  EXPECT_EQ(keysOf(*page2), (std::vector<std::string>{"/p/3", "/p/4", "/p/5"}));
  EXPECT_TRUE(page2->more);
  EXPECT_EQ(page2->remaining, 1);

  options.start_after = page2->items.back().key;
  auto page3 = store().list(options);
  ASSERT_TRUE(page3.ok());
  EXPECT_EQ(keysOf(*page3), (std::vector<std::string>{"/p/6"}));
  EXPECT_FALSE(page3->more);

  options.limit = 0;
  options.start_after = "/a";  // before the prefix: does not widen it
  auto all = store().list(options);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 7u);
}

TEST_P(StoreConformance, ListAtRevisionAndExpiredAfterCompaction) {
  mustCreate("/l/a", "a1");
  mustCreate("/l/b", "b1");
  int64_t r1 = store().currentRevision();
  mustUpdate("/l/a", "a2");
  ASSERT_TRUE(store().remove("/l/b").ok());
  mustCreate("/l/c", "c1");
  int64_t r2 = store().currentRevision();

  ListOptions options;
  options.prefix = "/l/";
  options.revision = r1;
  auto old = store().list(options);
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(old->revision, r1);
  EXPECT_EQ(keysOf(*old), (std::vector<std::string>{"/l/a", "/l/b"}));
  EXPECT_EQ(str(old->items[0].value), "a1");

  options.revision = 0;
  auto now = store().list(options);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(keysOf(*now), (std::vector<std::string>{"/l/a", "/l/c"}));
  EXPECT_EQ(str(now->items[0].value), "a2");

  ASSERT_TRUE(store().compact(r2).ok());
  EXPECT_EQ(store().compactedRevision(), r2);
  options.revision = r1;
  auto expired = store().list(options);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, ErrorCode::kExpired);
  auto expired_get = store().get("/l/a", r1);
  ASSERT_FALSE(expired_get.ok());
  EXPECT_EQ(expired_get.error().code, ErrorCode::kExpired);

  // The state at the compacted revision itself is still readable.
  options.revision = r2;
  auto at_compacted = store().list(options);
  ASSERT_TRUE(at_compacted.ok()) << at_compacted.error().message;
  EXPECT_EQ(keysOf(*at_compacted), (std::vector<std::string>{"/l/a", "/l/c"}));
  EXPECT_EQ(str(at_compacted->items[0].value), "a2");

  options.revision = store().currentRevision() + 10;
  auto future = store().list(options);
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.error().code, ErrorCode::kTimeout);
}

TEST_P(StoreConformance, UpdateWithExpectedRevision) {
  auto missing = store().update("/u", "x", 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  auto v1 = mustCreate("/u", "v1");
  auto stale = store().update("/u", "x", v1.mod_revision + 1000);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);

  auto v2 = mustUpdate("/u", "v2", v1.mod_revision);
  EXPECT_GT(v2.mod_revision, v1.mod_revision);
  EXPECT_EQ(v2.create_revision, v1.create_revision);
  auto conflict = store().update("/u", "v3", v1.mod_revision);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);

  auto v3 = mustUpdate("/u", "v3", 0);  // unconditional
  EXPECT_EQ(str(store().get("/u")->value), "v3");
  EXPECT_EQ(store().get("/u")->mod_revision, v3.mod_revision);
}

TEST_P(StoreConformance, RemoveWithPrecondition) {
  auto missing = store().remove("/r");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  auto v1 = mustCreate("/r", "last");
  auto conflict = store().remove("/r", v1.mod_revision + 5);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);

  auto removed = store().remove("/r", v1.mod_revision);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(str(removed->value), "last");
  EXPECT_EQ(removed->create_revision, v1.create_revision);
  EXPECT_GT(removed->mod_revision, v1.mod_revision);
  EXPECT_EQ(removed->mod_revision, store().currentRevision());
  EXPECT_EQ(store().get("/r").error().code, ErrorCode::kNotFound);

  // Re-creating starts a new life: a new create_revision.
  auto again = mustCreate("/r", "new");
  EXPECT_GT(again.create_revision, removed->mod_revision);
}

TEST_P(StoreConformance, GuaranteedUpdateRetriesUnderConcurrentWriters) {
  constexpr int kThreads = 8;
  constexpr int kIncrements = 25;
  std::atomic<int> calls{0};
  auto increment = [&](const KeyValue* current) -> Result<std::string> {
    calls.fetch_add(1);
    int n = current ? std::stoi(*current->value) : 0;
    return std::to_string(n + 1);
  };
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        auto r = store().guaranteedUpdate("/counter", increment);
        if (!r.ok()) {
          failures.fetch_add(1);
          ADD_FAILURE() << errorCodeName(r.error().code) << ": " << r.error().message;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto final_value = store().get("/counter");
  ASSERT_TRUE(final_value.ok());
  EXPECT_EQ(str(final_value->value), std::to_string(kThreads * kIncrements));
  EXPECT_GE(calls.load(), kThreads * kIncrements);

  // An error from update_fn aborts without writing.
  int64_t before = store().currentRevision();
  auto aborted = store().guaranteedUpdate("/counter", [](const KeyValue*) -> Result<std::string> {
    return makeError(ErrorCode::kInvalid, "no");
  });
  ASSERT_FALSE(aborted.ok());
  EXPECT_EQ(aborted.error().code, ErrorCode::kInvalid);
  EXPECT_EQ(store().currentRevision(), before);
}

TEST_P(StoreConformance, WatchFromRevisionReplaysInOrderWithPrevAndDeletedValues) {
  mustCreate("/seed", "s");  // after_revision 0 would mean "from now"
  int64_t start = store().currentRevision();
  auto a1 = mustCreate("/w/a", "a1");
  mustCreate("/x/ignored", "x");
  auto a2 = mustUpdate("/w/a", "a2");
  auto del = store().remove("/w/a");
  ASSERT_TRUE(del.ok());

  Recorder rec;
  WatchOptions options;
  options.prefix = "/w/";
  options.after_revision = start;
  auto handle = store().watch(options, rec.sink());
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  auto b = mustCreate("/w/b", "b1");  // live, after the replay

  ASSERT_TRUE(rec.waitForEvents(4));
  auto events = rec.events();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].type, EventType::kAdded);
  EXPECT_EQ(events[0].kv.mod_revision, a1.mod_revision);
  EXPECT_EQ(str(events[0].kv.value), "a1");
  EXPECT_EQ(events[1].type, EventType::kModified);
  EXPECT_EQ(events[1].kv.mod_revision, a2.mod_revision);
  EXPECT_EQ(str(events[1].kv.value), "a2");
  EXPECT_EQ(str(events[1].prev_value), "a1");
  EXPECT_EQ(events[2].type, EventType::kDeleted);
  EXPECT_EQ(events[2].kv.mod_revision, del->mod_revision);
  EXPECT_EQ(events[2].kv.create_revision, a1.mod_revision);
  EXPECT_EQ(str(events[2].kv.value), "a2") << "a delete carries the last value";
  EXPECT_EQ(events[3].type, EventType::kAdded);
  EXPECT_EQ(events[3].kv.mod_revision, b.mod_revision);
}

TEST_P(StoreConformance, WatchFromNowOnlyExactKeyWhenNotRecursive) {
  mustCreate("/e/k", "old");
  Recorder rec;
  WatchOptions options;
  options.prefix = "/e/k";
  options.recursive = false;
  auto handle = store().watch(options, rec.sink());
  ASSERT_TRUE(handle.ok());
  mustCreate("/e/k2", "no");
  auto k = mustUpdate("/e/k", "new");
  ASSERT_TRUE(rec.waitForEvents(1));
  auto events = rec.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.key, "/e/k");
  EXPECT_EQ(events[0].kv.mod_revision, k.mod_revision);
}

TEST_P(StoreConformance, ConcurrentWritersEventsStrictlyOrderedAndReadYourWrites) {
  Recorder rec;
  WatchOptions options;
  options.prefix = "/c/";
  auto handle = store().watch(options, rec.sink());
  ASSERT_TRUE(handle.ok());

  constexpr int kThreads = 6;
  constexpr int kWrites = 30;
  std::atomic<int> not_seen{0};
  std::atomic<int> not_read{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        std::string key = "/c/" + std::to_string(t) + "/" + std::to_string(i);
        auto created = store().create(key, key);
        if (!created.ok()) continue;
        // Read your writes: once create returns, the existing watch has the
        // event and a get sees the key.
        if (!rec.hasRevision(created->mod_revision)) not_seen.fetch_add(1);
        auto got = store().get(key);
        if (!got.ok() || got->mod_revision != created->mod_revision) not_read.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(not_seen.load(), 0);
  EXPECT_EQ(not_read.load(), 0);
  auto events = rec.events();
  ASSERT_EQ(events.size(), static_cast<size_t>(kThreads * kWrites));
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_LT(events[i - 1].kv.mod_revision, events[i].kv.mod_revision);
  }
  EXPECT_FALSE(rec.sawConcurrentCalls());
}

TEST_P(StoreConformance, InitialStateThenLiveWithNothingLostOrRepeated) {
  mustCreate("/i/a", "a");
  mustCreate("/i/b", "b");
  mustCreate("/j/x", "x");
  Recorder rec;
  WatchOptions options;
  options.prefix = "/i/";
  options.initial_state = true;
  options.after_revision = 1;  // ignored with initial_state
  auto handle = store().watch(options, rec.sink());
  ASSERT_TRUE(handle.ok());
  mustUpdate("/i/a", "a2");
  ASSERT_TRUE(rec.waitForEvents(3));
  auto events = rec.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, EventType::kAdded);
  EXPECT_EQ(events[0].kv.key, "/i/a");
  EXPECT_EQ(events[1].type, EventType::kAdded);
  EXPECT_EQ(events[1].kv.key, "/i/b");
  EXPECT_EQ(events[2].type, EventType::kModified);
  EXPECT_EQ(str(events[2].kv.value), "a2");
}

TEST_P(StoreConformance, InitialStateIsAtomicWithConcurrentWrites) {
  // Replaying the watch must rebuild exactly the final state while a writer
  // races the registration.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load() || i < 50; ++i) {
      std::string key = "/s/" + std::to_string(i % 20);
      if (!store().create(key, std::to_string(i)).ok()) {
        if (i % 3 == 0) {
          (void)store().remove(key);
        } else {
          (void)store().update(key, std::to_string(i), 0);
        }
      }
      if (i > 2000) break;
    }
  });
  Recorder rec;
  WatchOptions options;
  options.prefix = "/s/";
  options.initial_state = true;
  auto handle = store().watch(options, rec.sink());
  ASSERT_TRUE(handle.ok());
  stop = true;
  writer.join();

  ListOptions list_options;
  list_options.prefix = "/s/";
  auto final_list = store().list(list_options);
  ASSERT_TRUE(final_list.ok());
  // Wait until the watch has caught up to the list's revision.
  for (;;) {
    auto events = rec.events();
    if (!events.empty() && events.back().kv.mod_revision >= final_list->revision) break;
    if (final_list->items.empty() && events.empty()) break;
    ASSERT_TRUE(rec.waitForEvents(events.size() + 1)) << "watch stalled";
  }
  std::map<std::string, std::string> state;
  for (const auto& e : rec.events()) {
    if (e.type == EventType::kBookmark) continue;
    if (e.type == EventType::kDeleted) {
      EXPECT_EQ(state.count(e.kv.key), 1u) << "delete of unknown key " << e.kv.key;
      state.erase(e.kv.key);
    } else if (e.type == EventType::kAdded) {
      EXPECT_EQ(state.count(e.kv.key), 0u) << "add of existing key " << e.kv.key;
      state[e.kv.key] = str(e.kv.value);
    } else {
      EXPECT_EQ(state.count(e.kv.key), 1u) << "modify of unknown key " << e.kv.key;
      state[e.kv.key] = str(e.kv.value);
    }
  }
  std::map<std::string, std::string> expected;
  for (const auto& kv : final_list->items) expected[kv.key] = str(kv.value);
  EXPECT_EQ(state, expected);
}

TEST_P(StoreConformance, WatchFromCompactedRevisionExpires) {
  mustCreate("/seed", "s");  // after_revision 0 would mean "from now"
  int64_t start = store().currentRevision();
  mustCreate("/z/a", "1");
  mustUpdate("/z/a", "2");
  mustUpdate("/z/a", "3");
  int64_t compact_to = store().currentRevision() - 1;
  ASSERT_TRUE(store().compact(compact_to).ok());

  Recorder rec;
  WatchOptions options;
  options.prefix = "/z/";
  options.after_revision = start;
  auto expired = store().watch(options, rec.sink());
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, ErrorCode::kExpired);

  // From the compacted revision itself everything after it is available,
  // including the previous value that compaction had to keep.
  options.after_revision = compact_to;
  auto ok = store().watch(options, rec.sink());
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ASSERT_TRUE(rec.waitForEvents(1));
  auto events = rec.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kModified);
  EXPECT_EQ(str(events[0].kv.value), "3");
  EXPECT_EQ(str(events[0].prev_value), "2");
}

TEST_P(StoreConformance, DestroyingHandleStopsDelivery) {
  Recorder rec;
  WatchOptions options;
  options.prefix = "/d/";
  auto handle = store().watch(options, rec.sink());
  ASSERT_TRUE(handle.ok());
  mustCreate("/d/1", "x");
  ASSERT_TRUE(rec.waitForEvents(1));
  handle.value().reset();
  mustCreate("/d/2", "x");
  mustCreate("/d/3", "x");
  EXPECT_EQ(rec.size(), 1u);
  EXPECT_FALSE(rec.closed().has_value()) << "on_close is not called after the handle is gone";
}

TEST_P(StoreConformance, SinkMayDestroyItsOwnHandle) {
  std::unique_ptr<WatchHandle> handle;
  std::atomic<int> calls{0};
  WatchSink sink;
  sink.on_event = [&](const Event&) {
    calls.fetch_add(1);
    handle.reset();
  };
  WatchOptions options;
  options.prefix = "/self/";
  auto watched = store().watch(options, sink);
  ASSERT_TRUE(watched.ok());
  handle = std::move(watched).value();
  mustCreate("/self/1", "x");
  mustCreate("/self/2", "x");
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(handle, nullptr);
}

TEST_P(StoreConformance, RevisionsKeepIncreasingAcrossReopen) {
  mustCreate("/keep", "v");
  auto gone = mustCreate("/gone", "v");
  auto removed = store().remove("/gone");
  ASSERT_TRUE(removed.ok());
  int64_t last = store().currentRevision();
  // Compaction removes the newest row (a tombstone); the revision must persist anyway.
  ASSERT_TRUE(store().compact(last).ok());

  harness_->reopen();
  EXPECT_EQ(store().currentRevision(), last);
  EXPECT_EQ(store().compactedRevision(), last);
  EXPECT_EQ(str(store().get("/keep")->value), "v");
  EXPECT_EQ(store().get("/gone").error().code, ErrorCode::kNotFound);
  auto next = mustCreate("/after", "v");
  EXPECT_GT(next.mod_revision, last);
}

TEST_P(StoreConformance, BinaryKeysAndValues) {
  std::string key("/bin/\xff\x00\x01", 8);
  std::string value("\x00\x01\xfe\xff", 4);
  mustCreate(key, value);
  mustCreate(std::string("/bin/\xff\xff", 7), "");
  auto got = store().get(key);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got->value, value);
  ListOptions options;
  options.prefix = std::string("/bin/\xff", 6);
  auto listed = store().list(options);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 2u);
  EXPECT_EQ(listed->items[0].key, key);
  EXPECT_EQ(*listed->items[1].value, "");
}

TEST_P(StoreConformance, BadArgumentsFailCleanly) {
  EXPECT_FALSE(store().get("/k", -1).ok());
  ListOptions options;
  options.limit = -1;
  EXPECT_FALSE(store().list(options).ok());
  WatchOptions watch_options;
  watch_options.after_revision = -5;
  Recorder rec;
  EXPECT_FALSE(store().watch(watch_options, rec.sink()).ok());
  EXPECT_FALSE(store().compact(store().currentRevision() + 100).ok());
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StoreConformance,
    ::testing::Values(
        Backend{"Sqlite", [] { return std::unique_ptr<Harness>(new SqliteHarness()); }},
        Backend{"WatchCacheOverSqlite",
                [] { return std::unique_ptr<Harness>(new CacheHarness(100000)); }},
        // A ring of two events: watches from older revisions take the backend path.
        Backend{"WatchCacheTinyRing",
                [] { return std::unique_ptr<Harness>(new CacheHarness(2)); }}),
    [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });

}  // namespace
}  // namespace berth::storage
