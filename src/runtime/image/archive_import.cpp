// ImageStore::importArchive: docker-archive (`docker save`) and oci-archive
// (OCI image layout in a tar) import, through the store's blob ingest and
// commitImage like any other image source.

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "api/kinds/access.h"
#include "common/log.h"
#include "runtime/image/fs_util.h"
#include "runtime/image/image_store.h"
#include "runtime/image/reference.h"

namespace berth::runtime {

namespace json = boost::json;

namespace {

constexpr size_t kMaxMetadataSize = 16 << 20;
// containerd's own name annotation wins over the OCI one, as in containerd's importer.
constexpr std::string_view kContainerdImageName = "io.containerd.image.name";
constexpr std::string_view kOciRefName = "org.opencontainers.image.ref.name";

std::string cleanName(std::string p) {
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p;
}

// Resolves "a/b/../c" style link targets relative to the link's directory.
std::string joinRelative(const std::string& from, const std::string& target) {
  std::vector<std::string> parts;
  std::string base = from.find('/') == std::string::npos ? "" : from.substr(0, from.rfind('/'));
  std::string all =
      target.rfind('/', 0) == 0 ? target.substr(1) : (base.empty() ? target : base + "/" + target);
  size_t start = 0;
  while (start <= all.size()) {
    size_t slash = all.find('/', start);
    if (slash == std::string::npos) slash = all.size();
    std::string comp = all.substr(start, slash - start);
    if (comp == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!comp.empty() && comp != ".") {
      parts.push_back(comp);
    }
    start = slash + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

std::string layerMediaType(const std::string& blob_path) {
  unsigned char magic[4] = {0, 0, 0, 0};
  int fd = ::open(blob_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!::read(fd, magic, sizeof magic);
    ::close(fd);
  }
  if (magic[0] == 0x1f && magic[1] == 0x8b) return std::string(media::kDockerLayerGzip);
  if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) {
    return std::string(media::kDockerLayerZstd);
  }
  return std::string(media::kDockerLayer);
}

}  // namespace

class ArchiveImporter {
 public:
  ArchiveImporter(ImageStore& store, std::string default_name)
      : store_(store), default_name_(std::move(default_name)) {}

  Result<std::vector<ImageRecord>> run(const std::string& path) {
    auto result = readAndCommit(path);
    // Blobs this import brought that no image ended up using (an error
    // part-way, or files the manifests never mention) are not kept.
    std::lock_guard<std::mutex> lk(store_.mu_);
    store_.collectLocked(created_, {});
    return result;
  }

 private:
  struct Blob {
    Digest digest;
    int64_t size = 0;
  };

  Result<std::vector<ImageRecord>> readAndCommit(const std::string& path) {
    BERTH_RETURN_IF_ERROR(readArchive(path));
    if (metadata_.count("manifest.json")) return importDocker();
    if (metadata_.count("index.json")) return importOci();
    return makeError(ErrorCode::kInvalid, path +
                                              " is neither a docker-archive (manifest.json) nor an "
                                              "oci-archive (index.json)");
  }

  Status readArchive(const std::string& path) {
    std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_filename(a.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK) {
      return makeError(ErrorCode::kInvalid,
                       "open archive " + path + ": " + archive_error_string(a.get()));
    }
    while (true) {
      archive_entry* entry = nullptr;
      int rc = archive_read_next_header(a.get(), &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) {
        return makeError(ErrorCode::kInvalid,
                         "read archive " + path + ": " + archive_error_string(a.get()));
      }
      std::string name = cleanName(archive_entry_pathname(entry));
      if (const char* hl = archive_entry_hardlink(entry)) {
        links_[name] = cleanName(hl);
        continue;
      }
      if (archive_entry_filetype(entry) == AE_IFLNK) {
        links_[name] = joinRelative(name, archive_entry_symlink(entry));
        continue;
      }
      if (archive_entry_filetype(entry) != AE_IFREG) continue;
      BlobReader reader = [&](char* buf, size_t cap) -> Result<size_t> {
        la_ssize_t n = archive_read_data(a.get(), buf, cap);
        if (n < 0) {
          return makeError(ErrorCode::kInvalid,
                           "read " + name + " from " + path + ": " + archive_error_string(a.get()));
        }
        return static_cast<size_t>(n);
      };
      if (name == "manifest.json" || name == "index.json" || name == "oci-layout" ||
          name == "repositories") {
        std::string bytes;
        char buf[64 * 1024];
        while (true) {
          BERTH_ASSIGN_OR_RETURN(size_t n, reader(buf, sizeof buf));
          if (n == 0) break;
          bytes.append(buf, n);
          if (bytes.size() > kMaxMetadataSize)
            return makeError(ErrorCode::kInvalid, name + " is too large");
        }
        metadata_[name] = std::move(bytes);
        continue;
      }
      // Everything else is content: OCI blobs are checked against their
      // names; docker-archive files (config JSON, layer tars) are hashed.
      std::optional<Digest> expected;
      if (name.rfind("blobs/", 0) == 0) {
        std::string rest = name.substr(6);  // "sha256/<hex>" -> "sha256:<hex>"
        size_t slash = rest.find('/');
        auto d = Digest::parse(slash == std::string::npos ? rest : rest.replace(slash, 1, ":"));
        if (!d.ok())
          return makeError(ErrorCode::kInvalid,
                           "archive member " + name + ": " + d.error().message);
        expected = *d;
      }
      BERTH_ASSIGN_OR_RETURN(ImageStore::Ingested in,
                             store_.ingest(expected ? &*expected : nullptr, reader));
      if (in.created) created_.insert(in.digest);
      files_[name] = Blob{in.digest, in.size};
    }
    return okStatus();
  }

  Result<Blob> file(const std::string& name) const {
    std::string n = cleanName(name);
    for (int hops = 0; hops < 8; ++hops) {
      auto link = links_.find(n);
      if (link == links_.end()) break;
      n = link->second;
    }
    auto it = files_.find(n);
    if (it == files_.end()) return makeError(ErrorCode::kInvalid, "archive has no file " + name);
    return it->second;
  }

  // docker save: manifest.json lists, per image, its config file, layer
  // tars (bottom first) and RepoTags. The image is recorded under a Docker
  // schema2 manifest built from them, as containerd's importer does.
  Result<std::vector<ImageRecord>> importDocker() {
    json::error_code ec;
    json::value v = json::parse(metadata_["manifest.json"], ec);
    if (ec || !v.is_array())
      return makeError(ErrorCode::kInvalid, "docker-archive manifest.json is not a JSON array");
    std::vector<ImageRecord> out;
    for (const auto& item : v.as_array()) {
      const auto* obj = api::asObj(&item);
      if (!obj)
        return makeError(ErrorCode::kInvalid,
                         "docker-archive manifest.json entry is not an object");
      BERTH_ASSIGN_OR_RETURN(Blob config, file(api::strAt(*obj, {"Config"})));
      json::array layers;
      if (const auto* ls = api::arrAt(*obj, {"Layers"})) {
        for (const auto& l : *ls) {
          BERTH_ASSIGN_OR_RETURN(Blob layer, file(api::asStr(&l)));
          layers.push_back(
              json::object{{"mediaType", layerMediaType(store_.blobPath(layer.digest))},
                           {"size", layer.size},
                           {"digest", layer.digest.str()}});
        }
      }
      json::object manifest{{"schemaVersion", 2},
                            {"mediaType", media::kDockerManifest},
                            {"config", json::object{{"mediaType", media::kDockerConfig},
                                                    {"size", config.size},
                                                    {"digest", config.digest.str()}}},
                            {"layers", std::move(layers)}};
      std::string bytes = json::serialize(manifest);
      std::vector<std::string> tags;
      if (const auto* ts = api::arrAt(*obj, {"RepoTags"})) {
        for (const auto& t : *ts) tags.push_back(api::asStr(&t));
      }
      if (tags.empty()) tags.push_back("");
      for (const auto& tag : tags) {
        BERTH_ASSIGN_OR_RETURN(ImageRecord rec,
                               store_.commitImage(tag, bytes, media::kDockerManifest));
        out.push_back(std::move(rec));
      }
    }
    return out;
  }

  // oci-archive: index.json names the images (manifests or nested indexes)
  // whose blobs are under blobs/sha256/.
  Result<std::vector<ImageRecord>> importOci() {
    BERTH_ASSIGN_OR_RETURN(Index index, parseIndex(metadata_["index.json"]));
    std::vector<ImageRecord> out;
    for (const auto& desc : index.manifests) {
      BERTH_ASSIGN_OR_RETURN(std::string name, imageName(desc));
      BERTH_ASSIGN_OR_RETURN(std::string bytes, store_.readBlob(desc.digest));
      BERTH_ASSIGN_OR_RETURN(ImageRecord rec, store_.commitImage(name, bytes, desc.media_type));
      out.push_back(std::move(rec));
    }
    return out;
  }

  Result<std::string> imageName(const Descriptor& desc) const {
    auto it = desc.annotations.find(std::string(kContainerdImageName));
    if (it != desc.annotations.end()) return it->second;
    it = desc.annotations.find(std::string(kOciRefName));
    if (it == desc.annotations.end()) return std::string();
    const std::string& ref = it->second;
    if (ref.find_first_of("/:@") != std::string::npos) return ref;
    // A bare tag ("latest"), as skopeo and buildah write into an OCI layout.
    if (default_name_.empty()) {
      BERTH_LOG(kWarning, "image")
          << "oci-archive image has only a tag and no default name; importing untagged tag=" << ref;
      return std::string();
    }
    BERTH_ASSIGN_OR_RETURN(ImageReference base, parseReference(default_name_));
    return base.name() + ":" + ref;
  }

  ImageStore& store_;
  std::string default_name_;
  std::map<std::string, std::string> metadata_;  // manifest.json, index.json, ...
  std::map<std::string, Blob> files_;            // archive path -> stored blob
  std::map<std::string, std::string> links_;     // archive path -> the path it links to
  std::set<Digest> created_;
};

Result<std::vector<ImageRecord>> ImageStore::importArchive(const std::string& path,
                                                           const std::string& default_name) {
  ArchiveImporter importer(*this, default_name);
  return importer.run(path);
}

}  // namespace berth::runtime
