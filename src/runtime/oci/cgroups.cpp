#include "runtime/oci/cgroups.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace berth::runtime {

namespace {

std::string unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '7') {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string joinPath(std::string_view base, std::string_view rel) {
  std::string out(base);
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (rel.empty() || rel.front() != '/') out.push_back('/');
  out.append(rel);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

Error errnoError(const std::string& what, int err) {
  return makeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInternal,
                   what + ": " + std::strerror(err));
}

}  // namespace

std::vector<MountInfo> parseMountinfo(std::string_view text) {
  std::vector<MountInfo> out;
  for (const auto& line : split(text, '\n')) {
    if (line.empty()) continue;
    std::istringstream in(line);
    std::vector<std::string> fields;
    std::string field;
    while (in >> field) fields.push_back(field);
    // id parent major:minor root mount-point options [optional...] - type source super
    size_t sep = 6;
    while (sep < fields.size() && fields[sep] != "-") ++sep;
    if (fields.size() < 5 || sep >= fields.size()) continue;
    MountInfo info;
    info.root = unescape(fields[3]);
    info.mount_point = unescape(fields[4]);
    if (sep + 1 < fields.size()) info.fs_type = fields[sep + 1];
    if (sep + 2 < fields.size()) info.source = unescape(fields[sep + 2]);
    if (sep + 3 < fields.size()) info.super_options = fields[sep + 3];
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::vector<MountInfo>> readMountinfo(const std::string& path) {
  std::ifstream in(path);
  if (!in) return errnoError("open " + path, errno);
  std::stringstream text;
  text << in.rdbuf();
  return parseMountinfo(text.str());
}

CgroupV1 CgroupV1::fromMountinfo(const std::vector<MountInfo>& mounts) {
  std::map<std::string, std::string> controllers;
  for (const auto& m : mounts) {
    // Hybrid mode: runc (like systemd) also creates every cgroup in the v2
    // hierarchy mounted beside the v1 ones; runc calls it "unified".
    if (m.fs_type == "cgroup2") {
      controllers.emplace("unified", m.mount_point);
      continue;
    }
    if (m.fs_type != "cgroup") continue;
    for (const auto& option : split(m.super_options, ',')) {
      if (option.empty() || option == "rw" || option == "ro" || option == "relatime" ||
          option == "noexec" || option == "nosuid" || option == "nodev" ||
          option.rfind("release_agent=", 0) == 0 || option == "clone_children" ||
          option == "noprefix" || option == "xattr" || option == "cpuset_v2_mode") {
        continue;
      }
      // The first mount of a hierarchy wins (later ones are bind mounts of it).
      controllers.emplace(option, m.mount_point);
    }
  }
  return CgroupV1(std::move(controllers));
}

Result<CgroupV1> CgroupV1::detect() {
  BERTH_ASSIGN_OR_RETURN(auto mounts, readMountinfo());
  return fromMountinfo(mounts);
}

Result<std::string> CgroupV1::path(std::string_view controller,
                                   std::string_view cgroups_path) const {
  auto it = mounts_.find(std::string(controller));
  if (it == mounts_.end()) {
    return makeError(ErrorCode::kNotFound,
                     "cgroup v1 controller " + std::string(controller) + " is not mounted");
  }
  return joinPath(it->second, cgroups_path);
}

Result<int64_t> readCgroupInt(const std::string& file) {
  std::ifstream in(file);
  if (!in) return errnoError("read " + file, errno);
  std::string text;
  in >> text;
  if (text == "max") return int64_t{-1};
  try {
    size_t used = 0;
    long long value = std::stoll(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    return static_cast<int64_t>(value);
  } catch (const std::exception&) {
    return makeError(ErrorCode::kInternal, file + ": not a number: \"" + text + "\"");
  }
}

Result<int64_t> CgroupV1::readValue(std::string_view controller, std::string_view cgroups_path,
                                    std::string_view file) const {
  BERTH_ASSIGN_OR_RETURN(auto dir, path(controller, cgroups_path));
  return readCgroupInt(dir + "/" + std::string(file));
}

Result<int64_t> CgroupV1::memoryUsage(std::string_view p) const {
  return readValue("memory", p, "memory.usage_in_bytes");
}
Result<int64_t> CgroupV1::memoryLimit(std::string_view p) const {
  return readValue("memory", p, "memory.limit_in_bytes");
}
Result<int64_t> CgroupV1::memoryFailcnt(std::string_view p) const {
  return readValue("memory", p, "memory.failcnt");
}
Result<int64_t> CgroupV1::cpuQuota(std::string_view p) const {
  return readValue("cpu", p, "cpu.cfs_quota_us");
}
Result<int64_t> CgroupV1::cpuShares(std::string_view p) const {
  return readValue("cpu", p, "cpu.shares");
}
Result<int64_t> CgroupV1::pidsMax(std::string_view p) const {
  return readValue("pids", p, "pids.max");
}

Result<int64_t> CgroupV1::oomKillCount(std::string_view cgroups_path) const {
  BERTH_ASSIGN_OR_RETURN(auto dir, path("memory", cgroups_path));
  std::string file = dir + "/memory.oom_control";
  std::ifstream in(file);
  if (!in) return errnoError("read " + file, errno);
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) {
    if (key == "oom_kill") return value;
  }
  return makeError(ErrorCode::kNotFound, file + " has no oom_kill counter");
}

Status rmdirTree(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return okStatus();
    return errnoError("open " + dir, errno);
  }
  std::vector<std::string> children;
  while (dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::string child = dir + "/" + name;
    struct stat st;
    // cgroupfs files are not removable and vanish with their directory.
    if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) children.push_back(child);
  }
  ::closedir(d);
  for (const auto& child : children) BERTH_RETURN_IF_ERROR(rmdirTree(child));
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    int err = errno;
    return makeError(err == EBUSY ? ErrorCode::kConflict : ErrorCode::kInternal,
                     "rmdir " + dir + ": " + std::strerror(err));
  }
  return okStatus();
}

Status CgroupV1::removeTree(std::string_view cgroups_path) const {
  if (cgroups_path.empty() || cgroups_path == "/") {
    return makeError(ErrorCode::kInvalid, "refusing to remove the root cgroup");
  }
  Status first_error;
  for (const auto& [controller, mount_point] : mounts_) {
    auto status = rmdirTree(joinPath(mount_point, cgroups_path));
    if (!status.ok() && first_error.ok()) first_error = status;
  }
  return first_error;
}

}  // namespace berth::runtime
