#pragma once

// Test helpers for runtime/image: temp dirs and in-memory tar, docker-archive
// and oci-archive builders over libarchive's write API. Included by tests only.

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "runtime/image/digest.h"
#include "runtime/image/fs_util.h"
#include "runtime/image/manifest.h"

namespace berth::runtime::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-image-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fsutil::removeAll(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

struct TarEntry {
  std::string path;
  char type = 'f';  // f file, d dir, l symlink, h hardlink
  std::string data;
  int mode = 0644;
  std::string link;  // symlink or hardlink target
  int64_t uid = 0, gid = 0;
  int64_t mtime = 1700000000;
  std::map<std::string, std::string> xattrs;
};

inline TarEntry file(std::string path, std::string data, int mode = 0644) {
  return TarEntry{std::move(path), 'f', std::move(data), mode};
}
inline TarEntry dir(std::string path, int mode = 0755) {
  return TarEntry{std::move(path), 'd', "", mode};
}
inline TarEntry symlink(std::string path, std::string target) {
  TarEntry e{std::move(path), 'l', "", 0777};
  e.link = std::move(target);
  return e;
}
inline TarEntry hardlink(std::string path, std::string target) {
  TarEntry e{std::move(path), 'h', "", 0644};
  e.link = std::move(target);
  return e;
}

enum class Compression { kNone, kGzip, kZstd };

inline la_ssize_t appendToString(archive*, void* ctx, const void* buf, size_t len) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

inline void addFilter(archive* a, Compression c) {
  if (c == Compression::kGzip) archive_write_add_filter_gzip(a);
  if (c == Compression::kZstd) archive_write_add_filter_zstd(a);
}

inline std::string makeTar(const std::vector<TarEntry>& entries,
                           Compression c = Compression::kNone) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  addFilter(a, c);
  // No padding of the output to a 10 KiB block: with a compression filter
  // the padding would go after the compressed stream, and the DiffID of the
  // plain tar would not be that of the decompressed blob.
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(a, &out, nullptr, appendToString, nullptr);
  for (const auto& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_perm(ae, e.mode);
    archive_entry_set_uid(ae, e.uid);
    archive_entry_set_gid(ae, e.gid);
    archive_entry_set_mtime(ae, e.mtime, 0);
    for (const auto& [k, v] : e.xattrs)
      archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
    if (e.type == 'd') archive_entry_set_filetype(ae, AE_IFDIR);
    if (e.type == 'f' || e.type == 'h') archive_entry_set_filetype(ae, AE_IFREG);
    if (e.type == 'l') {
      archive_entry_set_filetype(ae, AE_IFLNK);
      archive_entry_set_symlink(ae, e.link.c_str());
    }
    if (e.type == 'h') archive_entry_set_hardlink(ae, e.link.c_str());
    if (e.type == 'f') archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
    EXPECT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << archive_error_string(a);
    if (e.type == 'f' && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A layer: its blob bytes (maybe compressed), media type and DiffID.
struct Layer {
  std::string blob;
  Digest diff_id;
  std::string media_type;
};

inline Layer makeLayer(const std::vector<TarEntry>& entries, Compression c = Compression::kNone) {
  Layer l;
  l.diff_id = Digest::of(makeTar(entries));
  l.blob = makeTar(entries, c);
  l.media_type = c == Compression::kGzip   ? std::string(media::kOciLayerGzip)
                 : c == Compression::kZstd ? std::string(media::kOciLayerZstd)
                                           : std::string(media::kOciLayer);
  return l;
}

inline std::string makeConfig(const std::vector<Layer>& layers,
                              const std::string& extra_config = "{}",
                              const std::string& arch = "amd64") {
  boost::json::array ids;
  for (const auto& l : layers) ids.emplace_back(l.diff_id.str());
  boost::json::object root{{"architecture", arch},
                           {"os", "linux"},
                           {"created", "2024-01-02T03:04:05Z"},
                           {"config", boost::json::parse(extra_config)},
                           {"rootfs", boost::json::object{{"type", "layers"}, {"diff_ids", ids}}}};
  return boost::json::serialize(root);
}

inline void writeFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// An outer archive of whole files (docker-archive / oci-archive).
inline std::string makeArchive(const std::vector<std::pair<std::string, std::string>>& files,
                               Compression c = Compression::kNone) {
  std::vector<TarEntry> entries;
  for (const auto& [p, d] : files) entries.push_back(file(p, d));
  return makeTar(entries, c);
}

struct DockerImage {
  std::vector<std::string> tags;
  std::vector<Layer> layers;
  std::string config;
};

// docker save's layout: <config hex>.json, <n>/layer.tar, manifest.json.
inline std::string makeDockerArchive(const std::vector<DockerImage>& images,
                                     Compression c = Compression::kNone) {
  std::vector<std::pair<std::string, std::string>> files;
  boost::json::array manifest;
  for (const auto& img : images) {
    std::string config_name = Digest::of(img.config).hex() + ".json";
    files.emplace_back(config_name, img.config);
    boost::json::array layer_paths, tags;
    for (const auto& l : img.layers) {
      std::string p = Digest::of(l.blob).hex() + "/layer.tar";
      files.emplace_back(p, l.blob);
      layer_paths.emplace_back(p);
    }
    for (const auto& t : img.tags) tags.emplace_back(t);
    manifest.push_back(
        boost::json::object{{"Config", config_name}, {"RepoTags", tags}, {"Layers", layer_paths}});
  }
  files.emplace_back("manifest.json", boost::json::serialize(manifest));
  return makeArchive(files, c);
}

inline boost::json::object descriptor(std::string_view media_type, const std::string& blob) {
  return boost::json::object{{"mediaType", media_type},
                             {"digest", Digest::of(blob).str()},
                             {"size", static_cast<int64_t>(blob.size())}};
}

inline std::string makeOciManifest(const std::string& config, const std::vector<Layer>& layers) {
  boost::json::array ls;
  for (const auto& l : layers) ls.push_back(descriptor(l.media_type, l.blob));
  return boost::json::serialize(
      boost::json::object{{"schemaVersion", 2},
                          {"mediaType", media::kOciManifest},
                          {"config", descriptor(media::kOciConfig, config)},
                          {"layers", ls}});
}

// An OCI layout: oci-layout, index.json (entries given as JSON objects) and blobs.
inline std::string makeOciArchive(const boost::json::array& index_manifests,
                                  const std::vector<std::string>& blobs,
                                  Compression c = Compression::kNone) {
  std::vector<std::pair<std::string, std::string>> files;
  files.emplace_back("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  files.emplace_back(
      "index.json",
      boost::json::serialize(boost::json::object{
          {"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", index_manifests}}));
  for (const auto& b : blobs) files.emplace_back("blobs/sha256/" + Digest::of(b).hex(), b);
  return makeArchive(files, c);
}

}  // namespace berth::runtime::testing
