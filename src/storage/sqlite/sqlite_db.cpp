#include "storage/sqlite/sqlite_db.h"

#include <sqlite3.h>

namespace berth::storage::sqlite {

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

void Stmt::bindInt(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Stmt::bindBlob(int index, std::string_view value) {
  // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
  static const char kEmpty = 0;
  sqlite3_bind_blob64(stmt_, index, value.empty() ? &kEmpty : value.data(), value.size(),
                      SQLITE_TRANSIENT);
}

void Stmt::bindNull(int index) { sqlite3_bind_null(stmt_, index); }

int Stmt::step() { return sqlite3_step(stmt_); }

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::columnInt(int col) { return sqlite3_column_int64(stmt_, col); }

bool Stmt::columnIsNull(int col) { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::string Stmt::columnString(int col) {
  const void* data = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (!data || n <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(n));
}

ErrorCode errorCodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      return ErrorCode::kUnavailable;
    case SQLITE_TOOBIG:
      return ErrorCode::kRequestEntityTooLarge;
    default:
      return ErrorCode::kInternal;
  }
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path, bool read_only) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (!read_only) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return makeError(errorCodeFor(rc), "open sqlite database " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(db, 1);
  auto out = std::unique_ptr<Db>(new Db(db));
  if (read_only) {
    // Readers share the file with the writer (WAL needs the -shm writable), so
    // the connection is opened read-write and then forbidden to write.
    BERTH_RETURN_IF_ERROR(out->exec("PRAGMA query_only=1"));
  }
  return out;
}

Db::~Db() {
  statements_.clear();
  sqlite3_close_v2(db_);
}

Status Db::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return makeError(errorCodeFor(rc), "sqlite: " + msg + " (in: " + sql.substr(0, 60) + ")");
  }
  return okStatus();
}

Result<Stmt*> Db::prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second.get();
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return error(rc, "prepare");
  auto* raw = new Stmt(stmt);
  statements_.emplace(sql, std::unique_ptr<Stmt>(raw));
  return raw;
}

Error Db::error(int rc, std::string_view what) const {
  return makeError(errorCodeFor(rc),
                   "sqlite " + std::string(what) + ": " + sqlite3_errmsg(db_) + " (" +
                       sqlite3_errstr(rc) + ")");
}

bool Db::inTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

}  // namespace berth::storage::sqlite
