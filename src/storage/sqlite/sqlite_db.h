#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace berth::storage::sqlite {

// Thin RAII layer over the SQLite C API: one connection, a cache of prepared
// statements, and errors as berth::Error. A Db is used by one thread at a time.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void bindInt(int index, int64_t value);
  void bindBlob(int index, std::string_view value);
  void bindNull(int index);
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  // Resets the statement and clears bindings; call before reuse.
  void reset();

  int64_t columnInt(int col);
  bool columnIsNull(int col);
  std::string columnString(int col);
  sqlite3_stmt* raw() { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

// Resets a statement when leaving scope, so an early return never leaves a
// read statement open (which would pin the WAL snapshot).
class StmtScope {
 public:
  explicit StmtScope(Stmt* stmt) : stmt_(stmt) { stmt_->reset(); }
  ~StmtScope() { stmt_->reset(); }
  Stmt* operator->() { return stmt_; }

 private:
  Stmt* stmt_;
};

class Db {
 public:
  static Result<std::unique_ptr<Db>> open(const std::string& path, bool read_only);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results.
  Status exec(const std::string& sql);
  // Prepared once per connection and reused.
  Result<Stmt*> prepare(const std::string& sql);
  // An Error describing the last failure on this connection.
  Error error(int rc, std::string_view what) const;
  // True while a transaction is open (SQLite rolls back on some errors by itself).
  bool inTransaction() const;
  sqlite3* raw() { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<std::string, std::unique_ptr<Stmt>> statements_;
};

// Maps an SQLite result code to a berth error code.
ErrorCode errorCodeFor(int rc);

}  // namespace berth::storage::sqlite
