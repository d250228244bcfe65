#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/store.h"

namespace berth::storage {

class WatchChannel;

namespace sqlite {
class Db;
}

struct SqliteStoreOptions {
  // Connections used by get/list/watch replay, so reads never wait behind the
  // writer's fsync.
  int read_connections = 4;
  // Most writes committed in one transaction (one group commit).
  size_t max_batch = 1024;
  int busy_timeout_ms = 5000;
};

// Counters for tests and metrics.
struct SqliteStoreStats {
  uint64_t commits = 0;      // write transactions committed (= fsyncs of the WAL)
  uint64_t writes = 0;       // successful writes (revisions assigned)
  uint64_t failed_ops = 0;   // ops rejected (precondition or error)
  uint64_t largest_batch = 0;
};

// The embedded datastore: a revisioned key/value store in one SQLite file.
//
// Layout follows kine (the etcd shim k3s uses): table `kv` holds one row per
// revision (key, created/deleted flags, create_revision, prev_revision,
// value), so a read at an older revision finds the newest row at or below it
// until compact() removes superseded rows. Table `meta` persists the current
// and compacted revisions, so revisions keep increasing across restarts even
// when the newest rows were tombstones that compaction removed.
//
// Writes go through one writer thread that takes every queued write, checks
// preconditions against an in-memory index (key -> mod/create revision),
// applies them in one transaction and commits once: a group commit, so N
// concurrent writers share one fsync (journal_mode=WAL, synchronous=FULL: an
// acknowledged write survives kill -9 and power loss). After the commit the
// writer delivers the watch events in revision order and only then wakes the
// callers, which gives read-your-writes to a watch cache in front.
//
// One process at a time: open() takes an exclusive lock on `path + ".lock"`.
class SqliteStore : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                   SqliteStoreOptions options = {});
  // Finishes queued writes, ends every watch with kUnavailable, closes the file.
  ~SqliteStore() override;

  Result<KeyValue> create(const std::string& key, std::string value) override;
  Result<KeyValue> get(const std::string& key, int64_t revision = 0) override;
  Result<ListResult> list(const ListOptions& options) override;
  Result<KeyValue> update(const std::string& key, std::string value,
                          int64_t expected_revision) override;
  Result<KeyValue> remove(const std::string& key, int64_t expected_revision = 0) override;
  Result<std::unique_ptr<WatchHandle>> watch(const WatchOptions& options, WatchSink sink) override;
  Status compact(int64_t revision) override;
  int64_t currentRevision() override { return current_revision_.load(); }
  int64_t compactedRevision() override { return compact_revision_.load(); }

  SqliteStoreStats stats() const;

 private:
  struct WriteOp;
  struct IndexEntry {
    int64_t mod_revision = 0;
    int64_t create_revision = 0;
  };
  struct Undo {
    std::string key;
    std::optional<IndexEntry> previous;
  };
  // Registry of watches; shared with the handles so a handle may outlive the store.
  struct Hub {
    std::mutex mu;
    std::vector<std::shared_ptr<WatchChannel>> channels;
    int64_t delivered_revision = 0;  // events up to here have been offered
    bool stopped = false;
  };
  class ReaderLease;

  SqliteStore(std::string path, SqliteStoreOptions options);
  Status init();
  Status loadState();

  Result<KeyValue> submit(WriteOp& op);
  void writerLoop();
  void processBatch(std::vector<WriteOp*>& batch);
  void commitWrites(std::vector<WriteOp*>& ops);
  Result<KeyValue> applyWrite(WriteOp& op, int64_t revision, std::vector<Undo>& undo,
                              std::vector<std::shared_ptr<const Event>>& events, bool* txn_lost);
  Status runCompaction(int64_t revision);
  void deliver(const std::vector<std::shared_ptr<const Event>>& events);
  void unregister(const WatchChannel* channel);

  Result<std::vector<std::shared_ptr<const Event>>> readReplay(const WatchOptions& options,
                                                              int64_t after, int64_t upto,
                                                              bool* retry);

  const std::string path_;
  const SqliteStoreOptions options_;
  int lock_fd_ = -1;

  std::unique_ptr<sqlite::Db> writer_db_;  // used only by the writer thread after open
  std::vector<std::unique_ptr<sqlite::Db>> readers_;
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<sqlite::Db*> free_readers_;

  // Writer-thread state.
  std::unordered_map<std::string, IndexEntry> index_;
  std::optional<Error> fatal_;  // set after an I/O error of unknown outcome; writes then fail

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<WriteOp*> queue_;
  bool stopping_ = false;
  std::thread writer_;
  std::thread::id writer_id_;

  std::atomic<int64_t> current_revision_{0};
  std::atomic<int64_t> compact_revision_{0};
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> failed_ops_{0};
  std::atomic<uint64_t> largest_batch_{0};

  std::shared_ptr<Hub> hub_ = std::make_shared<Hub>();
};

}  // namespace berth::storage
