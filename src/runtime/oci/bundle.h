#pragma once

#include <boost/json.hpp>
#include <string>

#include "common/file_util.h"
#include "common/result.h"

namespace berth::runtime {

// Writes content to path so that readers see the old file or the new one,
// never a torn one: a temp file beside it, fsync, rename, fsync of the directory.
using berth::writeFileAtomic;  // common/file_util.h

// An OCI bundle directory: config.json and (usually) rootfs/. The rootfs
// itself (an overlay mount from the image store) is the caller's business.
class Bundle {
 public:
  explicit Bundle(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string configPath() const { return dir_ + "/config.json"; }

  // Creates the directory (mode 0700, parents as needed) and writes
  // config.json atomically; rewriting an existing bundle replaces config.json.
  Status write(const boost::json::object& config) const;
  Result<boost::json::object> readConfig() const;
  // Removes the directory tree. Refuses (FailedPrecondition as Conflict) when
  // anything below it is still mounted, so a forgotten rootfs overlay or bind
  // mount never has its files deleted through the bundle. A missing
  // directory is success.
  Status remove() const;

 private:
  std::string dir_;
};

}  // namespace berth::runtime
