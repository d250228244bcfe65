#pragma once

// Small durable-filesystem helpers for the image store. Internal to
// runtime/image; not part of the store's API.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace berth::runtime::fsutil {

// An Internal error "<what> <path>: <strerror(errno)>".
Error errnoError(std::string_view what, const std::string& path, int err);

// Writes `data` to a temp file next to `path`, fsyncs it, renames it over
// `path` and fsyncs the directory, so a crash leaves the old or the new file.
Status writeFileAtomic(const std::string& path, std::string_view data);
Status fsyncDir(const std::string& dir);
// Reads a whole file; NotFound when it does not exist, Invalid when it is larger than max_size.
Result<std::string> readFile(const std::string& path, uint64_t max_size = 64ull << 20);
bool exists(const std::string& path);
Status mkdirs(const std::string& path);
// Removes a tree; errors are ignored (used for cleanup paths).
void removeAll(const std::string& path) noexcept;
// Apparent size of a tree: regular files and symlinks, hard links counted once.
uint64_t treeSize(const std::string& path) noexcept;

}  // namespace berth::runtime::fsutil
