#pragma once

// berth's node image store: content-addressed blobs, named image records and
// unpacked layers that overlayfs can stack, in the spirit of containerd's
// content store + metadata + overlay snapshotter, in one directory:
//
//   <root>/blobs/sha256/<hex>         blobs (manifests, indexes, configs, layers)
//   <root>/images.json                image records, replaced atomically
//   <root>/layers/<chain-id hex>/fs   an unpacked layer (a lowerdir)
//   <root>/layers/<chain-id hex>/committed   written last: the layer is complete
//   <root>/tmp/                       blobs and layers being written
//
// All methods are thread-safe. Several processes may open the same root
// (the agent and `berth image`): records are re-read when images.json
// changed and updated under an flock, and layers are unpacked into a temp
// directory and renamed into place, so a layer is never seen half-done.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/image/digest.h"
#include "runtime/image/manifest.h"

namespace berth::runtime {

struct ImageRecord {
  std::string name;  // normalized reference "docker.io/library/busybox:latest"; empty when untagged
  Digest target;     // what was committed: the manifest, or the index it was resolved from
  std::string target_media_type;
  Digest manifest;             // the linux/amd64 image manifest
  Digest config;               // the image ID
  std::vector<Digest> layers;  // layer blobs, bottom first
  std::vector<std::string> layer_media_types;
  std::vector<Digest> diff_ids;
  std::vector<std::string> repo_digests;  // "docker.io/library/busybox@sha256:..."
  int64_t size = 0;                       // bytes of manifest, config and layer blobs
  std::string created;                    // the config's "created" (RFC 3339)

  std::string id() const { return config.str(); }
  // Every blob the record keeps alive.
  std::vector<Digest> blobs() const;
};

// What the agent needs to run a container from an image.
struct Rootfs {
  std::vector<std::string> lowerdirs;  // topmost layer first, as overlayfs lowerdir= wants
  ImageConfig config;
  ImageRecord image;
};

struct DiskUsage {
  size_t images = 0, blobs = 0, layers = 0;
  uint64_t blob_bytes = 0, layer_bytes = 0;
};

// Streams blob bytes: fills up to `cap` bytes of `buf`, returns 0 at the end.
using BlobReader = std::function<Result<size_t>(char* buf, size_t cap)>;

class ImageStore {
 public:
  // Creates the layout under `root_dir` if needed and reads images.json.
  static Result<std::unique_ptr<ImageStore>> open(const std::string& root_dir);
  ~ImageStore();
  ImageStore(const ImageStore&) = delete;
  ImageStore& operator=(const ImageStore&) = delete;

  // --- ingest (used by importArchive, pack and the registry puller) ---

  // Stores a blob read from `reader`, verifying that its SHA-256 is
  // `expected`; a mismatch is an Invalid error and nothing is stored. A blob
  // already present is not read again.
  Result<Digest> writeBlob(const Digest& expected, const BlobReader& reader);
  Result<Digest> writeBlob(const Digest& expected, std::string_view bytes);
  bool hasBlob(const Digest& digest) const;
  std::string blobPath(const Digest& digest) const;
  Result<std::string> readBlob(const Digest& digest) const;

  // Records `name` -> the image whose manifest (or index / manifest list,
  // resolved to linux/amd64) is `manifest_bytes`. Stores the manifest bytes
  // as a blob; the config and layer blobs must already be present. An empty
  // `media_type` is read from the document. An empty `name` records an
  // untagged image (found by ID). Re-tagging replaces the older record.
  Result<ImageRecord> commitImage(const std::string& name, std::string_view manifest_bytes,
                                  std::string_view media_type = "");

  // --- the `berth image` verbs ---

  // Imports a docker-archive (`docker save`) or oci-archive, optionally
  // gzip-compressed. OCI images are named from io.containerd.image.name or
  // org.opencontainers.image.ref.name; a bare tag there ("latest") is
  // appended to `default_name` when given.
  Result<std::vector<ImageRecord>> importArchive(const std::string& path,
                                                 const std::string& default_name = "");
  // An image of the tree under `dir`: one gzip layer, a linux/amd64 config
  // with the overrides.
  Result<ImageRecord> pack(const std::string& dir, const std::string& name,
                           const ImageConfigOverrides& overrides);
  std::vector<ImageRecord> list();
  // By normalized name ("busybox" finds docker.io/library/busybox:latest),
  // repo digest (name@sha256:...), or a prefix of the ID / manifest digest
  // ("sha256:ab12", "ab12"). NotFound, or Invalid when a prefix is ambiguous.
  Result<ImageRecord> find(const std::string& ref);
  // Untags `ref` (by name; by ID only when one name refers to it, else
  // Conflict as `docker rmi` does) and deletes the blobs and unpacked layers
  // no remaining image uses. The caller keeps images of running containers.
  Status remove(const std::string& ref);
  DiskUsage diskUsage();

  // Unpacks every layer of `ref` once (checking each against the config's
  // rootfs.diff_ids) and returns the lowerdirs and the parsed config.
  Result<Rootfs> prepare(const std::string& ref);

  // How many layers this store object has unpacked (for tests and metrics).
  uint64_t layersUnpacked() const;

 private:
  explicit ImageStore(std::string root);
  struct Ingested {
    Digest digest;
    int64_t size = 0;
    bool created = false;  // false: the blob was already present
  };
  friend class ArchiveImporter;
  // `expected` null: the digest is computed, not checked.
  Result<Ingested> ingest(const Digest* expected, const BlobReader& reader);
  Status refreshLocked();
  Status persistLocked();
  Result<ImageRecord> findLocked(const std::string& ref, std::vector<size_t>* matches);
  Result<ImageRecord> buildRecord(const std::string& name, std::string_view bytes,
                                  std::string_view media_type);
  // Deletes those `candidates` no record references (blobs) and layers whose
  // chain IDs no record has. Holds mu_.
  void collectLocked(const std::set<Digest>& blob_candidates,
                     const std::set<Digest>& layer_candidates);
  Status unpackOne(const Digest& chain_id, const Digest& diff_id, const Digest& blob,
                   const std::string& layer_dir);
  std::string layerDir(const Digest& chain_id) const;
  std::string tmpPath(std::string_view kind) const;

  const std::string root_;
  mutable std::mutex mu_;
  std::condition_variable unpack_done_;
  std::vector<ImageRecord> records_;  // guarded by mu_
  std::string records_stamp_;         // images.json inode/mtime/size seen last
  std::set<Digest> unpacking_;        // chain IDs being unpacked by this object
  uint64_t layers_unpacked_ = 0;
  int lock_fd_ = -1;  // <root>/lock, flocked around record updates
};

}  // namespace berth::runtime
