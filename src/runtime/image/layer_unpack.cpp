#include "runtime/image/layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "runtime/image/fs_util.h"

namespace berth::runtime {
namespace {

constexpr size_t kBlockSize = 64 * 1024;
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueWhiteout = ".wh..wh..opq";

struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ReadDeleter>;
using WriteArchive = std::unique_ptr<archive, WriteDeleter>;

Error archiveError(archive* a, std::string_view what) {
  const char* msg = archive_error_string(a);
  return makeError(ErrorCode::kInvalid,
                   std::string(what) + ": " + (msg ? msg : "unknown libarchive error"));
}

Error unsafe(const std::string& path, std::string_view why) {
  return makeError(ErrorCode::kInvalid,
                   "layer entry \"" + path + "\" refused: " + std::string(why));
}

// Normalizes a tar member name to a relative path without "./" prefixes or
// trailing slashes, refusing anything that could name a place outside the
// layer. An empty result is the layer root itself.
Result<std::string> cleanPath(const char* raw) {
  std::string p = raw ? raw : "";
  if (!p.empty() && p.front() == '/') return unsafe(p, "absolute path");
  std::string out;
  size_t start = 0;
  while (start <= p.size()) {
    size_t slash = p.find('/', start);
    if (slash == std::string::npos) slash = p.size();
    std::string_view comp(p.data() + start, slash - start);
    if (comp == "..") return unsafe(p, "\"..\" path component");
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out += '/';
      out += comp;
    }
    start = slash + 1;
  }
  return out;
}

// Refuses a path whose existing parent components (under root) include a
// symlink, so that nothing is written through a link the layer planted.
Status checkNoSymlinkParents(const std::string& root, const std::string& rel,
                             const std::string& what) {
  size_t pos = 0;
  while ((pos = rel.find('/', pos)) != std::string::npos) {
    std::string prefix = root + "/" + rel.substr(0, pos);
    struct stat st {};
    if (::lstat(prefix.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      return unsafe(what, "path goes through symlink \"" + rel.substr(0, pos) + "\"");
    }
    ++pos;
  }
  return okStatus();
}

std::string parentOf(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}

struct DecompressedSource {
  archive* outer = nullptr;
  Sha256 hash;
  std::vector<char> buf = std::vector<char>(kBlockSize);
  bool failed = false;
};

// Feeds the inner tar reader from the outer (decompressing, raw-format)
// reader and hashes every uncompressed byte on the way: that is the DiffID.
la_ssize_t readDecompressed(archive* inner, void* ctx, const void** out) {
  auto* src = static_cast<DecompressedSource*>(ctx);
  la_ssize_t n = archive_read_data(src->outer, src->buf.data(), src->buf.size());
  if (n < 0) {
    src->failed = true;
    archive_set_error(inner, EIO, "decompressing layer: %s", archive_error_string(src->outer));
    return -1;
  }
  src->hash.update(src->buf.data(), static_cast<size_t>(n));
  *out = src->buf.data();
  return n;
}

}  // namespace

Result<Digest> unpackLayer(const std::string& blob_path, const std::string& dest_dir) {
  char resolved[PATH_MAX];
  if (::realpath(dest_dir.c_str(), resolved) == nullptr) {
    return fsutil::errnoError("resolve", dest_dir, errno);
  }
  const std::string root = resolved;

  ReadArchive outer(archive_read_new());
  archive_read_support_filter_gzip(outer.get());
  archive_read_support_filter_zstd(outer.get());
  archive_read_support_format_raw(outer.get());
  if (archive_read_open_filename(outer.get(), blob_path.c_str(), kBlockSize) != ARCHIVE_OK) {
    return archiveError(outer.get(), "open layer " + blob_path);
  }
  archive_entry* raw_entry = nullptr;
  if (archive_read_next_header(outer.get(), &raw_entry) != ARCHIVE_OK) {
    return archiveError(outer.get(), "read layer " + blob_path);
  }

  DecompressedSource source;
  source.outer = outer.get();
  ReadArchive inner(archive_read_new());
  archive_read_support_format_tar(inner.get());
  if (archive_read_open(inner.get(), &source, nullptr, readDecompressed, nullptr) != ARCHIVE_OK) {
    return archiveError(inner.get(), "layer " + blob_path + " is not a tar archive");
  }

  WriteArchive disk(archive_write_disk_new());
  archive_write_disk_set_options(disk.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                                                 ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
                                                 ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                 ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  std::vector<std::string> opaque_dirs;
  while (true) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(inner.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return archiveError(inner.get(), "read layer " + blob_path);
    BERTH_ASSIGN_OR_RETURN(std::string rel, cleanPath(archive_entry_pathname(entry)));
    if (rel.empty()) continue;  // "./": the layer root is dest_dir itself.
    BERTH_RETURN_IF_ERROR(checkNoSymlinkParents(root, rel, rel));
    std::string dir = parentOf(rel);
    std::string base = dir.empty() ? rel : rel.substr(dir.size() + 1);

    if (base.rfind(kWhiteoutPrefix, 0) == 0) {
      if (!dir.empty()) BERTH_RETURN_IF_ERROR(fsutil::mkdirs(root + "/" + dir));
      if (base == kOpaqueWhiteout) {
        opaque_dirs.push_back(dir);
      } else if (base.rfind(".wh..wh.", 0) != 0) {  // Other ".wh..wh." names are AUFS metadata.
        std::string target =
            root + "/" + (dir.empty() ? "" : dir + "/") + base.substr(kWhiteoutPrefix.size());
        if (::mknod(target.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0 && errno != EEXIST) {
          return fsutil::errnoError("create whiteout device", target, errno);
        }
      }
      continue;
    }

    if (const char* link = archive_entry_hardlink(entry)) {
      BERTH_ASSIGN_OR_RETURN(std::string target, cleanPath(link));
      if (target.empty()) return unsafe(rel, "hard link to the layer root");
      BERTH_RETURN_IF_ERROR(checkNoSymlinkParents(root, target, rel));
      archive_entry_set_hardlink(entry, (root + "/" + target).c_str());
    }
    archive_entry_set_pathname(entry, (root + "/" + rel).c_str());
    if (archive_write_header(disk.get(), entry) < ARCHIVE_WARN) {
      return archiveError(disk.get(), "extract " + rel);
    }
    if (archive_entry_size(entry) > 0) {
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      while ((rc = archive_read_data_block(inner.get(), &buf, &size, &offset)) == ARCHIVE_OK) {
        if (archive_write_data_block(disk.get(), buf, size, offset) < ARCHIVE_WARN) {
          return archiveError(disk.get(), "write " + rel);
        }
      }
      if (rc != ARCHIVE_EOF) return archiveError(inner.get(), "read data of " + rel);
    }
    if (archive_write_finish_entry(disk.get()) < ARCHIVE_WARN) {
      return archiveError(disk.get(), "finish " + rel);
    }
  }
  // Applies the deferred directory modes and mtimes.
  if (archive_write_close(disk.get()) != ARCHIVE_OK)
    return archiveError(disk.get(), "finish layer");
  for (const auto& dir : opaque_dirs) {
    std::string path = dir.empty() ? root : root + "/" + dir;
    if (::lsetxattr(path.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
      return fsutil::errnoError("set trusted.overlay.opaque on", path, errno);
    }
  }
  // The tar's end-of-archive padding still belongs to the DiffID.
  while (true) {
    la_ssize_t n = archive_read_data(outer.get(), source.buf.data(), source.buf.size());
    if (n < 0) return archiveError(outer.get(), "decompress layer " + blob_path);
    if (n == 0) break;
    source.hash.update(source.buf.data(), static_cast<size_t>(n));
  }
  if (source.failed) return archiveError(outer.get(), "decompress layer " + blob_path);
  return source.hash.finish();
}

}  // namespace berth::runtime
