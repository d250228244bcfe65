#include "storage/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "storage/store_test_util.h"

namespace berth::storage {
namespace {

using testing::Recorder;
using testing::str;
using testing::TempDir;

std::unique_ptr<SqliteStore> mustOpen(const std::string& path, SqliteStoreOptions options = {}) {
  auto opened = SqliteStore::open(path, options);
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  return opened.ok() ? std::move(opened).value() : nullptr;
}

TEST(SqliteStore, GroupCommitSharesOneCommitAmongConcurrentWriters) {
  TempDir dir;
  auto store = mustOpen(dir.file("db"));
  ASSERT_TRUE(store);
  constexpr int kThreads = 16;
  constexpr int kWrites = 100;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        std::string key = "/g/" + std::to_string(t) + "/" + std::to_string(i);
        if (!store->create(key, "v").ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto stats = store->stats();
  EXPECT_EQ(stats.writes, static_cast<uint64_t>(kThreads * kWrites));
  EXPECT_LT(stats.commits, stats.writes) << "concurrent writers should share commits";
  EXPECT_GT(stats.largest_batch, 1u);
  EXPECT_EQ(store->currentRevision(), kThreads * kWrites);
}

TEST(SqliteStore, FailedPreconditionFailsOnlyThatOp) {
  TempDir dir;
  auto store = mustOpen(dir.file("db"));
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->create("/dup", "v").ok());
  // Many concurrent creates of the same key plus unrelated keys: exactly one
  // of the duplicates can never win, all unrelated ones must.
  std::vector<std::thread> threads;
  std::atomic<int> dup_ok{0};
  std::atomic<int> other_failed{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        if (store->create("/dup", "again").ok()) dup_ok.fetch_add(1);
        if (!store->create("/o/" + std::to_string(t) + "/" + std::to_string(i), "v").ok()) {
          other_failed.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(dup_ok.load(), 0);
  EXPECT_EQ(other_failed.load(), 0);
  EXPECT_EQ(store->stats().failed_ops, 160u);
}

TEST(SqliteStore, ReopenKeepsDataHistoryIndexAndRevision) {
  TempDir dir;
  int64_t v1_rev = 0;
  int64_t last = 0;
  {
    auto store = mustOpen(dir.file("db"));
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->create("/seed", "s").ok());
    v1_rev = store->create("/a", "v1")->mod_revision;
    ASSERT_TRUE(store->update("/a", "v2", v1_rev).ok());
    ASSERT_TRUE(store->create("/b", "b").ok());
    last = store->currentRevision();
  }
  auto store = mustOpen(dir.file("db"));
  ASSERT_TRUE(store);
  EXPECT_EQ(store->currentRevision(), last);
  EXPECT_EQ(str(store->get("/a")->value), "v2");
  EXPECT_EQ(str(store->get("/a", v1_rev)->value), "v1");
  // The precondition index was rebuilt from the history.
  EXPECT_EQ(store->create("/b", "x").error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(store->update("/a", "v3", v1_rev).error().code, ErrorCode::kConflict);
  EXPECT_TRUE(store->update("/a", "v3", store->get("/a")->mod_revision).ok());

  // A watch from before the restart replays the history.
  Recorder rec;
  WatchOptions options;
  options.after_revision = v1_rev - 1;
  auto handle = store->watch(options, rec.sink());
  ASSERT_TRUE(handle.ok());
  ASSERT_TRUE(rec.waitForEvents(4));
  EXPECT_EQ(rec.events()[1].type, EventType::kModified);
}

TEST(SqliteStore, SecondOpenOfTheSameFileIsRefused) {
  TempDir dir;
  auto first = mustOpen(dir.file("db"));
  ASSERT_TRUE(first);
  auto second = SqliteStore::open(dir.file("db"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  first.reset();
  EXPECT_TRUE(SqliteStore::open(dir.file("db")).ok());
}

TEST(SqliteStore, CorruptFilesFailToOpenWithoutCrashing) {
  TempDir dir;
  {
    std::ofstream out(dir.file("garbage"), std::ios::binary);
    for (int i = 0; i < 8192; ++i) out.put(static_cast<char>(i * 7919));
  }
  auto garbage = SqliteStore::open(dir.file("garbage"));
  EXPECT_FALSE(garbage.ok());

  {
    std::ofstream out(dir.file("header"), std::ios::binary);
    out << std::string("SQLite format 3\0", 16) << std::string(4080, '\x5a');
  }
  EXPECT_FALSE(SqliteStore::open(dir.file("header")).ok());
  EXPECT_FALSE(SqliteStore::open("").ok());
  EXPECT_FALSE(SqliteStore::open(":memory:").ok());
  EXPECT_FALSE(SqliteStore::open(dir.file("no/such/dir/db")).ok());
}

TEST(SqliteStore, TruncatedDatabaseFailsCleanly) {
  TempDir dir;
  std::string path = dir.file("db");
  {
    auto store = mustOpen(path);
    ASSERT_TRUE(store);
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE(store->create("/t/" + std::to_string(i), std::string(2000, 'x')).ok());
    }
  }
  ::truncate(path.c_str(), 40960);
  auto reopened = SqliteStore::open(path);
  if (reopened.ok()) {
    // Whatever opens must answer with errors, not crash.
    auto& store = *reopened.value();
    for (int i = 0; i < 300; ++i) (void)store.get("/t/" + std::to_string(i));
    (void)store.list(ListOptions{});
    (void)store.create("/t/new", "v");
    (void)store.update("/t/299", "v", 0);
  }
  SUCCEED();
}

TEST(SqliteStore, WriteFromWatchSinkFailsInsteadOfDeadlocking) {
  TempDir dir;
  auto store = mustOpen(dir.file("db"));
  ASSERT_TRUE(store);
  std::optional<ErrorCode> code;
  WatchSink sink;
  sink.on_event = [&](const Event& e) {
    if (e.kv.key != "/trigger") return;
    auto r = store->create("/from-sink", "x");
    code = r.ok() ? std::optional<ErrorCode>() : r.error().code;
  };
  auto handle = store->watch(WatchOptions{}, sink);
  ASSERT_TRUE(handle.ok());
  ASSERT_TRUE(store->create("/trigger", "x").ok());
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, ErrorCode::kInternal);
}

TEST(SqliteStore, ShutdownClosesWatchesAndHandlesOutliveTheStore) {
  TempDir dir;
  auto store = mustOpen(dir.file("db"));
  ASSERT_TRUE(store);
  Recorder rec;
  auto handle = store->watch(WatchOptions{}, rec.sink());
  ASSERT_TRUE(handle.ok());
  store.reset();
  ASSERT_TRUE(rec.closed().has_value());
  EXPECT_EQ(rec.closed()->code, ErrorCode::kUnavailable);
  handle.value().reset();  // after the store is gone: must be safe
}

TEST(SqliteStore, CompactionKeepsStateAtCompactedRevision) {
  TempDir dir;
  auto store = mustOpen(dir.file("db"));
  ASSERT_TRUE(store);
  for (int i = 0; i < 50; ++i) {
    if (i == 0) {
      ASSERT_TRUE(store->create("/hot", "0").ok());
    } else {
      ASSERT_TRUE(store->update("/hot", std::to_string(i), 0).ok());
    }
    ASSERT_TRUE(store->create("/tmp/" + std::to_string(i), "t").ok());
    ASSERT_TRUE(store->remove("/tmp/" + std::to_string(i)).ok());
  }
  int64_t middle = store->currentRevision();
  ASSERT_TRUE(store->update("/hot", "last", 0).ok());
  ASSERT_TRUE(store->compact(middle).ok());
  ASSERT_TRUE(store->compact(middle - 10).ok()) << "compacting backwards is a no-op";
  EXPECT_EQ(store->compactedRevision(), middle);
  EXPECT_EQ(str(store->get("/hot", middle)->value), "49");
  EXPECT_EQ(str(store->get("/hot")->value), "last");
  ListOptions options;
  options.revision = middle;
  auto listed = store->list(options);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  // Compacting everything twice more leaves the current state intact.
  ASSERT_TRUE(store->compact(store->currentRevision()).ok());
  EXPECT_EQ(str(store->get("/hot")->value), "last");
  EXPECT_TRUE(store->update("/hot", "after", 0).ok());
}

TEST(SqliteStore, LargeValuesRoundTrip) {
  TempDir dir;
  auto store = mustOpen(dir.file("db"));
  ASSERT_TRUE(store);
  std::string big(3 << 20, 'b');
  big[12345] = '\0';
  ASSERT_TRUE(store->create("/big", big).ok());
  EXPECT_EQ(*store->get("/big")->value, big);
}

// The durability contract: every write acknowledged to a caller survives the
// process being killed with SIGKILL at an arbitrary moment.
TEST(SqliteStoreDurability, AcknowledgedWritesSurviveKill9) {
  TempDir dir;
  std::string path = dir.file("db");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto opened = SqliteStore::open(path);
    if (!opened.ok()) ::_exit(2);
    auto store = std::move(opened).value();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0;; ++i) {
          std::string key = "/k/" + std::to_string(t) + "/" + std::to_string(i);
          if (!store->create(key, "value-" + key).ok()) ::_exit(3);
          // Only after the acknowledgement: one short line, atomic in a pipe.
          std::string line = key + "\n";
          if (::write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
            ::_exit(4);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    ::_exit(0);
  }
  ::close(fds[1]);
  std::vector<std::string> acked;
  std::string buffer;
  char chunk[4096];
  bool killed = false;
  for (;;) {
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t pos;
    while ((pos = buffer.find('\n')) != std::string::npos) {
      acked.push_back(buffer.substr(0, pos));
      buffer.erase(0, pos + 1);
    }
    if (!killed && acked.size() >= 400) {
      ::kill(pid, SIGKILL);  // mid-stream; keep reading what was acknowledged before
      killed = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(killed) << "child exited early, status " << status;
  ASSERT_TRUE(WIFSIGNALED(status));

  auto store = mustOpen(path);
  ASSERT_TRUE(store);
  for (const auto& key : acked) {
    auto got = store->get(key);
    ASSERT_TRUE(got.ok()) << "acknowledged write lost: " << key;
    EXPECT_EQ(*got->value, "value-" + key);
  }
  // Revisions continue above everything recovered.
  auto next = store->create("/after-crash", "v");
  ASSERT_TRUE(next.ok());
  EXPECT_GT(next->mod_revision, static_cast<int64_t>(acked.size()));
}

}  // namespace
}  // namespace berth::storage
