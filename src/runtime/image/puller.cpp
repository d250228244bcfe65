#include "runtime/image/puller.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "common/log.h"
#include "runtime/image/manifest.h"

namespace berth::runtime {

namespace {

Error wrap(Error e, const std::string& prefix) {
  e.message = prefix + e.message;
  return e;
}

}  // namespace

Puller::Puller(ImageStore& store, RegistryClient& client, PullerOptions options)
    : store_(store), client_(client), options_(options) {
  options_.parallel_downloads = std::max(1, options_.parallel_downloads);
  options_.progress_step_bytes = std::max<int64_t>(1, options_.progress_step_bytes);
}

Result<ImageRecord> Puller::pull(std::string_view reference, const DockerKeyring& credentials,
                                 const PullProgressCallback& progress) {
  BERTH_ASSIGN_OR_RETURN(ImageReference ref, parseReference(reference));
  // The kubelet's PullImage: anonymous when the keyring has nothing for the
  // image, else each matching credential in turn until one works.
  auto creds = credentials.lookup(ref);
  if (creds.empty()) return pullWith(ref, nullptr, progress);
  std::optional<Error> first;
  for (const auto& auth : creds) {
    auto rec = pullWith(ref, &auth, progress);
    if (rec.ok()) return rec;
    BERTH_LOG(kInfo, "image") << "pull with credentials failed image=" << ref.str()
                              << " user=" << auth.username << " err=" << rec.error().message;
    if (!first) first = std::move(rec).error();
  }
  return *first;
}

Result<ImageRecord> Puller::pullWith(const ImageReference& ref, const RegistryAuth* auth,
                                     const PullProgressCallback& progress) {
  const std::string shown = ref.str();
  const std::string resolve_prefix = "failed to resolve reference \"" + shown + "\": ";
  const std::string pull_prefix = "failed to pull and unpack image \"" + shown + "\": ";
  std::mutex report_mu;
  PullProgressCallback report = [&](const PullProgress& p) {
    if (!progress) return;
    std::lock_guard lk(report_mu);
    progress(p);
  };

  auto top = client_.getManifest(ref, ref.digest.empty() ? ref.tag : ref.digest, auth);
  if (!top.ok()) return wrap(std::move(top).error(), resolve_prefix);
  report(
      PullProgress{PullProgress::Kind::kManifest, top->digest, top->size, top->size, false, true});

  std::string manifest_bytes = top->bytes;
  if (media::isIndex(top->media_type)) {
    auto index = parseIndex(top->bytes);
    if (!index.ok()) return wrap(std::move(index).error(), pull_prefix);
    auto platform = selectPlatform(*index);
    if (!platform.ok()) {
      return makeError(ErrorCode::kNotFound, pull_prefix + "no match for platform " +
                                                 std::string(kPlatformOs) + "/" +
                                                 std::string(kPlatformArch) + " in manifest " +
                                                 top->digest.str() + ": not found");
    }
    auto child = client_.getManifest(ref, platform->digest.str(), auth);
    if (!child.ok()) return wrap(std::move(child).error(), pull_prefix);
    if (!media::isManifest(child->media_type)) {
      return makeError(ErrorCode::kInvalid, pull_prefix + "index entry " + platform->digest.str() +
                                                " is a " + child->media_type +
                                                ", not an image manifest");
    }
    // commitImage reads the platform manifest from the store.
    auto st = store_.writeBlob(platform->digest, child->bytes);
    if (!st.ok()) return wrap(std::move(st).error(), pull_prefix);
    report(PullProgress{PullProgress::Kind::kManifest, child->digest, child->size, child->size,
                        false, true});
    manifest_bytes = child->bytes;
  } else if (!media::isManifest(top->media_type)) {
    return makeError(ErrorCode::kInvalid,
                     pull_prefix + "unsupported manifest media type \"" + top->media_type + "\"");
  }
  auto manifest = parseManifest(manifest_bytes);
  if (!manifest.ok()) return wrap(std::move(manifest).error(), pull_prefix);

  // The config first (small, and the image ID), then the layers; a layer
  // listed twice is fetched once.
  std::vector<std::pair<Descriptor, PullProgress::Kind>> jobs;
  std::set<Digest> seen;
  jobs.emplace_back(manifest->config, PullProgress::Kind::kConfig);
  seen.insert(manifest->config.digest);
  for (const auto& l : manifest->layers)
    if (seen.insert(l.digest).second) jobs.emplace_back(l, PullProgress::Kind::kLayer);

  std::atomic<size_t> next{0};
  std::atomic<bool> cancel{false};
  std::mutex err_mu;
  std::optional<Error> failure;
  auto worker = [&] {
    while (!cancel) {
      size_t i = next++;
      if (i >= jobs.size()) return;
      auto st = downloadBlob(ref, jobs[i].first, jobs[i].second, auth, cancel, report);
      if (!st.ok()) {
        std::lock_guard lk(err_mu);
        if (!failure) failure = std::move(st).error();
        cancel = true;
      }
    }
  };
  size_t n_threads = std::min<size_t>(jobs.size(), options_.parallel_downloads);
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n_threads; ++i) threads.emplace_back(worker);
  worker();  // this thread is one of the downloaders
  for (auto& t : threads) t.join();
  if (failure) return wrap(std::move(*failure), pull_prefix);

  std::optional<ImageRecord> out;
  if (!ref.tag.empty()) {
    auto rec = store_.commitImage(ref.name() + ":" + ref.tag, top->bytes, top->media_type);
    if (!rec.ok()) return wrap(std::move(rec).error(), pull_prefix);
    out = std::move(*rec);
  }
  if (!ref.digest.empty()) {
    auto rec = store_.commitImage(ref.name() + "@" + ref.digest, top->bytes, top->media_type);
    if (!rec.ok()) return wrap(std::move(rec).error(), pull_prefix);
    if (!out) out = std::move(*rec);
  }
  BERTH_LOG(kInfo, "image") << "image pulled ref=" << shown << " id=" << out->id()
                            << " size=" << out->size;
  return *out;
}

Status Puller::downloadBlob(const ImageReference& ref, const Descriptor& desc,
                            PullProgress::Kind kind, const RegistryAuth* auth,
                            const std::atomic<bool>& cancel, const PullProgressCallback& report) {
  PullProgress p{kind, desc.digest, 0, desc.size, false, false};
  if (store_.hasBlob(desc.digest)) {
    p.cached = true;
    p.done = desc.size;
    p.finished = true;
    report(p);
    return okStatus();
  }
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, client_.openBlob(ref, desc.digest, auth));
  report(p);
  int64_t next_report = options_.progress_step_bytes;
  auto reader = [&](char* buf, size_t cap) -> Result<size_t> {
    if (cancel) return makeError(ErrorCode::kInternal, "cancelled: another download failed");
    BERTH_ASSIGN_OR_RETURN(size_t n, resp.body->read(buf, cap));
    p.done += static_cast<int64_t>(n);
    // A body longer than its descriptor cannot match the digest: stop
    // early rather than fill the disk.
    if (desc.size > 0 && p.done > desc.size) {
      return makeError(ErrorCode::kInvalid, "blob " + desc.digest.str() + " is larger than the " +
                                                std::to_string(desc.size) +
                                                " bytes its descriptor says");
    }
    if (n > 0 && p.done >= next_report) {
      report(p);
      next_report = p.done + options_.progress_step_bytes;
    }
    return n;
  };
  auto st = store_.writeBlob(desc.digest, reader);
  if (!st.ok()) return wrap(std::move(st).error(), "failed to copy " + desc.digest.str() + ": ");
  p.finished = true;
  report(p);
  return okStatus();
}

}  // namespace berth::runtime
