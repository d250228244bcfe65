#include "runtime/logs/cri_log.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/error.h"

namespace berth::runtime {

namespace {

Error ioError(const std::string& what, const std::string& path) {
  return makeError(ErrorCode::kInternal, what + " " + path + ": " + std::strerror(errno));
}

std::string_view streamName(LogStream s) { return s == LogStream::kStdout ? "stdout" : "stderr"; }

bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

// ---- writer -------------------------------------------------------------------

CriLogWriter::CriLogWriter(std::string path, CriLogWriterOptions options, Clock& clock)
    : path_(std::move(path)), options_(options), clock_(clock) {}

CriLogWriter::~CriLogWriter() {
  (void)close(LogStream::kStdout);
  (void)close(LogStream::kStderr);
  if (fd_ >= 0) ::close(fd_);
}

Status CriLogWriter::open() {
  std::lock_guard lock(mu_);
  if (fd_ >= 0) return okStatus();
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return ioError("open", path_);
  struct stat st;
  size_ = fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return okStatus();
}

Status CriLogWriter::write(LogStream stream, std::string_view data) {
  std::lock_guard lock(mu_);
  std::string& pending = pending_[static_cast<int>(stream)];
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view piece = data.substr(0, nl == std::string_view::npos ? data.size() : nl);
    // A record holds at most kMaxRecordBytes; longer lines go out as
    // partial records as they fill.
    while (pending.size() + piece.size() >= kMaxRecordBytes) {
      size_t take = kMaxRecordBytes - pending.size();
      pending.append(piece.substr(0, take));
      piece.remove_prefix(take);
      BERTH_RETURN_IF_ERROR(writeRecord(stream, true, pending));
      pending.clear();
    }
    pending.append(piece);
    if (nl == std::string_view::npos) break;
    BERTH_RETURN_IF_ERROR(writeRecord(stream, false, pending));
    pending.clear();
    data.remove_prefix(nl + 1);
  }
  return okStatus();
}

Status CriLogWriter::close(LogStream stream) {
  std::lock_guard lock(mu_);
  std::string& pending = pending_[static_cast<int>(stream)];
  if (pending.empty() || fd_ < 0) return okStatus();
  Status s = writeRecord(stream, true, pending);
  pending.clear();
  return s;
}

Status CriLogWriter::writeRecord(LogStream stream, bool partial, std::string_view content) {
  if (fd_ < 0) return makeError(ErrorCode::kInternal, "log " + path_ + " is not open");
  std::string record = formatRfc3339Nano(clock_.now());
  record += ' ';
  record += streamName(stream);
  record += partial ? " P " : " F ";
  record += content;
  record += '\n';
  if (size_ > 0 && size_ + record.size() > options_.max_bytes) BERTH_RETURN_IF_ERROR(rotate());
  if (!writeAll(fd_, record)) return ioError("write", path_);
  size_ += record.size();
  return okStatus();
}

Status CriLogWriter::rotate() {
  // path.(max_files-1) is dropped; path.i moves to path.(i+1); the current
  // file becomes path.1 and a new one starts.
  if (options_.max_files <= 1) {
    if (ftruncate(fd_, 0) != 0) return ioError("truncate", path_);
    size_ = 0;
    return okStatus();
  }
  for (int i = options_.max_files - 1; i >= 1; --i) {
    std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
    std::string to = path_ + "." + std::to_string(i);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return ioError("rotate", from);
  }
  ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return ioError("open", path_);
  size_ = 0;
  return okStatus();
}

// ---- reader -------------------------------------------------------------------

bool parseCriLogLine(std::string_view line, CriLogRecord* r) {
  size_t a = line.find(' ');
  if (a == std::string_view::npos) return false;
  size_t b = line.find(' ', a + 1);
  if (b == std::string_view::npos) return false;
  std::string_view stream = line.substr(a + 1, b - a - 1);
  if (stream == "stdout") {
    r->stream = LogStream::kStdout;
  } else if (stream == "stderr") {
    r->stream = LogStream::kStderr;
  } else {
    return false;
  }
  r->timestamp = line.substr(0, a);
  if (!parseRfc3339(std::string(r->timestamp), &r->time)) return false;
  std::string_view rest = line.substr(b + 1);
  // The tag ("F", "P"; upstream allows further ":"-separated tags).
  size_t c = rest.find(' ');
  std::string_view tag = rest.substr(0, c);
  r->partial = !tag.empty() && tag.substr(0, tag.find(':')) == "P";
  r->content = c == std::string_view::npos ? std::string_view() : rest.substr(c + 1);
  return true;
}

namespace {

// The byte offset where the last `n` lines of `fd` start (0 for fewer).
off_t tailOffset(int fd, int64_t n) {
  struct stat st;
  if (fstat(fd, &st) != 0) return 0;
  off_t end = st.st_size;
  if (n <= 0) return end;
  std::vector<char> buf(64 * 1024);
  int64_t newlines = 0;
  off_t pos = end;
  // A file ending in a newline: that newline ends the last line.
  bool skip_last = false;
  if (end > 0) {
    char c;
    if (pread(fd, &c, 1, end - 1) == 1 && c == '\n') skip_last = true;
  }
  while (pos > 0) {
    off_t start = pos > static_cast<off_t>(buf.size()) ? pos - static_cast<off_t>(buf.size()) : 0;
    ssize_t got = pread(fd, buf.data(), static_cast<size_t>(pos - start), start);
    if (got <= 0) return 0;
    for (ssize_t i = got - 1; i >= 0; --i) {
      if (buf[static_cast<size_t>(i)] != '\n') continue;
      if (skip_last && start + i == end - 1) continue;
      if (++newlines == n) return start + i + 1;
    }
    pos = start;
  }
  return 0;
}

class Reader {
 public:
  Reader(const LogReadOptions& o, const std::function<bool(std::string_view)>& out)
      : options_(o), out_(out), remaining_(o.limit_bytes) {}

  // Feeds complete lines of `data`; keeps an unfinished tail. False: stop.
  bool feed(std::string_view data) {
    buffer_.append(data);
    size_t start = 0;
    while (true) {
      size_t nl = buffer_.find('\n', start);
      if (nl == std::string::npos) break;
      if (!line(std::string_view(buffer_).substr(start, nl - start))) return false;
      start = nl + 1;
    }
    buffer_.erase(0, start);
    return true;
  }

 private:
  bool line(std::string_view text) {
    CriLogRecord r;
    if (!parseCriLogLine(text, &r)) return true;  // upstream skips what it cannot parse
    if (options_.since && r.time < *options_.since) return true;
    std::string chunk;
    if (options_.timestamps && !last_partial_) {
      chunk = formatRfc3339Nano(r.time);
      chunk += ' ';
    }
    chunk += r.content;
    if (!r.partial) chunk += '\n';
    last_partial_ = r.partial;
    return emit(chunk);
  }

  bool emit(std::string_view chunk) {
    if (remaining_) {
      if (*remaining_ <= 0) return false;
      if (static_cast<int64_t>(chunk.size()) > *remaining_) chunk = chunk.substr(0, *remaining_);
      *remaining_ -= static_cast<int64_t>(chunk.size());
    }
    if (!out_(chunk)) return false;
    return !remaining_ || *remaining_ > 0;
  }

  const LogReadOptions& options_;
  const std::function<bool(std::string_view)>& out_;
  std::optional<int64_t> remaining_;
  std::string buffer_;
  bool last_partial_ = false;
};

// Reads fd from its offset to EOF into the reader. False: the reader stopped.
bool drain(int fd, Reader& reader) {
  char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    if (!reader.feed(std::string_view(buf, static_cast<size_t>(n)))) return false;
  }
}

}  // namespace

Status readCriLog(const std::string& path, const LogReadOptions& options,
                  const std::function<bool(std::string_view)>& out,
                  const std::function<bool()>& finished) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ioError("open", path);
  struct Closer {
    int* fd;
    ~Closer() {
      if (*fd >= 0) ::close(*fd);
    }
  } closer{&fd};
  if (options.tail_lines) {
    off_t at = tailOffset(fd, *options.tail_lines);
    if (lseek(fd, at, SEEK_SET) < 0) return ioError("seek", path);
  }
  Reader reader(options, out);
  if (!drain(fd, reader) || !options.follow) return okStatus();

  // Follow: wait for writes (or a rotation) with inotify, re-checking
  // whether the container finished at least every 250 ms.
  int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0) return ioError("inotify", path);
  struct Closer in_closer {
    &in
  };
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  if (dir.empty()) dir = ".";
  if (inotify_add_watch(in, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
    return ioError("inotify watch", dir);
  struct stat st;
  ino_t inode = fstat(fd, &st) == 0 ? st.st_ino : 0;
  while (true) {
    bool done = finished && finished();
    if (!drain(fd, reader)) return okStatus();
    // Rotated: the name now points at a new file; the old one was read to
    // its end above, so continue from the start of the new one.
    struct stat now;
    if (::stat(path.c_str(), &now) == 0 && now.st_ino != inode) {
      int next = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (next >= 0) {
        ::close(fd);
        fd = next;
        inode = now.st_ino;
        continue;
      }
    }
    if (done) return okStatus();
    struct pollfd p {
      in, POLLIN, 0
    };
    ::poll(&p, 1, 250);
    char events[4096];
    while (::read(in, events, sizeof(events)) > 0) {
    }
  }
}

}  // namespace berth::runtime
