#include "runtime/image/manifest.h"

#include <algorithm>
#include <boost/json.hpp>

#include "api/kinds/access.h"

namespace berth::runtime {

namespace json = boost::json;

namespace media {
bool isManifest(std::string_view mt) { return mt == kOciManifest || mt == kDockerManifest; }
bool isIndex(std::string_view mt) { return mt == kOciIndex || mt == kDockerManifestList; }
bool isConfig(std::string_view mt) { return mt == kOciConfig || mt == kDockerConfig; }
bool isLayer(std::string_view mt) {
  return mt == kOciLayer || mt == kOciLayerGzip || mt == kOciLayerZstd || mt == kDockerLayer ||
         mt == kDockerLayerGzip || mt == kDockerLayerZstd || mt == kDockerForeignLayerGzip ||
         mt == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
         mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
         mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
}
}  // namespace media

namespace {

Result<json::object> parseObject(std::string_view bytes, std::string_view what) {
  json::error_code ec;
  json::value v = json::parse(bytes, ec);
  if (ec || !v.is_object()) {
    return makeError(ErrorCode::kInvalid, "malformed " + std::string(what) + ": not a JSON object" +
                                              (ec ? " (" + ec.message() + ")" : ""));
  }
  return std::move(v.as_object());
}

std::vector<std::string> stringList(const json::value* v) {
  std::vector<std::string> out;
  if (const auto* arr = api::asArr(v)) {
    for (const auto& item : *arr) {
      if (item.is_string()) out.emplace_back(item.as_string());
    }
  }
  return out;
}

Result<Descriptor> parseDescriptor(const json::value* v, std::string_view where) {
  const auto* obj = api::asObj(v);
  if (!obj)
    return makeError(ErrorCode::kInvalid, std::string(where) + ": descriptor is not an object");
  Descriptor d;
  d.media_type = api::strAt(*obj, {"mediaType"});
  auto digest = Digest::parse(api::strAt(*obj, {"digest"}));
  if (!digest.ok())
    return makeError(ErrorCode::kInvalid, std::string(where) + ": " + digest.error().message);
  d.digest = *digest;
  d.size = api::intAt(*obj, {"size"}).value_or(0);
  if (d.size < 0) return makeError(ErrorCode::kInvalid, std::string(where) + ": negative size");
  d.os = api::strAt(*obj, {"platform", "os"});
  d.architecture = api::strAt(*obj, {"platform", "architecture"});
  d.variant = api::strAt(*obj, {"platform", "variant"});
  d.annotations = api::stringMap(api::at(*obj, {"annotations"}));
  return d;
}

json::object descriptorJson(const Descriptor& d) {
  json::object o;
  o["mediaType"] = d.media_type;
  o["digest"] = d.digest.str();
  o["size"] = d.size;
  return o;
}

}  // namespace

std::string sniffMediaType(std::string_view bytes, std::string_view hint) {
  if (!hint.empty()) return std::string(hint);
  json::error_code ec;
  json::value v = json::parse(bytes, ec);
  if (ec || !v.is_object()) return "";
  std::string mt = api::strAt(v.as_object(), {"mediaType"});
  if (!mt.empty()) return mt;
  return v.as_object().contains("manifests") ? std::string(media::kOciIndex)
                                             : std::string(media::kOciManifest);
}

Result<Manifest> parseManifest(std::string_view bytes) {
  BERTH_ASSIGN_OR_RETURN(json::object obj, parseObject(bytes, "image manifest"));
  Manifest m;
  m.media_type = api::strAt(obj, {"mediaType"}, media::kOciManifest);
  if (!media::isManifest(m.media_type)) {
    return makeError(ErrorCode::kInvalid, "unsupported manifest media type " + m.media_type);
  }
  if (api::intAt(obj, {"schemaVersion"}).value_or(0) != 2) {
    return makeError(ErrorCode::kInvalid, "unsupported manifest schemaVersion (want 2)");
  }
  BERTH_ASSIGN_OR_RETURN(m.config, parseDescriptor(api::at(obj, {"config"}), "manifest config"));
  if (const auto* layers = api::arrAt(obj, {"layers"})) {
    for (size_t i = 0; i < layers->size(); ++i) {
      BERTH_ASSIGN_OR_RETURN(
          Descriptor d,
          parseDescriptor(&(*layers)[i], "manifest layers[" + std::to_string(i) + "]"));
      if (!media::isLayer(d.media_type)) {
        return makeError(ErrorCode::kInvalid,
                         "unsupported layer media type \"" + d.media_type + "\"");
      }
      m.layers.push_back(std::move(d));
    }
  }
  return m;
}

Result<Index> parseIndex(std::string_view bytes) {
  BERTH_ASSIGN_OR_RETURN(json::object obj, parseObject(bytes, "image index"));
  Index idx;
  idx.media_type = api::strAt(obj, {"mediaType"}, media::kOciIndex);
  const auto* manifests = api::arrAt(obj, {"manifests"});
  if (!manifests) return makeError(ErrorCode::kInvalid, "image index has no manifests");
  for (size_t i = 0; i < manifests->size(); ++i) {
    BERTH_ASSIGN_OR_RETURN(
        Descriptor d,
        parseDescriptor(&(*manifests)[i], "index manifests[" + std::to_string(i) + "]"));
    idx.manifests.push_back(std::move(d));
  }
  return idx;
}

Result<Descriptor> selectPlatform(const Index& index) {
  for (const auto& d : index.manifests) {
    if (d.os == kPlatformOs && d.architecture == kPlatformArch) return d;
  }
  return makeError(ErrorCode::kNotFound, "image index has no manifest for platform " +
                                             std::string(kPlatformOs) + "/" +
                                             std::string(kPlatformArch));
}

Result<ImageConfig> parseImageConfig(std::string_view bytes) {
  BERTH_ASSIGN_OR_RETURN(json::object obj, parseObject(bytes, "image config"));
  ImageConfig c;
  c.os = api::strAt(obj, {"os"});
  c.architecture = api::strAt(obj, {"architecture"});
  c.created = api::strAt(obj, {"created"});
  // Docker before 1.10 only filled container_config; "config" is what runs.
  const json::object* cfg = api::objAt(obj, {"config"});
  if (!cfg) cfg = api::objAt(obj, {"container_config"});
  if (cfg) {
    c.env = stringList(api::at(*cfg, {"Env"}));
    c.entrypoint = stringList(api::at(*cfg, {"Entrypoint"}));
    c.cmd = stringList(api::at(*cfg, {"Cmd"}));
    c.working_dir = api::strAt(*cfg, {"WorkingDir"});
    c.user = api::strAt(*cfg, {"User"});
    c.stop_signal = api::strAt(*cfg, {"StopSignal"});
    c.labels = api::stringMap(api::at(*cfg, {"Labels"}));
    if (const auto* ports = api::objAt(*cfg, {"ExposedPorts"})) {
      for (const auto& kv : *ports) c.exposed_ports.emplace_back(kv.key());
      std::sort(c.exposed_ports.begin(), c.exposed_ports.end());
    }
  }
  if (api::strAt(obj, {"rootfs", "type"}) != "layers") {
    return makeError(ErrorCode::kInvalid, "image config rootfs.type must be \"layers\"");
  }
  for (const auto& s : stringList(api::at(obj, {"rootfs", "diff_ids"}))) {
    auto d = Digest::parse(s);
    if (!d.ok())
      return makeError(ErrorCode::kInvalid, "image config rootfs.diff_ids: " + d.error().message);
    c.diff_ids.push_back(*d);
  }
  return c;
}

std::string buildImageConfig(const ImageConfigOverrides& o, const std::vector<Digest>& diff_ids,
                             std::string_view created) {
  auto strings = [](const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
  };
  json::object cfg;
  if (!o.entrypoint.empty()) cfg["Entrypoint"] = strings(o.entrypoint);
  if (!o.cmd.empty()) cfg["Cmd"] = strings(o.cmd);
  if (!o.env.empty()) cfg["Env"] = strings(o.env);
  if (!o.working_dir.empty()) cfg["WorkingDir"] = o.working_dir;
  if (!o.user.empty()) cfg["User"] = o.user;
  if (!o.labels.empty()) {
    json::object labels;
    for (const auto& [k, v] : o.labels) labels[k] = v;
    cfg["Labels"] = std::move(labels);
  }
  json::array ids;
  for (const auto& d : diff_ids) ids.emplace_back(d.str());
  json::object root;
  root["created"] = created;
  root["architecture"] = kPlatformArch;
  root["os"] = kPlatformOs;
  root["config"] = std::move(cfg);
  root["rootfs"] = json::object{{"type", "layers"}, {"diff_ids", std::move(ids)}};
  root["history"] =
      json::array{json::object{{"created", created}, {"created_by", "berth image pack"}}};
  return json::serialize(root);
}

std::string buildOciManifest(const Descriptor& config, const std::vector<Descriptor>& layers) {
  json::array ls;
  for (const auto& l : layers) ls.push_back(descriptorJson(l));
  json::object root;
  root["schemaVersion"] = 2;
  root["mediaType"] = media::kOciManifest;
  root["config"] = descriptorJson(config);
  root["layers"] = std::move(ls);
  return json::serialize(root);
}

std::vector<Digest> chainIds(const std::vector<Digest>& diff_ids) {
  std::vector<Digest> out;
  for (const auto& d : diff_ids) {
    out.push_back(out.empty() ? d : Digest::of(out.back().str() + " " + d.str()));
  }
  return out;
}

}  // namespace berth::runtime
