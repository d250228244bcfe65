// packLayer (declared in layer_unpack.h): one gzip tar of a directory tree.

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "runtime/image/fs_util.h"
#include "runtime/image/layer_unpack.h"

namespace berth::runtime {
namespace {

struct Sink {
  int fd = -1;
  archive* compressor = nullptr;  // raw format + gzip filter, writes to fd
  Sha256 diff_hash;               // over the tar bytes
  Sha256 blob_hash;               // over the gzip bytes
  int64_t size = 0;
  int err = 0;
};

// Compressed bytes: hash and append to the blob file.
la_ssize_t writeCompressed(archive*, void* ctx, const void* buf, size_t len) {
  auto* sink = static_cast<Sink*>(ctx);
  const char* p = static_cast<const char*>(buf);
  size_t off = 0;
  while (off < len) {
    ssize_t n = ::write(sink->fd, p + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      sink->err = errno;
      return -1;
    }
    off += static_cast<size_t>(n);
  }
  sink->blob_hash.update(buf, len);
  sink->size += static_cast<int64_t>(len);
  return static_cast<la_ssize_t>(len);
}

// Tar bytes: hash (the DiffID) and pass on to the compressor.
la_ssize_t writeTar(archive* a, void* ctx, const void* buf, size_t len) {
  auto* sink = static_cast<Sink*>(ctx);
  sink->diff_hash.update(buf, len);
  if (archive_write_data(sink->compressor, buf, len) < 0) {
    archive_set_error(a, EIO, "compress: %s", archive_error_string(sink->compressor));
    return -1;
  }
  return static_cast<la_ssize_t>(len);
}

Error archiveError(archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  return makeError(ErrorCode::kInternal, what + ": " + (msg ? msg : "unknown libarchive error"));
}

Status copyFile(const std::string& path, archive* tar) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return fsutil::errnoError("open", path, errno);
  char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fsutil::errnoError("read", path, err);
    }
    if (n == 0) break;
    if (archive_write_data(tar, buf, static_cast<size_t>(n)) < 0) {
      ::close(fd);
      return archiveError(tar, "write " + path);
    }
  }
  ::close(fd);
  return okStatus();
}

}  // namespace

Result<PackedLayer> packLayer(const std::string& src_dir, const std::string& out_path) {
  Sink sink;
  sink.fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (sink.fd < 0) return fsutil::errnoError("create", out_path, errno);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{sink.fd};

  std::unique_ptr<archive, decltype(&archive_write_free)> gz(archive_write_new(),
                                                             archive_write_free);
  archive_write_set_format_raw(gz.get());
  archive_write_add_filter_gzip(gz.get());
  archive_write_set_bytes_per_block(gz.get(), 0);
  if (archive_write_open(gz.get(), &sink, nullptr, writeCompressed, nullptr) != ARCHIVE_OK) {
    return archiveError(gz.get(), "open gzip writer");
  }
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> raw(archive_entry_new(),
                                                                    archive_entry_free);
  archive_entry_set_filetype(raw.get(), AE_IFREG);
  archive_entry_set_pathname(raw.get(), "layer.tar");
  if (archive_write_header(gz.get(), raw.get()) != ARCHIVE_OK)
    return archiveError(gz.get(), "gzip header");
  sink.compressor = gz.get();

  std::unique_ptr<archive, decltype(&archive_write_free)> tar(archive_write_new(),
                                                              archive_write_free);
  archive_write_set_format_pax_restricted(tar.get());
  if (archive_write_open(tar.get(), &sink, nullptr, writeTar, nullptr) != ARCHIVE_OK) {
    return archiveError(tar.get(), "open tar writer");
  }
  std::unique_ptr<archive, decltype(&archive_read_free)> disk(archive_read_disk_new(),
                                                              archive_read_free);
  archive_read_disk_set_symlink_physical(disk.get());
  archive_read_disk_set_behavior(disk.get(), ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
  if (archive_read_disk_open(disk.get(), src_dir.c_str()) != ARCHIVE_OK) {
    return archiveError(disk.get(), "open " + src_dir);
  }
  std::unique_ptr<archive_entry_linkresolver, decltype(&archive_entry_linkresolver_free)> links(
      archive_entry_linkresolver_new(), archive_entry_linkresolver_free);
  archive_entry_linkresolver_set_strategy(links.get(), ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  std::string prefix = src_dir;
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  prefix += '/';

  while (true) {
    archive_entry* entry = archive_entry_new();
    int rc = archive_read_next_header2(disk.get(), entry);
    if (rc == ARCHIVE_EOF) {
      archive_entry_free(entry);
      break;
    }
    if (rc < ARCHIVE_WARN) {
      archive_entry_free(entry);
      return archiveError(disk.get(), "walk " + src_dir);
    }
    archive_read_disk_descend(disk.get());
    std::string source = archive_entry_sourcepath(entry);
    if (source.size() <= prefix.size() || archive_entry_filetype(entry) == AE_IFSOCK) {
      archive_entry_free(entry);  // The root itself, or a socket (tar cannot hold one).
      continue;
    }
    archive_entry_set_pathname(entry, source.substr(prefix.size()).c_str());
    archive_entry* sparse = nullptr;
    // With the pax strategy linkify hands the entry back, turned into a
    // hard link when its inode was seen before.
    archive_entry_linkify(links.get(), &entry, &sparse);
    if (entry == nullptr) continue;
    bool has_data = archive_entry_filetype(entry) == AE_IFREG &&
                    archive_entry_hardlink(entry) == nullptr && archive_entry_size(entry) > 0;
    rc = archive_write_header(tar.get(), entry);
    archive_entry_free(entry);
    if (rc < ARCHIVE_WARN) return archiveError(tar.get(), "add " + source);
    if (has_data) BERTH_RETURN_IF_ERROR(copyFile(source, tar.get()));
  }
  if (archive_write_close(tar.get()) != ARCHIVE_OK) return archiveError(tar.get(), "finish tar");
  if (archive_write_close(gz.get()) != ARCHIVE_OK) {
    if (sink.err != 0) return fsutil::errnoError("write", out_path, sink.err);
    return archiveError(gz.get(), "finish gzip");
  }
  if (::fsync(sink.fd) != 0) return fsutil::errnoError("fsync", out_path, errno);
  PackedLayer out;
  out.digest = sink.blob_hash.finish();
  out.diff_id = sink.diff_hash.finish();
  out.size = sink.size;
  return out;
}

}  // namespace berth::runtime
