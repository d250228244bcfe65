#include "agent/volumes/atomic_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "common/error.h"

namespace berth::agent::volumes {

namespace fs = std::filesystem;

namespace {

constexpr char kDataDir[] = "..data";
constexpr char kDataDirTmp[] = "..data_tmp";

Error fsError(const std::string& what, const std::string& path, const std::error_code& ec) {
  return makeError(ErrorCode::kInternal, what + " " + path + ": " + ec.message());
}

std::string readAll(const fs::path& p, bool* ok) {
  std::ifstream in(p, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first element of a relative path ("a/b/c" -> "a").
std::string topLevel(const std::string& path) { return path.substr(0, path.find('/')); }

}  // namespace

AtomicWriter::AtomicWriter(std::string target_dir, Clock& clock)
    : dir_(std::move(target_dir)), clock_(clock) {}

Status AtomicWriter::validatePath(const std::string& path) {
  auto invalid = [&](const std::string& why) {
    return makeError(ErrorCode::kInvalid, "invalid path " + path + ": " + why);
  };
  if (path.empty()) return invalid("must not be empty");
  if (path.front() == '/') return invalid("must be relative path");
  if (path.size() > 4096) return invalid("must be less than or equal to 4096 characters");
  if (path.rfind("..", 0) == 0) return invalid("must not start with '..'");
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '/'))
    if (part == "..") return invalid("must not contain '..'");
  return okStatus();
}

std::string AtomicWriter::generationName() const {
  auto now = clock_.now();
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count();
  std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "..%04d_%02d_%02d_%02d_%02d_%02d.%09lld", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(nanos));
  return buf;
}

bool AtomicWriter::matchesCurrent(const Payload& payload) const {
  std::error_code ec;
  fs::path data = fs::path(dir_) / kDataDir;
  if (!fs::is_symlink(data, ec)) return false;
  fs::path current = fs::path(dir_) / fs::read_symlink(data, ec);
  if (ec) return false;
  size_t files = 0;
  for (auto it = fs::recursive_directory_iterator(current, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) ++files;
  }
  if (ec || files != payload.size()) return false;
  for (const auto& [path, file] : payload) {
    fs::path p = current / path;
    bool ok = false;
    if (readAll(p, &ok) != file.data || !ok) return false;
    struct stat st;
    if (::stat(p.c_str(), &st) != 0 || static_cast<int>(st.st_mode & 07777) != file.mode)
      return false;
  }
  return true;
}

Status AtomicWriter::write(const Payload& payload) {
  for (const auto& [path, file] : payload) BERTH_RETURN_IF_ERROR(validatePath(path));
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return fsError("create", dir_, ec);
  if (matchesCurrent(payload)) return okStatus();

  const fs::path root(dir_);
  const fs::path data = root / kDataDir;
  std::string old_generation;
  if (fs::is_symlink(data, ec)) old_generation = fs::read_symlink(data, ec).string();

  // 1. The new generation, written in full.
  std::string generation = generationName();
  const fs::path gen_dir = root / generation;
  fs::remove_all(gen_dir, ec);
  fs::create_directory(gen_dir, ec);
  if (ec) return fsError("create", gen_dir.string(), ec);
  for (const auto& [path, file] : payload) {
    fs::path p = gen_dir / path;
    fs::create_directories(p.parent_path(), ec);
    if (ec) return fsError("create", p.parent_path().string(), ec);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(file.data.data(), static_cast<std::streamsize>(file.data.size()));
    out.close();
    if (!out) return makeError(ErrorCode::kInternal, "write " + p.string() + " failed");
    if (::chmod(p.c_str(), static_cast<mode_t>(file.mode)) != 0)
      return makeError(ErrorCode::kInternal,
                       "chmod " + p.string() + ": " + std::string(std::strerror(errno)));
  }
  // 2. ..data swapped to it in one rename.
  const fs::path tmp = root / kDataDirTmp;
  fs::remove(tmp, ec);
  fs::create_symlink(generation, tmp, ec);
  if (ec) return fsError("link", tmp.string(), ec);
  fs::rename(tmp, data, ec);
  if (ec) return fsError("rename", tmp.string(), ec);
  // 3. The user-visible links: one per top-level name, stale ones removed.
  std::set<std::string> wanted;
  for (const auto& [path, file] : payload) wanted.insert(topLevel(path));
  for (const auto& name : wanted) {
    fs::path link = root / name;
    if (fs::is_symlink(link, ec)) continue;
    fs::create_symlink(fs::path(kDataDir) / name, link, ec);
    if (ec) return fsError("link", link.string(), ec);
  }
  std::vector<fs::path> stale;
  for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind("..", 0) == 0 || wanted.count(name)) continue;
    if (it->is_symlink()) stale.push_back(it->path());
  }
  for (const auto& p : stale) fs::remove(p, ec);
  // 4. The old generation goes.
  if (!old_generation.empty() && old_generation != generation)
    fs::remove_all(root / old_generation, ec);
  return okStatus();
}

}  // namespace berth::agent::volumes
