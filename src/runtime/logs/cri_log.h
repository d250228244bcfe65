#pragma once

// Container logs in the CRI log format, as containerd writes them and the
// kubelet reads them (pkg/kubelet/kuberuntime/logs/logs.go): one line per
// record, "<RFC3339Nano time> <stdout|stderr> <F|P> <content>\n", where P
// marks a partial line (a line longer than 16 KiB, or the rest of a stream
// that ended without a newline) continued by the next record.
//
// CriLogWriter is fed a container's stdout and stderr (by the shim that
// holds the pipes) and rotates the file as the kubelet's container log
// manager does (containerLogMaxSize 10Mi, containerLogMaxFiles 5: the
// current file plus rotated ones, path.1 newest). readCriLog answers
// `kubectl logs`: it reads the current file only, as upstream does, with
// follow, tailLines, limitBytes, timestamps and sinceTime.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace berth::runtime {

enum class LogStream { kStdout, kStderr };

struct CriLogWriterOptions {
  uint64_t max_bytes = 10 << 20;  // rotate when the current file would pass this
  int max_files = 5;              // the current file and max_files-1 rotated ones
};

class CriLogWriter {
 public:
  // Records longer than this are split into partial records, as containerd does.
  static constexpr size_t kMaxRecordBytes = 16 * 1024;

  CriLogWriter(std::string path, CriLogWriterOptions options, Clock& clock);
  ~CriLogWriter();
  CriLogWriter(const CriLogWriter&) = delete;
  CriLogWriter& operator=(const CriLogWriter&) = delete;

  // Opens (appending to) the file; creates its directory's file only.
  Status open();
  // Bytes read from a stream: complete lines are written at once, the rest
  // kept until its newline (or until it reaches kMaxRecordBytes).
  Status write(LogStream stream, std::string_view data);
  // The stream ended: a pending partial line is written as a partial record.
  Status close(LogStream stream);
  const std::string& path() const { return path_; }

 private:
  Status writeRecord(LogStream stream, bool partial, std::string_view content);
  Status rotate();

  const std::string path_;
  const CriLogWriterOptions options_;
  Clock& clock_;
  std::mutex mu_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string pending_[2];
};

struct LogReadOptions {
  bool follow = false;
  bool timestamps = false;
  std::optional<int64_t> tail_lines;
  std::optional<int64_t> limit_bytes;
  std::optional<std::chrono::system_clock::time_point> since;
};

// Writes the selected log content to `out` (which returns false to stop).
// With follow, waits for more until `finished()` says the container has
// exited and the file has been read to its end; a rotation while following
// continues in the new file.
Status readCriLog(const std::string& path, const LogReadOptions& options,
                  const std::function<bool(std::string_view)>& out,
                  const std::function<bool()>& finished);

// One parsed record; false for a malformed line.
struct CriLogRecord {
  std::chrono::system_clock::time_point time;
  std::string_view timestamp;
  LogStream stream = LogStream::kStdout;
  bool partial = false;
  std::string_view content;  // without the newline
};
bool parseCriLogLine(std::string_view line, CriLogRecord* record);

}  // namespace berth::runtime
