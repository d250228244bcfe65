#include "runtime/image/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "common/file_util.h"

namespace berth::runtime::fsutil {

namespace fs = std::filesystem;

Error errnoError(std::string_view what, const std::string& path, int err) {
  return makeError(ErrorCode::kInternal,
                   std::string(what) + " " + path + ": " + std::strerror(err));
}

Status fsyncDir(const std::string& dir) { return berth::fsyncDir(dir); }

Status writeFileAtomic(const std::string& path, std::string_view data) {
  return berth::writeFileAtomic(path, data, 0644);
}

Result<std::string> readFile(const std::string& path, uint64_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return makeError(ErrorCode::kNotFound, path + " does not exist");
    return errnoError("open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) > max_size) {
    ::close(fd);
    return makeError(ErrorCode::kInvalid, path + " is too large to read into memory");
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::read(fd, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(off);
  return out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Status mkdirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return makeError(ErrorCode::kInternal, "mkdir " + path + ": " + ec.message());
  return okStatus();
}

void removeAll(const std::string& path) noexcept {
  std::error_code ec;
  fs::remove_all(path, ec);
}

uint64_t treeSize(const std::string& path) noexcept {
  uint64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) continue;
    if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

}  // namespace berth::runtime::fsutil
