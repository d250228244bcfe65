#pragma once

// Upstream's AtomicWriter (pkg/volume/util/atomic_writer.go), which the
// configMap, secret, downwardAPI and projected volumes write through so a
// container never sees a half-updated set of files:
//
//   <dir>/..2026_01_02_03_04_05.123456789/   the payload, written fresh
//   <dir>/..data -> ..2026_...                swapped by rename(2)
//   <dir>/<name> -> ..data/<name>             one link per top-level name
//
// An update writes a new timestamped directory, renames a new ..data link
// over the old one (atomic), adds and removes the top-level links, then
// deletes the old directory.

#include <map>
#include <string>

#include "common/clock.h"
#include "common/result.h"

namespace berth::agent::volumes {

struct FileProjection {
  std::string data;
  int mode = 0644;
};

// Relative path -> contents. Paths are validated: not absolute, no ".."
// element, not starting with "..", not empty.
using Payload = std::map<std::string, FileProjection>;

class AtomicWriter {
 public:
  AtomicWriter(std::string target_dir, Clock& clock);
  // Makes the directory hold exactly `payload`. Does nothing when the
  // current contents already match (no new ..data generation).
  Status write(const Payload& payload);

  // Checks one payload path as upstream's validatePath does.
  static Status validatePath(const std::string& path);

 private:
  bool matchesCurrent(const Payload& payload) const;
  std::string generationName() const;

  const std::string dir_;
  Clock& clock_;
};

}  // namespace berth::agent::volumes
