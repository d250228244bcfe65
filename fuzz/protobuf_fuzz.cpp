// libFuzzer target: Kubernetes protobuf request bodies against the built-in
// schemas. Any input must yield a value or a kBadRequest error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/protobuf.h"

namespace {
std::shared_ptr<const berth::api::SchemaType> lookup(std::string_view api_version, std::string_view kind) {
  std::string group = "core", version(api_version);
  if (auto slash = api_version.find('/'); slash != std::string_view::npos) {
    group = std::string(api_version.substr(0, api_version.find_first_of("./")));
    version = std::string(api_version.substr(slash + 1));
  }
  auto t = berth::api::SchemaRegistry::builtin().find(group + "." + version + "." + std::string(kind));
  // Unknown kinds fall back to a rich type so that random envelopes still
  // exercise the message decoder.
  return t ? t : berth::api::SchemaRegistry::builtin().find("core.v1.Pod");
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto r = berth::api::decodeKubernetesProtobuf(body, lookup);
  if (!r.ok() && r.error().code != berth::ErrorCode::kBadRequest) std::abort();
  if (r.ok()) (void)boost::json::serialize(r->object);
  // The raw message decoder alone, without the envelope.
  static const auto pod = berth::api::SchemaRegistry::builtin().find("core.v1.Pod");
  auto m = berth::api::decodeProtobufMessage(body, *pod);
  if (!m.ok() && m.error().code != berth::ErrorCode::kBadRequest) std::abort();
  return 0;
}
