#pragma once

// Pulls an image from a registry into the ImageStore, as the kubelet's image
// manager asks the runtime to (CRI PullImage): resolve the reference to a
// manifest (an index or manifest list resolved to linux/amd64), download the
// config and layer blobs a few at a time, each streamed through
// ImageStore::writeBlob and so verified against its digest, skip blobs the
// store has, then record the image under its normalized name.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "runtime/image/digest.h"
#include "runtime/image/image_store.h"
#include "runtime/image/registry_client.h"

namespace berth::runtime {

// One blob's progress, for a CLI progress display or pull events.
struct PullProgress {
  enum class Kind { kManifest, kConfig, kLayer };
  Kind kind = Kind::kLayer;
  Digest digest;
  int64_t done = 0;       // bytes written so far
  int64_t total = 0;      // from the manifest's descriptor
  bool cached = false;    // already in the store; not downloaded
  bool finished = false;  // the last call for this blob (verified and stored)
};

// Called from download threads, one call at a time (the puller serializes them).
using PullProgressCallback = std::function<void(const PullProgress&)>;

struct PullerOptions {
  int parallel_downloads = 3;  // as the kubelet's default for containerd's max_concurrent_downloads
  // Progress calls per blob are throttled to one per this many bytes.
  int64_t progress_step_bytes = 256 * 1024;
};

class Puller {
 public:
  Puller(ImageStore& store, RegistryClient& client, PullerOptions options = {});

  // Pulls `reference` ("busybox", "registry:5000/app:1", "name@sha256:...").
  // Credentials matching the image are tried in turn, as the kubelet does
  // (the first that works wins); with none, the pull is anonymous. The image
  // is recorded as name:tag and, when pulled by digest, as name@digest.
  // Errors (prefixed `failed to pull and unpack image "<ref>"` or
  // `failed to resolve reference "<ref>"`): Unauthorized, NotFound (unknown
  // tag or digest, or no linux/amd64 entry in an index), Invalid (digest
  // mismatch), Unavailable (connection refused, timeouts).
  Result<ImageRecord> pull(std::string_view reference, const DockerKeyring& credentials,
                           const PullProgressCallback& progress = {});

 private:
  Result<ImageRecord> pullWith(const ImageReference& ref, const RegistryAuth* auth,
                               const PullProgressCallback& progress);
  // Streams one blob into the store unless it is there; stops early once
  // `cancel` is set (another download of the same pull failed).
  Status downloadBlob(const ImageReference& ref, const Descriptor& desc, PullProgress::Kind kind,
                      const RegistryAuth* auth, const std::atomic<bool>& cancel,
                      const PullProgressCallback& report);

  ImageStore& store_;
  RegistryClient& client_;
  PullerOptions options_;
};

}  // namespace berth::runtime
