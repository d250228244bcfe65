// ImageStore::prepare and ImageStore::pack: the parts of the store that
// unpack and create layers (image_store.cpp holds blobs and records).

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common/log.h"
#include "runtime/image/fs_util.h"
#include "runtime/image/image_store.h"
#include "runtime/image/layer_unpack.h"
#include "runtime/image/reference.h"

namespace berth::runtime {

namespace {
constexpr const char* kCommittedMarker = "committed";
}  // namespace

Result<Rootfs> ImageStore::prepare(const std::string& ref) {
  Rootfs out;
  {
    std::lock_guard<std::mutex> lk(mu_);
    BERTH_RETURN_IF_ERROR(refreshLocked());
    BERTH_ASSIGN_OR_RETURN(out.image, findLocked(ref, nullptr));
  }
  BERTH_ASSIGN_OR_RETURN(std::string config_bytes, readBlob(out.image.config));
  BERTH_ASSIGN_OR_RETURN(out.config, parseImageConfig(config_bytes));
  if (out.config.diff_ids.size() != out.image.layers.size()) {
    return makeError(ErrorCode::kInvalid, "image " + out.image.id() +
                                              ": config and manifest disagree on the layer count");
  }
  std::vector<Digest> chains = chainIds(out.config.diff_ids);
  for (size_t i = 0; i < chains.size(); ++i) {
    const Digest& chain = chains[i];
    std::string dir = layerDir(chain);
    std::unique_lock<std::mutex> lk(mu_);
    // Concurrent prepares of images that share a layer: the first unpacks,
    // the others wait for it and then find the marker.
    unpack_done_.wait(lk, [&] { return !unpacking_.count(chain); });
    if (fsutil::exists(dir + "/" + kCommittedMarker)) continue;
    unpacking_.insert(chain);
    lk.unlock();
    Status st = unpackOne(chain, out.config.diff_ids[i], out.image.layers[i], dir);
    lk.lock();
    unpacking_.erase(chain);
    if (st.ok()) ++layers_unpacked_;
    unpack_done_.notify_all();
    if (!st.ok()) return std::move(st).error();
  }
  for (auto it = chains.rbegin(); it != chains.rend(); ++it)
    out.lowerdirs.push_back(layerDir(*it) + "/fs");
  return out;
}

Status ImageStore::unpackOne(const Digest& chain_id, const Digest& diff_id, const Digest& blob,
                             const std::string& layer_dir) {
  if (!hasBlob(blob))
    return makeError(ErrorCode::kNotFound,
                     "layer blob " + blob.str() + " is not in the image store");
  // Unpack into a temp directory, write the marker last, then rename the
  // whole directory into place: a crash or an error leaves only a temp
  // directory (swept on open), never a half layer under layers/.
  std::string tmp = tmpPath("layer");
  if (::mkdtemp(tmp.data()) == nullptr)
    return fsutil::errnoError("create temp layer dir", tmp, errno);
  auto fail = [&](Error e) -> Status {
    fsutil::removeAll(tmp);
    return e;
  };
  ::chmod(tmp.c_str(), 0755);
  std::string fs_dir = tmp + "/fs";
  if (::mkdir(fs_dir.c_str(), 0755) != 0) return fail(fsutil::errnoError("mkdir", fs_dir, errno));
  auto got = unpackLayer(blobPath(blob), fs_dir);
  if (!got.ok()) {
    Error e = std::move(got).error();
    e.message = "unpack layer " + blob.str() + ": " + e.message;
    return fail(std::move(e));
  }
  if (*got != diff_id) {
    return fail(makeError(ErrorCode::kInvalid,
                          "layer " + blob.str() + " unpacks to " + got->str() +
                              ", but the image config's rootfs.diff_ids says " + diff_id.str()));
  }
  if (auto st = fsutil::writeFileAtomic(tmp + "/" + kCommittedMarker,
                                        diff_id.str() + " " + blob.str() + "\n");
      !st.ok()) {
    return fail(std::move(st).error());
  }
  if (fsutil::exists(layer_dir) && !fsutil::exists(layer_dir + "/" + kCommittedMarker)) {
    BERTH_LOG(kWarning, "image") << "redoing half-unpacked layer chain_id=" << chain_id.str();
    fsutil::removeAll(layer_dir);
  }
  if (::rename(tmp.c_str(), layer_dir.c_str()) != 0) {
    int err = errno;
    if ((err == ENOTEMPTY || err == EEXIST) && fsutil::exists(layer_dir + "/" + kCommittedMarker)) {
      fsutil::removeAll(tmp);  // Another process finished the same layer first.
      return okStatus();
    }
    return fail(fsutil::errnoError("rename layer to", layer_dir, err));
  }
  BERTH_RETURN_IF_ERROR(fsutil::fsyncDir(root_ + "/layers"));
  BERTH_LOG(kInfo, "image") << "layer unpacked chain_id=" << chain_id.str()
                            << " blob=" << blob.str();
  return okStatus();
}

Result<ImageRecord> ImageStore::pack(const std::string& dir, const std::string& name,
                                     const ImageConfigOverrides& overrides) {
  BERTH_RETURN_IF_ERROR(parseReference(name));
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return makeError(ErrorCode::kInvalid, "pack: " + dir + " is not a directory");
  }
  std::string tmp = tmpPath("pack");
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return fsutil::errnoError("create temp file", tmp, errno);
  ::close(fd);
  auto packed = packLayer(dir, tmp);
  if (!packed.ok()) {
    ::unlink(tmp.c_str());
    return std::move(packed).error();
  }
  std::string blob = blobPath(packed->digest);
  if (fsutil::exists(blob)) {
    ::unlink(tmp.c_str());
  } else if (::rename(tmp.c_str(), blob.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fsutil::errnoError("rename blob to", blob, err);
  } else {
    ::chmod(blob.c_str(), 0644);
    BERTH_RETURN_IF_ERROR(fsutil::fsyncDir(root_ + "/blobs/sha256"));
  }
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char created[32];
  std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string config = buildImageConfig(overrides, {packed->diff_id}, created);
  Descriptor config_desc{std::string(media::kOciConfig), Digest::of(config),
                         static_cast<int64_t>(config.size())};
  BERTH_RETURN_IF_ERROR(writeBlob(config_desc.digest, config));
  Descriptor layer_desc{std::string(media::kOciLayerGzip), packed->digest, packed->size};
  return commitImage(name, buildOciManifest(config_desc, {layer_desc}), media::kOciManifest);
}

}  // namespace berth::runtime
