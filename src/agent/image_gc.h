#pragma once

// Image garbage collection, after the kubelet's image GC manager
// (pkg/kubelet/images/image_gc_manager.go: detectImages, GarbageCollect,
// freeSpace). When the image filesystem is used at or above
// imageGCHighThresholdPercent, unused images are deleted least recently
// used first until usage would be below imageGCLowThresholdPercent; an image
// seen for less than imageMinimumGCAge is kept, and so is any image a
// container (running or exited) was created from.
//
// The choice is a pure function; ImageGc keeps the per-image times across
// calls as the kubelet's imageRecords do, and deletes through a callback so
// tests use fakes and the agent uses its ImageStore.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace berth::runtime {
class ImageStore;
struct ImageRecord;
struct ContainerInfo;
}  // namespace berth::runtime

namespace berth::agent {

using TimePoint = std::chrono::system_clock::time_point;

// Node event reasons (pkg/kubelet/events).
inline constexpr const char* kReasonFreeDiskSpaceFailed = "FreeDiskSpaceFailed";
inline constexpr const char* kReasonImageGcFailed = "ImageGCFailed";
inline constexpr const char* kReasonInvalidDiskCapacity = "InvalidDiskCapacity";

struct ImageInfo {
  std::string id;  // "sha256:<config digest>"
  std::vector<std::string> names;
  uint64_t size = 0;
  TimePoint last_used{};   // last seen in use by a container; epoch: never
  TimePoint first_seen{};  // first listed (imageRecord.firstDetected)
};

// KubeletConfiguration's imageGCHighThresholdPercent,
// imageGCLowThresholdPercent and imageMinimumGCAge defaults.
struct ImageGcPolicy {
  int high_percent = 85;
  int low_percent = 80;
  std::chrono::seconds min_age{120};
};

// GarbageCollect's amount to free: capacity*(100-low)/100 - available when
// the usage percent (100 - available*100/capacity, integer) is at or above
// high; 0 otherwise or when capacity is 0. `available` above `capacity`
// counts as `capacity`.
uint64_t bytesToFree(uint64_t capacity, uint64_t available, const ImageGcPolicy& policy);

// freeSpace's choice: images not in `in_use_ids`, not used at or after
// `now`, seen at least min_age ago, ordered by last_used then first_seen
// (oldest first), taken until their sizes reach `bytes_to_free`.
std::vector<std::string> selectImagesToFree(uint64_t bytes_to_free,
                                            const std::vector<ImageInfo>& images,
                                            const std::set<std::string>& in_use_ids,
                                            const ImageGcPolicy& policy, TimePoint now);

// The ids to remove, in order, for a filesystem of `capacity` bytes with
// `available` free: bytesToFree, then selectImagesToFree.
std::vector<std::string> imagesToCollect(uint64_t capacity, uint64_t available,
                                         const std::vector<ImageInfo>& images,
                                         const std::set<std::string>& in_use_ids,
                                         const ImageGcPolicy& policy, TimePoint now);

// GarbageCollect's error when not enough was eligible, the message of both
// the FreeDiskSpaceFailed and (when repeated) ImageGCFailed events:
// "Failed to garbage collect required amount of images. Attempted to free
// X bytes, but only found Y bytes eligible to free."
std::string freeDiskSpaceFailedMessage(uint64_t attempted, uint64_t found);

struct ImageGcOutcome {
  std::vector<std::string> removed;  // ids, in removal order
  uint64_t required = 0;             // bytesToFree
  uint64_t freed = 0;                // sizes of the images removed
  // Non-empty when the run failed: the error text (freeDiskSpaceFailedMessage,
  // "invalid capacity 0 on image filesystem", or removal errors).
  std::string error;
  // Warning events on the node to record, reason -> message, in order:
  // FreeDiskSpaceFailed / InvalidDiskCapacity at every failure, ImageGCFailed
  // when the previous run failed too (StartGarbageCollection).
  std::vector<std::pair<std::string, std::string>> events;
};

// Stateful image GC for the agent's status loop (one per node; not
// thread-safe: call it from one strand).
class ImageGc {
 public:
  using RemoveFn = std::function<Status(const ImageInfo&)>;

  explicit ImageGc(ImageGcPolicy policy = {}) : policy_(policy) {}

  // detectImages: records first_seen = now for ids not seen before,
  // last_used = now for ids in `in_use_ids`, forgets ids no longer listed.
  // Returns `images` with the remembered times filled in.
  std::vector<ImageInfo> observe(const std::vector<ImageInfo>& images,
                                 const std::set<std::string>& in_use_ids, TimePoint now);

  // GarbageCollect: observe, then remove what imagesToCollect chose through
  // `remove` (a failed removal frees nothing and is reported), and report
  // the shortfall as upstream does.
  ImageGcOutcome garbageCollect(uint64_t capacity, uint64_t available,
                                const std::vector<ImageInfo>& images,
                                const std::set<std::string>& in_use_ids, TimePoint now,
                                const RemoveFn& remove);

  const ImageGcPolicy& policy() const { return policy_; }

 private:
  struct Record {
    TimePoint first_seen{};
    TimePoint last_used{};
  };
  ImageGcPolicy policy_;
  std::map<std::string, Record> records_;
  bool previous_failed_ = false;
};

// --- adapters to berth's runtime ---

// The store's records as images, one per id (tags of one image share it).
std::vector<ImageInfo> imagesFromRecords(const std::vector<runtime::ImageRecord>& records);
// The image ids of every container the ContainerManager has (running or
// exited), as the kubelet counts images in use.
std::set<std::string> inUseImageIds(const std::vector<runtime::ContainerInfo>& containers);
// Deletes an image from the store: every name, then the id when untagged
// (ImageStore::remove refuses an id several names share).
Status removeFromStore(runtime::ImageStore& store, const ImageInfo& image);

}  // namespace berth::agent
