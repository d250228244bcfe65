#pragma once

// OCI image-spec and Docker image-manifest-v2-schema2 documents: media types,
// descriptors, manifests, indexes (manifest lists) and the image config.
// Parsing never throws; malformed documents are Invalid errors.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runtime/image/digest.h"

namespace berth::runtime {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerZstd =
    "application/vnd.docker.image.rootfs.diff.tar.zstd";
inline constexpr std::string_view kDockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

bool isManifest(std::string_view media_type);
bool isIndex(std::string_view media_type);
bool isConfig(std::string_view media_type);
bool isLayer(std::string_view media_type);
}  // namespace media

// The OCI platform the node runs; indexes are resolved to it.
inline constexpr std::string_view kPlatformOs = "linux";
inline constexpr std::string_view kPlatformArch = "amd64";

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::string os, architecture, variant;  // platform, in index entries
  std::map<std::string, std::string> annotations;
};

// An image manifest (OCI or Docker schema2).
struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};

// An image index or Docker manifest list.
struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

// The media type of a manifest-ish document: `hint` when given, else its
// "mediaType" field, else inferred ("manifests" -> OCI index, else OCI manifest).
std::string sniffMediaType(std::string_view bytes, std::string_view hint);
Result<Manifest> parseManifest(std::string_view bytes);
Result<Index> parseIndex(std::string_view bytes);
// The linux/amd64 entry of an index; NotFound when there is none.
Result<Descriptor> selectPlatform(const Index& index);

// The parts of the image config (OCI "config" / Docker "container_config")
// the agent needs to build the container's process.
struct ImageConfig {
  std::string os, architecture, created;
  std::vector<std::string> env;         // "KEY=value"
  std::vector<std::string> entrypoint;  // empty = none
  std::vector<std::string> cmd;
  std::string working_dir;
  std::string user;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::vector<Digest> diff_ids;  // rootfs.diff_ids, bottom layer first
};

Result<ImageConfig> parseImageConfig(std::string_view bytes);

// What `berth image pack` sets in the config of a packed image.
struct ImageConfigOverrides {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
  std::map<std::string, std::string> labels;
};

// An OCI image config JSON for linux/amd64 with the given layers' diff IDs.
std::string buildImageConfig(const ImageConfigOverrides& overrides,
                             const std::vector<Digest>& diff_ids, std::string_view created);
// An OCI image manifest JSON.
std::string buildOciManifest(const Descriptor& config, const std::vector<Descriptor>& layers);

// ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))  (OCI image
// spec, config.md).
std::vector<Digest> chainIds(const std::vector<Digest>& diff_ids);

}  // namespace berth::runtime
