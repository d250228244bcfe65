#include "agent/image_gc.h"

#include <algorithm>

#include "runtime/image/image_store.h"
#include "runtime/pod/container_manager.h"

namespace berth::agent {

namespace {

// freeSpace's candidates in eviction order (byLastUsedAndDetected): not in
// use, not used at or after `now`, old enough.
std::vector<const ImageInfo*> eligibleImages(const std::vector<ImageInfo>& images,
                                             const std::set<std::string>& in_use_ids,
                                             const ImageGcPolicy& policy, TimePoint now) {
  std::vector<const ImageInfo*> out;
  for (const ImageInfo& image : images) {
    if (in_use_ids.count(image.id)) continue;
    if (image.last_used >= now) continue;
    if (now - image.first_seen < policy.min_age) continue;
    out.push_back(&image);
  }
  std::stable_sort(out.begin(), out.end(), [](const ImageInfo* a, const ImageInfo* b) {
    if (a->last_used != b->last_used) return a->last_used < b->last_used;
    return a->first_seen < b->first_seen;
  });
  return out;
}

}  // namespace

uint64_t bytesToFree(uint64_t capacity, uint64_t available, const ImageGcPolicy& policy) {
  if (capacity == 0) return 0;
  available = std::min(available, capacity);
  // Integer percent as upstream: 100 - int(available*100/capacity).
  int usage_percent =
      100 - static_cast<int>(static_cast<unsigned __int128>(available) * 100 / capacity);
  if (usage_percent < policy.high_percent) return 0;
  uint64_t target_free = static_cast<uint64_t>(static_cast<unsigned __int128>(capacity) *
                                               (100 - policy.low_percent) / 100);
  return target_free > available ? target_free - available : 0;
}

std::vector<std::string> selectImagesToFree(uint64_t bytes_to_free,
                                            const std::vector<ImageInfo>& images,
                                            const std::set<std::string>& in_use_ids,
                                            const ImageGcPolicy& policy, TimePoint now) {
  std::vector<std::string> out;
  if (bytes_to_free == 0) return out;
  uint64_t freed = 0;
  for (const ImageInfo* image : eligibleImages(images, in_use_ids, policy, now)) {
    out.push_back(image->id);
    freed += image->size;
    if (freed >= bytes_to_free) break;
  }
  return out;
}

std::vector<std::string> imagesToCollect(uint64_t capacity, uint64_t available,
                                         const std::vector<ImageInfo>& images,
                                         const std::set<std::string>& in_use_ids,
                                         const ImageGcPolicy& policy, TimePoint now) {
  return selectImagesToFree(bytesToFree(capacity, available, policy), images, in_use_ids, policy,
                            now);
}

std::string freeDiskSpaceFailedMessage(uint64_t attempted, uint64_t found) {
  return "Failed to garbage collect required amount of images. Attempted to free " +
         std::to_string(attempted) + " bytes, but only found " + std::to_string(found) +
         " bytes eligible to free.";
}

std::vector<ImageInfo> ImageGc::observe(const std::vector<ImageInfo>& images,
                                        const std::set<std::string>& in_use_ids, TimePoint now) {
  std::map<std::string, Record> next;
  std::vector<ImageInfo> out;
  out.reserve(images.size());
  for (const ImageInfo& image : images) {
    auto it = records_.find(image.id);
    Record record = it != records_.end() ? it->second : Record{now, TimePoint{}};
    if (in_use_ids.count(image.id)) record.last_used = now;
    next[image.id] = record;
    ImageInfo info = image;
    info.first_seen = record.first_seen;
    info.last_used = record.last_used;
    out.push_back(std::move(info));
  }
  records_ = std::move(next);
  return out;
}

ImageGcOutcome ImageGc::garbageCollect(uint64_t capacity, uint64_t available,
                                       const std::vector<ImageInfo>& images,
                                       const std::set<std::string>& in_use_ids, TimePoint now,
                                       const RemoveFn& remove) {
  ImageGcOutcome outcome;
  std::vector<ImageInfo> observed = observe(images, in_use_ids, now);
  if (capacity == 0) {
    outcome.error = "invalid capacity 0 on image filesystem";
    outcome.events.emplace_back(kReasonInvalidDiskCapacity, outcome.error);
  } else {
    outcome.required = bytesToFree(capacity, available, policy_);
    if (outcome.required > 0) {
      // freeSpace: remove in order until enough is freed; a failed removal
      // frees nothing and the next candidate is tried.
      std::vector<std::string> errors;
      for (const ImageInfo* image : eligibleImages(observed, in_use_ids, policy_, now)) {
        Status s = remove(*image);
        if (!s.ok()) {
          errors.push_back(s.error().message);
          continue;
        }
        outcome.removed.push_back(image->id);
        outcome.freed += image->size;
        records_.erase(image->id);
        if (outcome.freed >= outcome.required) break;
      }
      if (!errors.empty()) {
        // errors.NewAggregate's text: one error as is, several as "[a, b]".
        std::string joined;
        for (const auto& e : errors) joined += (joined.empty() ? "" : ", ") + e;
        if (errors.size() > 1) joined = "[" + joined + "]";
        outcome.error = "wanted to free " + std::to_string(outcome.required) +
                        " bytes, but freed " + std::to_string(outcome.freed) +
                        " bytes space with errors in image deletion: " + joined;
      } else if (outcome.freed < outcome.required) {
        outcome.error = freeDiskSpaceFailedMessage(outcome.required, outcome.freed);
        outcome.events.emplace_back(kReasonFreeDiskSpaceFailed, outcome.error);
      }
    }
  }
  // StartGarbageCollection: only a repeated failure becomes ImageGCFailed.
  if (!outcome.error.empty()) {
    if (previous_failed_) outcome.events.emplace_back(kReasonImageGcFailed, outcome.error);
    previous_failed_ = true;
  } else {
    previous_failed_ = false;
  }
  return outcome;
}

std::vector<ImageInfo> imagesFromRecords(const std::vector<runtime::ImageRecord>& records) {
  std::vector<ImageInfo> out;
  std::map<std::string, size_t> index;
  for (const runtime::ImageRecord& r : records) {
    std::string id = r.id();
    auto [it, inserted] = index.emplace(id, out.size());
    if (inserted) {
      ImageInfo info;
      info.id = id;
      info.size = r.size > 0 ? static_cast<uint64_t>(r.size) : 0;
      out.push_back(std::move(info));
    }
    if (!r.name.empty()) out[it->second].names.push_back(r.name);
  }
  return out;
}

std::set<std::string> inUseImageIds(const std::vector<runtime::ContainerInfo>& containers) {
  std::set<std::string> out;
  for (const auto& c : containers) {
    if (!c.image_id.empty()) out.insert(c.image_id);
  }
  return out;
}

Status removeFromStore(runtime::ImageStore& store, const ImageInfo& image) {
  for (const std::string& name : image.names) BERTH_RETURN_IF_ERROR(store.remove(name));
  if (image.names.empty()) return store.remove(image.id);
  return okStatus();
}

}  // namespace berth::agent
