#include "storage/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <limits>

#include "common/log.h"
#include "storage/sqlite/sqlite_db.h"
#include "storage/watch_channel.h"

namespace berth::storage {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::StmtScope;

namespace {

constexpr int64_t kSchemaVersion = 1;

// kine's layout: one row per revision. `created` marks the first row of a
// key's life (an ADDED event), `deleted` a tombstone (whose value is NULL; the
// last value is the prev_revision row's). prev_revision is the key's previous
// live row (0 for a create), which compaction and event replay follow.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv (
  id INTEGER PRIMARY KEY,
  name BLOB NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  value BLOB
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id, deleted);
CREATE TABLE IF NOT EXISTS meta (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  schema_version INTEGER NOT NULL,
  current_revision INTEGER NOT NULL,
  compact_revision INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (id, schema_version, current_revision, compact_revision)
  VALUES (0, 1, 0, 0);
)sql";

constexpr const char* kInsertRow =
    "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kSelectValueById = "SELECT value FROM kv WHERE id = ?1";
constexpr const char* kUpdateCurrent = "UPDATE meta SET current_revision = ?1 WHERE id = 0";
constexpr const char* kSelectMeta =
    "SELECT current_revision, compact_revision, schema_version FROM meta WHERE id = 0";
constexpr const char* kGetAt =
    "SELECT id, create_revision, deleted, value FROM kv WHERE name = ?1 AND id <= ?2 "
    "ORDER BY id DESC LIMIT 1";
// The newest live row per key at or below a revision, walked in index order
// (no sort, no materialization), so a list streams and a limit stops early.
constexpr const char* kListBounded =
    "SELECT k.name, k.id, k.create_revision, k.value FROM kv AS k WHERE k.name >= ?1 "
    "AND k.name < ?2 AND k.id <= ?3 AND k.deleted = 0 AND NOT EXISTS (SELECT 1 FROM kv AS n "
    "WHERE n.name = k.name AND n.id > k.id AND n.id <= ?3) ORDER BY k.name LIMIT ?4";
constexpr const char* kListOpen =
    "SELECT k.name, k.id, k.create_revision, k.value FROM kv AS k WHERE k.name >= ?1 "
    "AND k.id <= ?3 AND k.deleted = 0 AND NOT EXISTS (SELECT 1 FROM kv AS n "
    "WHERE n.name = k.name AND n.id > k.id AND n.id <= ?3) ORDER BY k.name LIMIT ?4";
// Counting only touches the covering index. SQLite takes the bare column
// (`deleted`) from the row that holds the MAX().
constexpr const char* kCountBounded =
    "SELECT COUNT(*) FROM (SELECT MAX(id), deleted FROM kv WHERE name >= ?1 AND name < ?2 "
    "AND id <= ?3 GROUP BY name HAVING deleted = 0)";
constexpr const char* kCountOpen =
    "SELECT COUNT(*) FROM (SELECT MAX(id), deleted FROM kv WHERE name >= ?1 "
    "AND id <= ?3 GROUP BY name HAVING deleted = 0)";
constexpr const char* kReplay =
    "SELECT k.id, k.name, k.created, k.deleted, k.create_revision, k.value, p.value "
    "FROM kv AS k LEFT JOIN kv AS p ON p.id = k.prev_revision "
    "WHERE k.id > ?1 AND k.id <= ?2 ORDER BY k.id";
// Compaction to R (from the previous compaction C): a row is superseded when a
// later row at or below R names it as prev_revision; rows at or below C were
// handled by the previous compaction, so only rows in (C, R] need looking at.
// Tombstones in (C, R] go too. What stays is exactly the state at R.
constexpr const char* kCompactSuperseded =
    "DELETE FROM kv WHERE id IN (SELECT prev_revision FROM kv WHERE id > ?1 AND id <= ?2 "
    "AND prev_revision > 0)";
constexpr const char* kCompactTombstones =
    "DELETE FROM kv WHERE id > ?1 AND id <= ?2 AND deleted = 1";
constexpr const char* kUpdateCompact = "UPDATE meta SET compact_revision = ?1 WHERE id = 0";

Error expiredError(int64_t revision, int64_t compacted) {
  return makeError(ErrorCode::kExpired, "required revision " + std::to_string(revision) +
                                            " has been compacted (compacted revision " +
                                            std::to_string(compacted) + ")");
}

Error tooLargeError(int64_t revision, int64_t current) {
  return makeError(ErrorCode::kTimeout, "too large resource version: " +
                                            std::to_string(revision) + ", current: " +
                                            std::to_string(current));
}

Status checkKey(const std::string& key) {
  if (key.empty()) return makeError(ErrorCode::kBadRequest, "storage key must not be empty");
  return okStatus();
}

// Runs a cached statement that returns no rows.
Status run(Db& db, const char* sql) {
  BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare(sql));
  StmtScope scope(stmt);
  int rc = scope->step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db.error(rc, sql);
  return okStatus();
}

struct Meta {
  int64_t current = 0;
  int64_t compacted = 0;
  int64_t schema = 0;
};

Result<Meta> readMeta(Db& db) {
  BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare(kSelectMeta));
  StmtScope scope(stmt);
  int rc = scope->step();
  if (rc == SQLITE_DONE) return makeError(ErrorCode::kInternal, "sqlite store: meta row missing");
  if (rc != SQLITE_ROW) return db.error(rc, "read meta");
  return Meta{scope->columnInt(0), scope->columnInt(1), scope->columnInt(2)};
}

// A read transaction on a reader connection: one consistent WAL snapshot for
// the meta row and the query, ended when leaving scope.
class ReadTxn {
 public:
  explicit ReadTxn(Db& db) : db_(db) {}
  ~ReadTxn() {
    if (db_.inTransaction()) (void)run(db_, "ROLLBACK");
  }
  Result<Meta> begin() {
    BERTH_RETURN_IF_ERROR(run(db_, "BEGIN"));
    return readMeta(db_);
  }

 private:
  Db& db_;
};

struct ListQuery {
  std::string lower;
  std::string upper;  // empty: no upper bound
};

ListQuery listBounds(const ListOptions& options) {
  ListQuery q;
  q.lower = options.prefix;
  if (!options.start_after.empty() && options.start_after >= options.prefix) {
    // The smallest key strictly greater than start_after.
    q.lower = options.start_after;
    q.lower.push_back('\0');
  }
  q.upper = prefixEnd(options.prefix);
  return q;
}

// Lists at `revision` inside an open read transaction.
Result<ListResult> listIn(Db& db, const ListOptions& options, int64_t revision) {
  ListQuery q = listBounds(options);
  bool bounded = !q.upper.empty();
  ListResult out;
  out.revision = revision;
  {
    BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare(bounded ? kListBounded : kListOpen));
    StmtScope scope(stmt);
    scope->bindBlob(1, q.lower);
    if (bounded) scope->bindBlob(2, q.upper);
    scope->bindInt(3, revision);
    scope->bindInt(4, options.limit > 0 ? options.limit + 1 : -1);
    for (;;) {
      int rc = scope->step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return db.error(rc, "list");
      if (options.limit > 0 && static_cast<int64_t>(out.items.size()) == options.limit) {
        out.more = true;
        break;
      }
      KeyValue kv;
      kv.key = scope->columnString(0);
      kv.mod_revision = scope->columnInt(1);
      kv.create_revision = scope->columnInt(2);
      kv.value = makeBytes(scope->columnString(3));
      out.items.push_back(std::move(kv));
    }
  }
  if (out.more) {
    BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare(bounded ? kCountBounded : kCountOpen));
    StmtScope scope(stmt);
    scope->bindBlob(1, q.lower);
    if (bounded) scope->bindBlob(2, q.upper);
    scope->bindInt(3, revision);
    int rc = scope->step();
    if (rc != SQLITE_ROW) return db.error(rc, "count");
    out.remaining = std::max<int64_t>(0, scope->columnInt(0) - static_cast<int64_t>(out.items.size()));
  }
  return out;
}

}  // namespace

struct SqliteStore::WriteOp {
  enum class Kind { kCreate, kUpdate, kRemove, kCompact };
  Kind kind = Kind::kCreate;
  std::string key;
  std::string value;
  int64_t revision = 0;  // expected mod_revision, or the compaction target
  std::promise<Result<KeyValue>> done;
};

// Borrows a reader connection from the pool for one read.
class SqliteStore::ReaderLease {
 public:
  explicit ReaderLease(SqliteStore& store) : store_(store) {
    std::unique_lock lock(store_.readers_mu_);
    store_.readers_cv_.wait(lock, [&] { return !store_.free_readers_.empty(); });
    db_ = store_.free_readers_.back();
    store_.free_readers_.pop_back();
  }
  ~ReaderLease() {
    {
      std::lock_guard lock(store_.readers_mu_);
      store_.free_readers_.push_back(db_);
    }
    store_.readers_cv_.notify_one();
  }
  Db& db() { return *db_; }

 private:
  SqliteStore& store_;
  Db* db_ = nullptr;
};

SqliteStore::SqliteStore(std::string path, SqliteStoreOptions options)
    : path_(std::move(path)), options_(options) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       SqliteStoreOptions options) {
  if (path.empty() || path[0] == ':' || path.rfind("file:", 0) == 0) {
    return makeError(ErrorCode::kInvalid, "sqlite store needs a file path, got '" + path + "'");
  }
  options.read_connections = std::clamp(options.read_connections, 1, 64);
  options.max_batch = std::clamp<size_t>(options.max_batch, 1, 100000);
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, options));
  BERTH_RETURN_IF_ERROR(store->init());
  return store;
}

Status SqliteStore::init() {
  // Two processes appending revisions to one file would each trust their own
  // in-memory index and corrupt the history; refuse the second one.
  std::string lock_path = path_ + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    return makeError(ErrorCode::kUnavailable, "open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return makeError(ErrorCode::kUnavailable,
                     "database " + path_ + " is in use by another process");
  }

  BERTH_ASSIGN_OR_RETURN(writer_db_, Db::open(path_, /*read_only=*/false));
  Db& db = *writer_db_;
  BERTH_RETURN_IF_ERROR(db.exec("PRAGMA busy_timeout=" + std::to_string(options_.busy_timeout_ms)));
  {
    BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare("PRAGMA journal_mode=WAL"));
    StmtScope scope(stmt);
    int rc = scope->step();
    if (rc != SQLITE_ROW) return db.error(rc, "set journal_mode");
    if (scope->columnString(0) != "wal") {
      return makeError(ErrorCode::kInternal, "sqlite store: cannot enable WAL on " + path_);
    }
  }
  // FULL: the WAL is fsynced at every commit, so an acknowledged write is on
  // disk. NORMAL would only protect against application crashes.
  BERTH_RETURN_IF_ERROR(db.exec("PRAGMA synchronous=FULL"));
  BERTH_RETURN_IF_ERROR(db.exec("PRAGMA cache_size=-16384"));
  BERTH_RETURN_IF_ERROR(db.exec(std::string("BEGIN IMMEDIATE;") + kSchema + "COMMIT;"));
  BERTH_RETURN_IF_ERROR(loadState());

  for (int i = 0; i < options_.read_connections; ++i) {
    BERTH_ASSIGN_OR_RETURN(auto reader, Db::open(path_, /*read_only=*/true));
    BERTH_RETURN_IF_ERROR(
        reader->exec("PRAGMA busy_timeout=" + std::to_string(options_.busy_timeout_ms)));
    BERTH_RETURN_IF_ERROR(reader->exec("PRAGMA cache_size=-16384"));
    free_readers_.push_back(reader.get());
    readers_.push_back(std::move(reader));
  }

  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "store-writer");
    writerLoop();
  });
  writer_id_ = writer_.get_id();
  BERTH_LOG(kInfo, "storage") << "sqlite store open path=" << path_
                              << " revision=" << current_revision_.load()
                              << " compacted=" << compact_revision_.load()
                              << " keys=" << index_.size();
  return okStatus();
}

Status SqliteStore::loadState() {
  Db& db = *writer_db_;
  BERTH_ASSIGN_OR_RETURN(Meta meta, readMeta(db));
  if (meta.schema != kSchemaVersion) {
    return makeError(ErrorCode::kInternal,
                     "sqlite store: unsupported schema version " + std::to_string(meta.schema));
  }
  int64_t max_id = 0;
  {
    BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare("SELECT COALESCE(MAX(id), 0) FROM kv"));
    StmtScope scope(stmt);
    int rc = scope->step();
    if (rc != SQLITE_ROW) return db.error(rc, "read max revision");
    max_id = scope->columnInt(0);
  }
  // Never hand out a revision twice, even if the meta row lags the rows.
  int64_t current = std::max(meta.current, max_id);
  if (meta.compacted < 0 || meta.compacted > current) {
    return makeError(ErrorCode::kInternal, "sqlite store: corrupt compacted revision");
  }
  {
    BERTH_ASSIGN_OR_RETURN(
        Stmt * stmt,
        db.prepare("SELECT name, MAX(id), create_revision, deleted FROM kv GROUP BY name"));
    StmtScope scope(stmt);
    for (;;) {
      int rc = scope->step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return db.error(rc, "load index");
      if (scope->columnInt(3) != 0) continue;
      index_[scope->columnString(0)] = IndexEntry{scope->columnInt(1), scope->columnInt(2)};
    }
  }
  current_revision_ = current;
  compact_revision_ = meta.compacted;
  hub_->delivered_revision = current;
  return okStatus();
}

SqliteStore::~SqliteStore() {
  if (writer_.joinable()) {
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    writer_.join();
  }
  std::vector<std::shared_ptr<WatchChannel>> channels;
  {
    std::lock_guard lock(hub_->mu);
    hub_->stopped = true;
    channels.swap(hub_->channels);
  }
  for (auto& channel : channels) {
    channel->close(makeError(ErrorCode::kUnavailable, "storage is shutting down"));
  }
  readers_.clear();
  writer_db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

SqliteStoreStats SqliteStore::stats() const {
  SqliteStoreStats s;
  s.commits = commits_.load();
  s.writes = writes_.load();
  s.failed_ops = failed_ops_.load();
  s.largest_batch = largest_batch_.load();
  return s;
}

// ---- writes ----------------------------------------------------------------

Result<KeyValue> SqliteStore::create(const std::string& key, std::string value) {
  BERTH_RETURN_IF_ERROR(checkKey(key));
  WriteOp op;
  op.kind = WriteOp::Kind::kCreate;
  op.key = key;
  op.value = std::move(value);
  return submit(op);
}

Result<KeyValue> SqliteStore::update(const std::string& key, std::string value,
                                     int64_t expected_revision) {
  BERTH_RETURN_IF_ERROR(checkKey(key));
  WriteOp op;
  op.kind = WriteOp::Kind::kUpdate;
  op.key = key;
  op.value = std::move(value);
  op.revision = expected_revision;
  return submit(op);
}

Result<KeyValue> SqliteStore::remove(const std::string& key, int64_t expected_revision) {
  BERTH_RETURN_IF_ERROR(checkKey(key));
  WriteOp op;
  op.kind = WriteOp::Kind::kRemove;
  op.key = key;
  op.revision = expected_revision;
  return submit(op);
}

Status SqliteStore::compact(int64_t revision) {
  WriteOp op;
  op.kind = WriteOp::Kind::kCompact;
  op.revision = revision;
  auto result = submit(op);
  if (!result.ok()) return std::move(result).error();
  return okStatus();
}

Result<KeyValue> SqliteStore::submit(WriteOp& op) {
  // The writer thread delivers watch events; a sink that wrote back would wait
  // for itself forever.
  if (std::this_thread::get_id() == writer_id_) {
    return makeError(ErrorCode::kInternal, "storage write from inside a watch sink");
  }
  auto future = op.done.get_future();
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return makeError(ErrorCode::kUnavailable, "storage is shutting down");
    queue_.push_back(&op);
  }
  queue_cv_.notify_one();
  return future.get();
}

void SqliteStore::writerLoop() {
  std::vector<WriteOp*> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      // On stop, queued writes are still committed: their callers are waiting.
      if (queue_.empty()) return;
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    processBatch(batch);
  }
}

void SqliteStore::processBatch(std::vector<WriteOp*>& batch) {
  std::vector<WriteOp*> writes;
  for (WriteOp* op : batch) {
    if (op->kind != WriteOp::Kind::kCompact) {
      writes.push_back(op);
      continue;
    }
    if (!writes.empty()) commitWrites(writes);
    writes.clear();
    Status st = runCompaction(op->revision);
    if (st.ok()) {
      op->done.set_value(KeyValue{});
    } else {
      op->done.set_value(std::move(st).error());
    }
  }
  if (!writes.empty()) commitWrites(writes);
}

void SqliteStore::commitWrites(std::vector<WriteOp*>& ops) {
  Db& db = *writer_db_;
  std::vector<Result<KeyValue>> results;
  results.reserve(ops.size());
  std::vector<std::shared_ptr<const Event>> events;
  std::vector<Undo> undo;
  int64_t start = current_revision_.load();
  int64_t revision = start;

  std::optional<Error> batch_error = fatal_;
  if (!batch_error) {
    Status begun = run(db, "BEGIN IMMEDIATE");
    if (!begun.ok()) batch_error = begun.error();
  }
  if (!batch_error) {
    for (WriteOp* op : ops) {
      bool txn_lost = false;
      auto result = applyWrite(*op, revision + 1, undo, events, &txn_lost);
      if (txn_lost) {
        batch_error = result.ok() ? makeError(ErrorCode::kInternal, "transaction lost")
                                  : result.error();
        break;
      }
      if (result.ok()) ++revision;
      results.push_back(std::move(result));
    }
  }
  if (!batch_error && revision != start) {
    Status st = [&]() -> Status {
      BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare(kUpdateCurrent));
      StmtScope scope(stmt);
      scope->bindInt(1, revision);
      int rc = scope->step();
      if (rc != SQLITE_DONE) return db.error(rc, "update meta");
      return okStatus();
    }();
    if (!st.ok()) batch_error = st.error();
  }
  if (!batch_error) {
    if (revision == start) {
      (void)run(db, "ROLLBACK");  // nothing written: no commit, no fsync
    } else {
      Status st = run(db, "COMMIT");
      if (!st.ok()) {
        batch_error = st.error();
        // After an I/O error during COMMIT the outcome on disk is unknown, so
        // the in-memory index can no longer be trusted to match it.
        if (st.error().code == ErrorCode::kUnavailable &&
            (sqlite3_errcode(db.raw()) & 0xff) == SQLITE_IOERR) {
          fatal_ = makeError(ErrorCode::kUnavailable,
                             "storage failed to commit and needs a restart: " + st.error().message);
          BERTH_LOG(kError, "storage") << "sqlite commit failed error=" << st.error().message;
        }
      } else {
        commits_.fetch_add(1);
      }
    }
  }

  if (batch_error) {
    if (db.inTransaction()) (void)run(db, "ROLLBACK");
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
      if (it->previous) {
        index_[it->key] = *it->previous;
      } else {
        index_.erase(it->key);
      }
    }
    events.clear();
    failed_ops_.fetch_add(ops.size());
    for (WriteOp* op : ops) op->done.set_value(*batch_error);
    return;
  }

  current_revision_ = revision;
  uint64_t written = static_cast<uint64_t>(revision - start);
  writes_.fetch_add(written);
  failed_ops_.fetch_add(ops.size() - written);
  uint64_t largest = largest_batch_.load();
  while (written > largest && !largest_batch_.compare_exchange_weak(largest, written)) {
  }
  // Events first, then acknowledgements: when a caller's write returns, every
  // watch (and so a watch cache) has already seen it.
  if (!events.empty()) deliver(events);
  // Woken last to first: the first op of a batch most likely won a contended
  // key, and waking it first would let it re-read and queue ahead of the
  // losers every round (starving them in read-modify-write loops).
  for (size_t i = ops.size(); i-- > 0;) ops[i]->done.set_value(std::move(results[i]));
}

Result<KeyValue> SqliteStore::applyWrite(WriteOp& op, int64_t revision, std::vector<Undo>& undo,
                                         std::vector<std::shared_ptr<const Event>>& events,
                                         bool* txn_lost) {
  Db& db = *writer_db_;
  auto it = index_.find(op.key);
  const bool exists = it != index_.end();
  IndexEntry current = exists ? it->second : IndexEntry{};
  switch (op.kind) {
    case WriteOp::Kind::kCreate:
      if (exists) return makeError(ErrorCode::kAlreadyExists, "key already exists: " + op.key);
      break;
    case WriteOp::Kind::kUpdate:
    case WriteOp::Kind::kRemove:
      if (!exists) return makeError(ErrorCode::kNotFound, "key not found: " + op.key);
      if (op.revision != 0 && op.revision != current.mod_revision) {
        return makeError(ErrorCode::kConflict,
                         "revision mismatch for " + op.key + ": expected " +
                             std::to_string(op.revision) + ", current " +
                             std::to_string(current.mod_revision));
      }
      break;
    case WriteOp::Kind::kCompact:
      return makeError(ErrorCode::kInternal, "compaction in a write batch");
  }

  // The previous value is needed for a MODIFIED event's prev_value and for
  // the state a delete returns and reports.
  Bytes prev_value;
  if (exists) {
    BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare(kSelectValueById));
    StmtScope scope(stmt);
    scope->bindInt(1, current.mod_revision);
    int rc = scope->step();
    if (rc != SQLITE_ROW) {
      *txn_lost = !db.inTransaction();
      if (rc == SQLITE_DONE) {
        return makeError(ErrorCode::kInternal, "storage history is missing row " +
                                                   std::to_string(current.mod_revision) +
                                                   " of " + op.key);
      }
      return db.error(rc, "read previous value");
    }
    prev_value = makeBytes(scope->columnString(0));
  }

  const bool is_create = op.kind == WriteOp::Kind::kCreate;
  const bool is_delete = op.kind == WriteOp::Kind::kRemove;
  int64_t create_revision = is_create ? revision : current.create_revision;
  {
    BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare(kInsertRow));
    StmtScope scope(stmt);
    scope->bindInt(1, revision);
    scope->bindBlob(2, op.key);
    scope->bindInt(3, is_create ? 1 : 0);
    scope->bindInt(4, is_delete ? 1 : 0);
    scope->bindInt(5, create_revision);
    scope->bindInt(6, is_create ? 0 : current.mod_revision);
    if (is_delete) {
      scope->bindNull(7);
    } else {
      scope->bindBlob(7, op.value);
    }
    int rc = scope->step();
    if (rc != SQLITE_DONE) {
      *txn_lost = !db.inTransaction();
      return db.error(rc, "insert revision");
    }
  }

  undo.push_back(Undo{op.key, exists ? std::optional<IndexEntry>(current) : std::nullopt});
  auto event = std::make_shared<Event>();
  event->kv.key = op.key;
  event->kv.create_revision = create_revision;
  event->kv.mod_revision = revision;
  if (is_delete) {
    index_.erase(op.key);
    event->type = EventType::kDeleted;
    event->kv.value = prev_value;
  } else {
    index_[op.key] = IndexEntry{revision, create_revision};
    event->type = is_create ? EventType::kAdded : EventType::kModified;
    event->kv.value = makeBytes(std::move(op.value));
    if (!is_create) event->prev_value = prev_value;
  }
  KeyValue result = event->kv;
  events.push_back(std::move(event));
  return result;
}

Status SqliteStore::runCompaction(int64_t revision) {
  int64_t compacted = compact_revision_.load();
  if (revision <= compacted) return okStatus();  // already done (etcd: ErrCompacted, ignored)
  if (revision > current_revision_.load()) {
    return makeError(ErrorCode::kInvalid, "cannot compact to a future revision " +
                                              std::to_string(revision));
  }
  if (fatal_) return *fatal_;
  Db& db = *writer_db_;
  Status st = [&]() -> Status {
    BERTH_RETURN_IF_ERROR(run(db, "BEGIN IMMEDIATE"));
    for (const char* sql : {kCompactSuperseded, kCompactTombstones}) {
      BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare(sql));
      StmtScope scope(stmt);
      scope->bindInt(1, compacted);
      scope->bindInt(2, revision);
      int rc = scope->step();
      if (rc != SQLITE_DONE) return db.error(rc, "compact");
    }
    {
      BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare(kUpdateCompact));
      StmtScope scope(stmt);
      scope->bindInt(1, revision);
      int rc = scope->step();
      if (rc != SQLITE_DONE) return db.error(rc, "update compact revision");
    }
    return run(db, "COMMIT");
  }();
  if (!st.ok()) {
    if (db.inTransaction()) (void)run(db, "ROLLBACK");
    return st;
  }
  commits_.fetch_add(1);
  compact_revision_ = revision;
  return okStatus();
}

// ---- reads -----------------------------------------------------------------

Result<KeyValue> SqliteStore::get(const std::string& key, int64_t revision) {
  if (revision < 0) return makeError(ErrorCode::kBadRequest, "negative revision");
  ReaderLease lease(*this);
  Db& db = lease.db();
  ReadTxn txn(db);
  int64_t at = std::numeric_limits<int64_t>::max();
  if (revision != 0) {
    BERTH_ASSIGN_OR_RETURN(Meta meta, txn.begin());
    if (revision < meta.compacted) return expiredError(revision, meta.compacted);
    if (revision > meta.current) return tooLargeError(revision, meta.current);
    at = revision;
  }
  BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare(kGetAt));
  StmtScope scope(stmt);
  scope->bindBlob(1, key);
  scope->bindInt(2, at);
  int rc = scope->step();
  if (rc == SQLITE_DONE || (rc == SQLITE_ROW && scope->columnInt(2) != 0)) {
    return makeError(ErrorCode::kNotFound, "key not found: " + key);
  }
  if (rc != SQLITE_ROW) return db.error(rc, "get");
  KeyValue kv;
  kv.key = key;
  kv.mod_revision = scope->columnInt(0);
  kv.create_revision = scope->columnInt(1);
  kv.value = makeBytes(scope->columnString(3));
  return kv;
}

Result<ListResult> SqliteStore::list(const ListOptions& options) {
  if (options.revision < 0 || options.limit < 0) {
    return makeError(ErrorCode::kBadRequest, "negative revision or limit");
  }
  ReaderLease lease(*this);
  ReadTxn txn(lease.db());
  BERTH_ASSIGN_OR_RETURN(Meta meta, txn.begin());
  int64_t at = meta.current;
  if (options.revision != 0) {
    if (options.revision < meta.compacted) return expiredError(options.revision, meta.compacted);
    if (options.revision > meta.current) return tooLargeError(options.revision, meta.current);
    at = options.revision;
  }
  return listIn(lease.db(), options, at);
}

// ---- watch -----------------------------------------------------------------

Result<std::vector<std::shared_ptr<const Event>>> SqliteStore::readReplay(
    const WatchOptions& options, int64_t after, int64_t upto, bool* retry) {
  std::vector<std::shared_ptr<const Event>> events;
  ReaderLease lease(*this);
  Db& db = lease.db();
  ReadTxn txn(db);
  BERTH_ASSIGN_OR_RETURN(Meta meta, txn.begin());
  auto wanted = [&](std::string_view key) {
    return options.recursive ? hasPrefix(key, options.prefix) : key == options.prefix;
  };
  if (options.initial_state) {
    // The snapshot at `upto` is gone only if a compaction ran after we read
    // `upto`; register again at the newer revision.
    if (upto < meta.compacted) {
      *retry = true;
      return events;
    }
    ListOptions list_options;
    list_options.prefix = options.prefix;
    BERTH_ASSIGN_OR_RETURN(ListResult listed, listIn(db, list_options, upto));
    for (auto& kv : listed.items) {
      if (!wanted(kv.key)) continue;
      auto event = std::make_shared<Event>();
      event->type = EventType::kAdded;
      event->kv = std::move(kv);
      events.push_back(std::move(event));
    }
    return events;
  }
  if (after < meta.compacted) return expiredError(after, meta.compacted);
  if (after >= upto) return events;
  BERTH_ASSIGN_OR_RETURN(Stmt * stmt, db.prepare(kReplay));
  StmtScope scope(stmt);
  scope->bindInt(1, after);
  scope->bindInt(2, upto);
  for (;;) {
    int rc = scope->step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return db.error(rc, "replay history");
    std::string key = scope->columnString(1);
    if (!wanted(key)) continue;
    auto event = std::make_shared<Event>();
    event->kv.key = std::move(key);
    event->kv.mod_revision = scope->columnInt(0);
    event->kv.create_revision = scope->columnInt(4);
    if (scope->columnInt(3) != 0) {
      event->type = EventType::kDeleted;
      event->kv.value = makeBytes(scope->columnString(6));
    } else if (scope->columnInt(2) != 0) {
      event->type = EventType::kAdded;
      event->kv.value = makeBytes(scope->columnString(5));
    } else {
      event->type = EventType::kModified;
      event->kv.value = makeBytes(scope->columnString(5));
      event->prev_value = makeBytes(scope->columnString(6));
    }
    events.push_back(std::move(event));
  }
  return events;
}

Result<std::unique_ptr<WatchHandle>> SqliteStore::watch(const WatchOptions& options,
                                                        WatchSink sink) {
  if (options.after_revision < 0) return makeError(ErrorCode::kBadRequest, "negative revision");
  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<WatchChannel> channel;
    int64_t upto = 0;
    int64_t after = 0;
    {
      // Registering under the hub lock splits the stream exactly: events up
      // to `upto` were offered before we joined (replayed from history below),
      // later ones are offered to us and wait until the replay is spliced in.
      std::lock_guard lock(hub_->mu);
      if (hub_->stopped) return makeError(ErrorCode::kUnavailable, "storage is shutting down");
      upto = hub_->delivered_revision;
      after = options.initial_state || options.after_revision == 0 ? upto : options.after_revision;
      channel = std::make_shared<WatchChannel>(options, sink, after, /*held=*/true);
      hub_->channels.push_back(channel);
    }
    bool retry = false;
    auto replay = readReplay(options, after, upto, &retry);
    if (!replay.ok() || retry) {
      unregister(channel.get());
      if (!replay.ok()) return std::move(replay).error();
      if (attempt < 10) continue;
      return makeError(ErrorCode::kUnavailable, "watch raced with compaction; retry");
    }
    channel->release(std::move(replay).value());
    std::weak_ptr<Hub> weak_hub = hub_;
    const WatchChannel* raw = channel.get();
    return makeWatchHandle(std::move(channel), [weak_hub, raw] {
      auto hub = weak_hub.lock();
      if (!hub) return;
      std::lock_guard lock(hub->mu);
      auto& list = hub->channels;
      list.erase(std::remove_if(list.begin(), list.end(),
                                [raw](const auto& c) { return c.get() == raw; }),
                 list.end());
    });
  }
}

void SqliteStore::unregister(const WatchChannel* channel) {
  std::lock_guard lock(hub_->mu);
  auto& list = hub_->channels;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [channel](const auto& c) { return c.get() == channel; }),
             list.end());
}

void SqliteStore::deliver(const std::vector<std::shared_ptr<const Event>>& events) {
  std::vector<std::shared_ptr<WatchChannel>> touched;
  {
    std::lock_guard lock(hub_->mu);
    for (const auto& channel : hub_->channels) {
      bool any = false;
      for (const auto& event : events) any |= channel->offer(event);
      if (any) touched.push_back(channel);
    }
    hub_->delivered_revision = events.back()->kv.mod_revision;
  }
  for (const auto& channel : touched) channel->drain();
}

}  // namespace berth::storage
