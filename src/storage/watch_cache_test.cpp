#include "storage/watch_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "storage/sqlite/sqlite_store.h"
#include "storage/store_test_util.h"

namespace berth::storage {
namespace {

using testing::Recorder;
using testing::str;
using testing::TempDir;

// Marks each value the way the API server's decorator injects resourceVersion.
struct Decorations {
  std::atomic<int> calls{0};
  std::function<KeyValue(KeyValue)> fn() {
    return [this](KeyValue kv) {
      calls.fetch_add(1);
      kv.value = makeBytes(*kv.value + "@" + std::to_string(kv.mod_revision));
      kv.decoded = std::make_shared<const int64_t>(kv.mod_revision);
      return kv;
    };
  }
};

class WatchCacheTest : public ::testing::Test {
 protected:
  void open(size_t capacity = 100000) {
    auto backend = SqliteStore::open(dir_.file("db"));
    ASSERT_TRUE(backend.ok()) << backend.error().message;
    backend_ = std::move(backend).value();
    WatchCacheOptions options;
    options.capacity = capacity;
    options.bookmark_interval = std::chrono::milliseconds(0);
    options.decorate = decorations_.fn();
    auto cache = WatchCache::create(backend_, options);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    cache_ = std::move(cache).value();
  }
  void TearDown() override {
    cache_.reset();
    backend_.reset();
  }

  TempDir dir_;
  Decorations decorations_;
  std::shared_ptr<SqliteStore> backend_;
  std::unique_ptr<WatchCache> cache_;
};

TEST_F(WatchCacheTest, StartsFromBackendContentsAndServesDecoratedValuesWithoutCopies) {
  auto backend = SqliteStore::open(dir_.file("db"));
  ASSERT_TRUE(backend.ok());
  int64_t rev = (*backend)->create("/pre", "p")->mod_revision;
  backend.value().reset();
  open();
  EXPECT_EQ(cache_->currentRevision(), rev);
  auto got = cache_->get("/pre");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(str(got->value), "p@" + std::to_string(rev));
  ASSERT_TRUE(got->decoded);
  EXPECT_EQ(*std::static_pointer_cast<const int64_t>(got->decoded), rev);

  auto created = cache_->create("/a", "a");
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(str(created->value), "a@" + std::to_string(created->mod_revision));
  int calls = decorations_.calls.load();
  auto g1 = cache_->get("/a");
  auto g2 = cache_->get("/a");
  ListOptions options;
  auto listed = cache_->list(options);
  ASSERT_TRUE(g1.ok() && g2.ok() && listed.ok());
  EXPECT_EQ(g1->value.get(), g2->value.get()) << "the same shared bytes, not copies";
  EXPECT_EQ(g1->value.get(), created->value.get());
  EXPECT_EQ(listed->items[0].value.get(), g1->value.get());
  EXPECT_EQ(decorations_.calls.load(), calls) << "decorated once, on entry";
}

TEST_F(WatchCacheTest, WatchEventsAreDecoratedAndPrevValueIsTheCachedForm) {
  open();
  Recorder rec;
  auto handle = cache_->watch(WatchOptions{}, rec.sink());
  ASSERT_TRUE(handle.ok());
  auto v1 = cache_->create("/w", "one");
  auto v2 = cache_->update("/w", "two", v1->mod_revision);
  auto gone = cache_->remove("/w");
  ASSERT_TRUE(gone.ok());
  ASSERT_TRUE(rec.waitForEvents(3));
  auto events = rec.events();
  EXPECT_EQ(str(events[0].kv.value), str(v1->value));
  EXPECT_EQ(str(events[1].kv.value), str(v2->value));
  EXPECT_EQ(events[1].prev_value.get(), v1->value.get());
  EXPECT_EQ(events[2].type, EventType::kDeleted);
  EXPECT_EQ(str(events[2].kv.value), "two@" + std::to_string(gone->mod_revision));
}

TEST_F(WatchCacheTest, ReadsAtOtherRevisionsGoToTheBackendDecorated) {
  open();
  auto v1 = cache_->create("/r", "one");
  ASSERT_TRUE(cache_->update("/r", "two", 0).ok());
  auto old = cache_->get("/r", v1->mod_revision);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(str(old->value), "one@" + std::to_string(v1->mod_revision));
  ListOptions options;
  options.revision = v1->mod_revision;
  auto listed = cache_->list(options);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(str(listed->items[0].value), "one@" + std::to_string(v1->mod_revision));
  // Exactly the cache's revision is served from memory.
  options.revision = cache_->currentRevision();
  listed = cache_->list(options);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->revision, cache_->currentRevision());
}

TEST_F(WatchCacheTest, ResumeOlderThanRingFallsBackThenExpiresAfterCompaction) {
  open(/*capacity=*/3);
  ASSERT_TRUE(cache_->create("/seed", "s").ok());
  int64_t start = cache_->currentRevision();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(cache_->create("/k/" + std::to_string(i), "v").ok());
  EXPECT_GT(cache_->oldestCachedRevision(), start);

  Recorder rec;
  WatchOptions options;
  options.prefix = "/k/";
  options.after_revision = start;
  auto handle = cache_->watch(options, rec.sink());
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  ASSERT_TRUE(rec.waitForEvents(6));
  EXPECT_EQ(str(rec.events()[0].kv.value), "v@" + std::to_string(start + 1)) << "decorated";

  // From inside the ring: served from memory.
  Recorder recent;
  options.after_revision = cache_->currentRevision() - 2;
  auto handle2 = cache_->watch(options, recent.sink());
  ASSERT_TRUE(handle2.ok());
  ASSERT_TRUE(recent.waitForEvents(2));
  EXPECT_EQ(recent.size(), 2u);

  ASSERT_TRUE(cache_->compact(cache_->currentRevision() - 1).ok());
  Recorder expired;
  options.after_revision = start;
  auto handle3 = cache_->watch(options, expired.sink());
  ASSERT_FALSE(handle3.ok());
  EXPECT_EQ(handle3.error().code, ErrorCode::kExpired);
}

TEST_F(WatchCacheTest, BookmarksOnlyForWatchesThatAskForThem) {
  open();
  Recorder with;
  Recorder without;
  WatchOptions options;
  options.bookmarks = true;
  auto h1 = cache_->watch(options, with.sink());
  options.bookmarks = false;
  auto h2 = cache_->watch(options, without.sink());
  ASSERT_TRUE(h1.ok() && h2.ok());
  ASSERT_TRUE(cache_->create("/b", "v").ok());
  cache_->sendBookmarks();
  ASSERT_TRUE(with.waitForEvents(2));
  auto events = with.events();
  EXPECT_EQ(events[1].type, EventType::kBookmark);
  EXPECT_EQ(events[1].kv.mod_revision, cache_->currentRevision());
  EXPECT_EQ(without.size(), 1u);
}

TEST_F(WatchCacheTest, BookmarkTimerSendsToIdleWatches) {
  auto backend = SqliteStore::open(dir_.file("db"));
  ASSERT_TRUE(backend.ok());
  backend_ = std::move(backend).value();
  WatchCacheOptions options;
  options.bookmark_interval = std::chrono::milliseconds(20);
  auto cache = WatchCache::create(backend_, options);
  ASSERT_TRUE(cache.ok());
  cache_ = std::move(cache).value();
  Recorder rec;
  WatchOptions watch_options;
  watch_options.bookmarks = true;
  auto handle = cache_->watch(watch_options, rec.sink());
  ASSERT_TRUE(handle.ok());
  EXPECT_TRUE(rec.waitForType(EventType::kBookmark));
}

TEST_F(WatchCacheTest, DestroyingTheCacheClosesWatches) {
  open();
  Recorder rec;
  auto handle = cache_->watch(WatchOptions{}, rec.sink());
  ASSERT_TRUE(handle.ok());
  cache_.reset();
  ASSERT_TRUE(rec.closed().has_value());
  EXPECT_EQ(rec.closed()->code, ErrorCode::kUnavailable);
  handle.value().reset();
}

TEST_F(WatchCacheTest, ManyWatchersAndReadersUnderConcurrentWrites) {
  open();
  std::vector<std::unique_ptr<Recorder>> recorders;
  std::vector<std::unique_ptr<WatchHandle>> handles;
  for (int i = 0; i < 10; ++i) {
    recorders.push_back(std::make_unique<Recorder>());
    WatchOptions options;
    options.prefix = "/m/";
    auto h = cache_->watch(options, recorders.back()->sink());
    ASSERT_TRUE(h.ok());
    handles.push_back(std::move(h).value());
  }
  std::atomic<bool> done{false};
  std::atomic<int> read_errors{0};
  std::thread reader([&] {
    while (!done.load()) {
      ListOptions options;
      options.prefix = "/m/";
      options.limit = 5;
      if (!cache_->list(options).ok()) read_errors.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string key = "/m/" + std::to_string(t) + "/" + std::to_string(i);
        auto created = cache_->create(key, "v");
        if (!created.ok() || !cache_->get(key).ok()) read_errors.fetch_add(1);
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  EXPECT_EQ(read_errors.load(), 0);
  for (auto& rec : recorders) {
    ASSERT_TRUE(rec->waitForEvents(200));
    auto events = rec->events();
    for (size_t i = 1; i < events.size(); ++i) {
      ASSERT_LT(events[i - 1].kv.mod_revision, events[i].kv.mod_revision);
    }
    EXPECT_FALSE(rec->sawConcurrentCalls());
  }
}

}  // namespace
}  // namespace berth::storage
