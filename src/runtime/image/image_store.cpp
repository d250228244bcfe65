#include "runtime/image/image_store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <ctime>
#include <filesystem>

#include "api/kinds/access.h"
#include "common/log.h"
#include "runtime/image/fs_util.h"
#include "runtime/image/layer_unpack.h"
#include "runtime/image/reference.h"

namespace berth::runtime {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxDocumentSize = 16ull << 20;  // manifests, indexes, configs
constexpr const char* kCommittedMarker = "committed";

json::array digestsJson(const std::vector<Digest>& ds) {
  json::array a;
  for (const auto& d : ds) a.emplace_back(d.str());
  return a;
}

json::array stringsJson(const std::vector<std::string>& ss) {
  json::array a;
  for (const auto& s : ss) a.emplace_back(s);
  return a;
}

json::object recordJson(const ImageRecord& r) {
  json::object o;
  o["name"] = r.name;
  o["target"] = r.target.str();
  o["targetMediaType"] = r.target_media_type;
  o["manifest"] = r.manifest.str();
  o["config"] = r.config.str();
  o["layers"] = digestsJson(r.layers);
  o["layerMediaTypes"] = stringsJson(r.layer_media_types);
  o["diffIDs"] = digestsJson(r.diff_ids);
  o["repoDigests"] = stringsJson(r.repo_digests);
  o["size"] = r.size;
  o["created"] = r.created;
  return o;
}

Result<std::vector<Digest>> digestList(const json::object& o, std::string_view key) {
  std::vector<Digest> out;
  if (const auto* arr = api::arrAt(o, {key})) {
    for (const auto& v : *arr) {
      BERTH_ASSIGN_OR_RETURN(Digest d, Digest::parse(api::asStr(&v)));
      out.push_back(d);
    }
  }
  return out;
}

std::vector<std::string> stringList(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  if (const auto* arr = api::arrAt(o, {key})) {
    for (const auto& v : *arr) out.push_back(api::asStr(&v));
  }
  return out;
}

Result<ImageRecord> recordFromJson(const json::object& o) {
  ImageRecord r;
  r.name = api::strAt(o, {"name"});
  BERTH_ASSIGN_OR_RETURN(r.target, Digest::parse(api::strAt(o, {"target"})));
  r.target_media_type = api::strAt(o, {"targetMediaType"});
  BERTH_ASSIGN_OR_RETURN(r.manifest, Digest::parse(api::strAt(o, {"manifest"})));
  BERTH_ASSIGN_OR_RETURN(r.config, Digest::parse(api::strAt(o, {"config"})));
  BERTH_ASSIGN_OR_RETURN(r.layers, digestList(o, "layers"));
  r.layer_media_types = stringList(o, "layerMediaTypes");
  BERTH_ASSIGN_OR_RETURN(r.diff_ids, digestList(o, "diffIDs"));
  r.repo_digests = stringList(o, "repoDigests");
  r.size = api::intAt(o, {"size"}).value_or(0);
  r.created = api::strAt(o, {"created"});
  return r;
}

std::string nowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Flocks <root>/lock so that record updates of several processes serialize.
class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd) { ::flock(fd_, LOCK_EX); }
  ~FileLock() { ::flock(fd_, LOCK_UN); }

 private:
  int fd_;
};

bool isHexPrefix(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::vector<Digest> ImageRecord::blobs() const {
  std::vector<Digest> out{target, manifest, config};
  out.insert(out.end(), layers.begin(), layers.end());
  return out;
}

ImageStore::ImageStore(std::string root) : root_(std::move(root)) {}

ImageStore::~ImageStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<std::unique_ptr<ImageStore>> ImageStore::open(const std::string& root) {
  for (const char* sub : {"/blobs/sha256", "/layers", "/tmp"}) {
    BERTH_RETURN_IF_ERROR(fsutil::mkdirs(root + sub));
  }
  // Absolute and without symlinks: lowerdirs go into mount options, and the
  // layer unpacker refuses paths through symlinks.
  std::error_code ec;
  std::string root_dir = fs::canonical(root, ec).string();
  if (ec)
    return makeError(ErrorCode::kInternal,
                     "resolve image store root " + root + ": " + ec.message());
  std::unique_ptr<ImageStore> store(new ImageStore(root_dir));
  store->lock_fd_ = ::open((root_dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (store->lock_fd_ < 0) return fsutil::errnoError("open", root_dir + "/lock", errno);
  // Temp files are named <kind>-<pid>-<random>: those of dead processes are
  // leftovers of a crash.
  for (const auto& e : fs::directory_iterator(root_dir + "/tmp", ec)) {
    std::string n = e.path().filename().string();
    size_t dash = n.find('-');
    pid_t pid = dash == std::string::npos ? 0 : static_cast<pid_t>(std::atol(n.c_str() + dash + 1));
    if (pid <= 0 || (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH)) {
      fsutil::removeAll(e.path().string());
    }
  }
  std::lock_guard<std::mutex> lk(store->mu_);
  BERTH_RETURN_IF_ERROR(store->refreshLocked());
  return store;
}

std::string ImageStore::blobPath(const Digest& d) const {
  return root_ + "/blobs/sha256/" + d.hex();
}

std::string ImageStore::layerDir(const Digest& chain_id) const {
  return root_ + "/layers/" + chain_id.hex();
}

std::string ImageStore::tmpPath(std::string_view kind) const {
  return root_ + "/tmp/" + std::string(kind) + "-" + std::to_string(::getpid()) + "-XXXXXX";
}

bool ImageStore::hasBlob(const Digest& d) const { return fsutil::exists(blobPath(d)); }

Result<std::string> ImageStore::readBlob(const Digest& d) const {
  auto bytes = fsutil::readFile(blobPath(d), kMaxDocumentSize);
  if (!bytes.ok() && bytes.error().code == ErrorCode::kNotFound) {
    return makeError(ErrorCode::kNotFound, "blob " + d.str() + " is not in the image store");
  }
  return bytes;
}

Result<ImageStore::Ingested> ImageStore::ingest(const Digest* expected, const BlobReader& reader) {
  Ingested out;
  if (expected) {
    struct stat st {};
    if (::stat(blobPath(*expected).c_str(), &st) == 0) {
      out.digest = *expected;
      out.size = st.st_size;
      return out;
    }
  }
  std::string tmp = tmpPath("blob");
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return fsutil::errnoError("create temp blob", tmp, errno);
  auto fail = [&](Error e) -> Result<Ingested> {
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  Sha256 hash;
  std::vector<char> buf(1 << 20);
  while (true) {
    auto n = reader(buf.data(), buf.size());
    if (!n.ok()) return fail(std::move(n).error());
    if (*n == 0) break;
    hash.update(buf.data(), *n);
    size_t off = 0;
    while (off < *n) {
      ssize_t w = ::write(fd, buf.data() + off, *n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return fail(fsutil::errnoError("write", tmp, errno));
      off += static_cast<size_t>(w);
    }
    out.size += static_cast<int64_t>(*n);
  }
  out.digest = hash.finish();
  if (expected && out.digest != *expected) {
    return fail(makeError(ErrorCode::kInvalid, "blob digest mismatch: expected " + expected->str() +
                                                   ", got " + out.digest.str() + " (" +
                                                   std::to_string(out.size) +
                                                   " bytes); blob refused"));
  }
  if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0)
    return fail(fsutil::errnoError("fsync", tmp, errno));
  ::close(fd);
  std::string final_path = blobPath(out.digest);
  if (fsutil::exists(final_path)) {
    ::unlink(tmp.c_str());
    return out;
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fsutil::errnoError("rename blob to", final_path, err);
  }
  BERTH_RETURN_IF_ERROR(fsutil::fsyncDir(root_ + "/blobs/sha256"));
  out.created = true;
  return out;
}

Result<Digest> ImageStore::writeBlob(const Digest& expected, const BlobReader& reader) {
  BERTH_ASSIGN_OR_RETURN(Ingested in, ingest(&expected, reader));
  return in.digest;
}

Result<Digest> ImageStore::writeBlob(const Digest& expected, std::string_view bytes) {
  size_t pos = 0;
  return writeBlob(expected, [&](char* buf, size_t cap) -> Result<size_t> {
    size_t n = std::min(cap, bytes.size() - pos);
    std::copy_n(bytes.data() + pos, n, buf);
    pos += n;
    return n;
  });
}

Status ImageStore::refreshLocked() {
  std::string path = root_ + "/images.json";
  struct stat st {};
  std::string stamp;
  if (::stat(path.c_str(), &st) == 0) {
    stamp = std::to_string(st.st_ino) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
            std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_size);
  }
  if (stamp == records_stamp_ && !stamp.empty()) return okStatus();
  std::vector<ImageRecord> records;
  if (!stamp.empty()) {
    BERTH_ASSIGN_OR_RETURN(std::string bytes, fsutil::readFile(path));
    json::error_code ec;
    json::value v = json::parse(bytes, ec);
    const json::array* arr = ec || !v.is_object() ? nullptr : api::arrAt(v.as_object(), {"images"});
    if (!arr) return makeError(ErrorCode::kInternal, path + " is corrupt: no images list");
    for (const auto& item : *arr) {
      const auto* obj = api::asObj(&item);
      auto rec = obj ? recordFromJson(*obj)
                     : Result<ImageRecord>(makeError(ErrorCode::kInternal, "not an object"));
      if (!rec.ok())
        return makeError(ErrorCode::kInternal, path + " is corrupt: " + rec.error().message);
      records.push_back(std::move(rec).value());
    }
  }
  records_ = std::move(records);
  records_stamp_ = stamp;
  return okStatus();
}

Status ImageStore::persistLocked() {
  json::array arr;
  for (const auto& r : records_) arr.push_back(recordJson(r));
  json::object root;
  root["images"] = std::move(arr);
  std::string path = root_ + "/images.json";
  BERTH_RETURN_IF_ERROR(fsutil::writeFileAtomic(path, json::serialize(root)));
  records_stamp_.clear();  // Re-read our own write once; cheap, and keeps the stamp exact.
  return refreshLocked();
}

Result<ImageRecord> ImageStore::buildRecord(const std::string& name, std::string_view bytes,
                                            std::string_view media_type_hint) {
  ImageRecord rec;
  if (!name.empty()) {
    BERTH_ASSIGN_OR_RETURN(ImageReference ref, parseReference(name));
    rec.name = ref.str();
  }
  std::string media_type = sniffMediaType(bytes, media_type_hint);
  rec.target = Digest::of(bytes);
  rec.target_media_type = media_type;
  BERTH_RETURN_IF_ERROR(writeBlob(rec.target, bytes));
  std::string manifest_bytes(bytes);
  rec.manifest = rec.target;
  if (media::isIndex(media_type)) {
    BERTH_ASSIGN_OR_RETURN(Index index, parseIndex(bytes));
    BERTH_ASSIGN_OR_RETURN(Descriptor platform, selectPlatform(index));
    rec.manifest = platform.digest;
    BERTH_ASSIGN_OR_RETURN(manifest_bytes, readBlob(platform.digest));
  } else if (!media::isManifest(media_type)) {
    return makeError(ErrorCode::kInvalid, "unsupported manifest media type \"" + media_type + "\"");
  }
  BERTH_ASSIGN_OR_RETURN(Manifest manifest, parseManifest(manifest_bytes));
  rec.config = manifest.config.digest;
  BERTH_ASSIGN_OR_RETURN(std::string config_bytes, readBlob(rec.config));
  BERTH_ASSIGN_OR_RETURN(ImageConfig config, parseImageConfig(config_bytes));
  if ((!config.os.empty() && config.os != kPlatformOs) ||
      (!config.architecture.empty() && config.architecture != kPlatformArch)) {
    return makeError(ErrorCode::kInvalid, "image platform " + config.os + "/" +
                                              config.architecture +
                                              " does not match the node (linux/amd64)");
  }
  if (config.diff_ids.size() != manifest.layers.size()) {
    return makeError(ErrorCode::kInvalid,
                     "image config has " + std::to_string(config.diff_ids.size()) +
                         " diff_ids for " + std::to_string(manifest.layers.size()) +
                         " manifest layers");
  }
  rec.size =
      static_cast<int64_t>(manifest_bytes.size()) + static_cast<int64_t>(config_bytes.size());
  for (const auto& layer : manifest.layers) {
    struct stat st {};
    if (::stat(blobPath(layer.digest).c_str(), &st) != 0) {
      return makeError(ErrorCode::kNotFound,
                       "layer blob " + layer.digest.str() + " is not in the image store");
    }
    if (layer.size > 0 && st.st_size != layer.size) {
      return makeError(ErrorCode::kInvalid,
                       "layer blob " + layer.digest.str() + " has " + std::to_string(st.st_size) +
                           " bytes, manifest says " + std::to_string(layer.size));
    }
    rec.layers.push_back(layer.digest);
    rec.layer_media_types.push_back(layer.media_type);
    rec.size += st.st_size;
  }
  rec.diff_ids = config.diff_ids;
  rec.created = config.created.empty() ? nowRfc3339() : config.created;
  if (!rec.name.empty()) {
    BERTH_ASSIGN_OR_RETURN(ImageReference ref, parseReference(rec.name));
    rec.repo_digests.push_back(ref.name() + "@" + rec.target.str());
  }
  return rec;
}

Result<ImageRecord> ImageStore::commitImage(const std::string& name,
                                            std::string_view manifest_bytes,
                                            std::string_view media_type) {
  BERTH_ASSIGN_OR_RETURN(ImageRecord rec, buildRecord(name, manifest_bytes, media_type));
  std::lock_guard<std::mutex> lk(mu_);
  FileLock flock(lock_fd_);
  BERTH_RETURN_IF_ERROR(refreshLocked());
  std::set<Digest> old_blobs, old_layers;
  std::vector<ImageRecord> kept;
  for (auto& r : records_) {
    bool replaced =
        rec.name.empty() ? (r.name.empty() && r.target == rec.target) : r.name == rec.name;
    if (rec.name.empty() && r.target == rec.target) {
      if (!r.name.empty()) return r;  // Already known under a name: nothing to record.
    }
    if (replaced) {
      for (const auto& b : r.blobs()) old_blobs.insert(b);
      for (const auto& c : chainIds(r.diff_ids)) old_layers.insert(c);
    } else {
      kept.push_back(r);
    }
  }
  auto previous = std::move(records_);
  records_ = std::move(kept);
  // A named image supersedes the untagged record of the same content.
  std::erase_if(records_,
                [&](const ImageRecord& r) { return r.name.empty() && r.target == rec.target; });
  records_.push_back(rec);
  if (auto st = persistLocked(); !st.ok()) {
    records_ = std::move(previous);
    return std::move(st).error();
  }
  BERTH_LOG(kInfo, "image") << "image committed name=" << rec.name << " id=" << rec.id();
  collectLocked(old_blobs, old_layers);
  return rec;
}

std::vector<ImageRecord> ImageStore::list() {
  std::lock_guard<std::mutex> lk(mu_);
  if (auto st = refreshLocked(); !st.ok()) {
    BERTH_LOG(kError, "image") << "reading image records failed err=" << st.error().message;
  }
  auto out = records_;
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.name != b.name ? a.name < b.name : a.target < b.target;
  });
  return out;
}

Result<ImageRecord> ImageStore::findLocked(const std::string& ref, std::vector<size_t>* matches) {
  std::vector<size_t> found;
  auto parsed = ref.rfind("sha256:", 0) == 0
                    ? Result<ImageReference>(makeError(ErrorCode::kInvalid, ""))
                    : parseReference(ref);
  if (parsed.ok()) {
    for (size_t i = 0; i < records_.size(); ++i) {
      const auto& r = records_[i];
      bool by_digest = !parsed->digest.empty() &&
                       std::find(r.repo_digests.begin(), r.repo_digests.end(),
                                 parsed->name() + "@" + parsed->digest) != r.repo_digests.end();
      if (r.name == parsed->str() || by_digest) found.push_back(i);
    }
  }
  if (found.empty()) {
    std::string prefix = ref.rfind("sha256:", 0) == 0 ? ref.substr(7) : ref;
    if (isHexPrefix(prefix)) {
      std::set<Digest> ids;
      for (size_t i = 0; i < records_.size(); ++i) {
        const auto& r = records_[i];
        if (r.config.hex().rfind(prefix, 0) == 0 || r.target.hex().rfind(prefix, 0) == 0 ||
            r.manifest.hex().rfind(prefix, 0) == 0) {
          found.push_back(i);
          ids.insert(r.config);
        }
      }
      if (ids.size() > 1) {
        return makeError(ErrorCode::kInvalid, "image ID prefix \"" + ref + "\" is ambiguous");
      }
    }
  }
  if (found.empty()) {
    auto e = makeError(ErrorCode::kNotFound, "image \"" + ref + "\" not found");
    e.kind = "Image";
    e.name = ref;
    return e;
  }
  if (matches) *matches = found;
  return records_[found.front()];
}

Result<ImageRecord> ImageStore::find(const std::string& ref) {
  std::lock_guard<std::mutex> lk(mu_);
  BERTH_RETURN_IF_ERROR(refreshLocked());
  return findLocked(ref, nullptr);
}

Status ImageStore::remove(const std::string& ref) {
  std::lock_guard<std::mutex> lk(mu_);
  FileLock flock(lock_fd_);
  BERTH_RETURN_IF_ERROR(refreshLocked());
  std::vector<size_t> matches;
  BERTH_RETURN_IF_ERROR(findLocked(ref, &matches));
  size_t named = std::count_if(matches.begin(), matches.end(),
                               [&](size_t i) { return !records_[i].name.empty(); });
  if (named > 1) {
    return makeError(ErrorCode::kConflict, "conflict: unable to delete " + ref +
                                               " - image is referenced in multiple repositories");
  }
  std::set<Digest> blobs, layers;
  for (size_t i : matches) {
    for (const auto& b : records_[i].blobs()) blobs.insert(b);
    for (const auto& c : chainIds(records_[i].diff_ids)) layers.insert(c);
  }
  auto previous = records_;
  std::sort(matches.rbegin(), matches.rend());
  for (size_t i : matches) records_.erase(records_.begin() + static_cast<ptrdiff_t>(i));
  if (auto st = persistLocked(); !st.ok()) {
    records_ = std::move(previous);
    return st;
  }
  BERTH_LOG(kInfo, "image") << "image removed ref=" << ref;
  collectLocked(blobs, layers);
  return okStatus();
}

void ImageStore::collectLocked(const std::set<Digest>& blob_candidates,
                               const std::set<Digest>& layer_candidates) {
  std::set<Digest> used_blobs, used_layers;
  for (const auto& r : records_) {
    for (const auto& b : r.blobs()) used_blobs.insert(b);
    for (const auto& c : chainIds(r.diff_ids)) used_layers.insert(c);
  }
  for (const auto& b : blob_candidates) {
    if (!used_blobs.count(b)) ::unlink(blobPath(b).c_str());
  }
  for (const auto& c : layer_candidates) {
    // A layer being unpacked belongs to an image still being prepared; leave it.
    if (!used_layers.count(c) && !unpacking_.count(c)) fsutil::removeAll(layerDir(c));
  }
}

DiskUsage ImageStore::diskUsage() {
  DiskUsage du;
  {
    std::lock_guard<std::mutex> lk(mu_);
    (void)refreshLocked();
    du.images = records_.size();
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ + "/blobs/sha256", ec)) {
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      ++du.blobs;
      du.blob_bytes += static_cast<uint64_t>(st.st_size);
    }
  }
  for (const auto& e : fs::directory_iterator(root_ + "/layers", ec)) {
    if (fsutil::exists(e.path().string() + "/" + kCommittedMarker)) ++du.layers;
  }
  du.layer_bytes = fsutil::treeSize(root_ + "/layers");
  return du;
}

uint64_t ImageStore::layersUnpacked() const {
  std::lock_guard<std::mutex> lk(mu_);
  return layers_unpacked_;
}

}  // namespace berth::runtime
