#pragma once

// Durable whole-file writes, shared by the datastore's neighbours (keys,
// tokens), the image store and the runtime's bundles and exit records.

#include <string>
#include <string_view>

#include "common/result.h"

namespace berth {

// Writes `data` to a temp file next to `path` with exactly `mode` (the
// umask does not apply), fsyncs it, renames it over `path` and fsyncs the
// directory: after a crash the file is the old one or the new one.
Status writeFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0644);

// fsync of a directory (a rename or create in it made durable).
Status fsyncDir(const std::string& dir);

}  // namespace berth
