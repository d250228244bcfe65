#include "runtime/oci/bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/oci/cgroups.h"

namespace berth::runtime {
namespace fs = std::filesystem;

Status Bundle::write(const boost::json::object& config) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return makeError(ErrorCode::kInternal, "create bundle " + dir_ + ": " + ec.message());
  fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::replace, ec);
  return writeFileAtomic(configPath(), boost::json::serialize(config), 0600);
}

Result<boost::json::object> Bundle::readConfig() const {
  std::ifstream in(configPath());
  if (!in) return makeError(ErrorCode::kNotFound, "no config.json in bundle " + dir_);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = boost::json::parse(text.str(), ec);
  if (ec || !value.is_object()) {
    return makeError(ErrorCode::kInternal, "bundle " + dir_ + ": config.json is not a JSON object");
  }
  return std::move(value.as_object());
}

Status Bundle::remove() const {
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return okStatus();
  std::string canonical = fs::weakly_canonical(dir_, ec).string();
  if (ec) canonical = dir_;
  BERTH_ASSIGN_OR_RETURN(auto mounts, readMountinfo());
  for (const auto& mount : mounts) {
    const std::string& point = mount.mount_point;
    if (point == canonical || point.rfind(canonical + "/", 0) == 0) {
      return makeError(ErrorCode::kConflict,
                       "bundle " + dir_ + " still has a mount at " + point + "; unmount it first");
    }
  }
  fs::remove_all(dir_, ec);
  if (ec) return makeError(ErrorCode::kInternal, "remove bundle " + dir_ + ": " + ec.message());
  return okStatus();
}

}  // namespace berth::runtime
