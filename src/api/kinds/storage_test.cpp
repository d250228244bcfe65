#include <gtest/gtest.h>

#include "api/kind.h"
#include "api/kinds/storage_util.h"

namespace berth::api {
namespace {

namespace json = boost::json;

json::object parse(const char* s) { return json::parse(s).as_object(); }

const KindInfo& kind(const char* k) {
  static const KindRegistry reg = [] {
    KindRegistry r;
    registerStorageKinds(r);
    return r;
  }();
  const KindInfo* info = reg.byKind("storage.k8s.io", "v1", k);
  EXPECT_NE(info, nullptr);
  return *info;
}

std::vector<std::string> errors(const KindInfo& k, const json::object& obj, const json::object* old = nullptr) {
  FieldErrors errs;
  k.validate(obj, old, errs);
  std::vector<std::string> out;
  for (const auto& c : errs.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

KindContext at(int64_t unix_seconds) { return KindContext{std::chrono::system_clock::from_time_t(unix_seconds)}; }
constexpr int64_t kCreated = 1704067200;  // 2024-01-01T00:00:00Z

TEST(StorageClass, DefaultsValidationTable) {
  const KindInfo& sc = kind("StorageClass");
  EXPECT_EQ(sc.short_names, (std::vector<std::string>{"sc"}));
  auto obj = parse(R"({"metadata":{"name":"local","creationTimestamp":"2024-01-01T00:00:00Z",
      "annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},
      "provisioner":"rancher.io/local-path","parameters":{"a":"b"}})");
  sc.defaults(obj);
  EXPECT_EQ(obj.at("reclaimPolicy"), "Delete");
  EXPECT_EQ(obj.at("volumeBindingMode"), "Immediate");
  EXPECT_TRUE(errors(sc, obj).empty());
  EXPECT_TRUE(isDefaultStorageClass(obj));
  EXPECT_EQ(storageClassDisplayName(obj), "local (default)");
  std::vector<std::string> names;
  for (const auto& c : sc.columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Provisioner", "ReclaimPolicy", "VolumeBindingMode",
                                             "AllowVolumeExpansion", "Age"}));
  EXPECT_EQ(sc.cells(obj, at(kCreated + 600)),
            (json::array{"rancher.io/local-path", "Delete", "Immediate", false, "10m"}));

  auto bad = parse(R"({"metadata":{"name":"x"},"reclaimPolicy":"Recycle","volumeBindingMode":"Later"})");
  EXPECT_EQ(errors(sc, bad),
            (std::vector<std::string>{
                "provisioner: Required value",
                "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"",
                "volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", "
                "\"WaitForFirstConsumer\""}));

  auto changed = obj;
  changed["parameters"] = json::object{{"a", "c"}};
  changed["reclaimPolicy"] = "Retain";
  EXPECT_EQ(errors(sc, changed, &obj),
            (std::vector<std::string>{"parameters: Forbidden: updates to parameters are forbidden.",
                                      "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."}));
}

TEST(CSIDriver, DefaultsAndTable) {
  const KindInfo& d = kind("CSIDriver");
  auto obj = parse(R"({"metadata":{"name":"hostpath.csi.k8s.io","creationTimestamp":"2024-01-01T00:00:00Z"},"spec":{}})");
  d.defaults(obj);
  EXPECT_EQ(obj.at("spec"), parse(R"({"attachRequired":true,"podInfoOnMount":false,"storageCapacity":false,
      "fsGroupPolicy":"ReadWriteOnceWithFSType","volumeLifecycleModes":["Persistent"],"requiresRepublish":false})"));
  EXPECT_TRUE(errors(d, obj).empty());
  EXPECT_EQ(d.cells(obj, at(kCreated + 60)),
            (json::array{true, false, false, "<unset>", false, "Persistent", "60s"}));
  auto changed = obj;
  changed["spec"].as_object()["attachRequired"] = false;
  EXPECT_EQ(errors(d, changed, &obj),
            (std::vector<std::string>{"spec.attachRequired: Invalid value: false: field is immutable"}));
}

TEST(CSINode, ValidationAndTable) {
  const KindInfo& n = kind("CSINode");
  auto obj = parse(R"({"metadata":{"name":"node1"},"spec":{"drivers":[{"name":"a.csi","nodeID":"n1"},
      {"name":"a.csi"}]}})");
  EXPECT_EQ(errors(n, obj), (std::vector<std::string>{"spec.drivers[1].name: Duplicate value: \"a.csi\"",
                                                      "spec.drivers[1].nodeID: Required value"}));
  EXPECT_EQ(n.cells(obj, at(kCreated)), (json::array{2, "<unknown>"}));
}

TEST(CSIStorageCapacity, Table) {
  const KindInfo& c = kind("CSIStorageCapacity");
  EXPECT_TRUE(c.namespaced);
  auto obj = parse(R"({"metadata":{"name":"cap","namespace":"ns"},"storageClassName":"fast","capacity":"10Gi"})");
  EXPECT_TRUE(errors(c, obj).empty());
  EXPECT_EQ(c.cells(obj, at(kCreated)), (json::array{"fast", "10Gi"}));
  auto unset = parse(R"({"metadata":{"name":"cap","namespace":"ns"}})");
  EXPECT_EQ(c.cells(unset, at(kCreated)), (json::array{"", "<unset>"}));
  EXPECT_EQ(errors(c, unset), (std::vector<std::string>{"storageClassName: Required value"}));
}

TEST(VolumeAttachment, ValidationAndTable) {
  const KindInfo& v = kind("VolumeAttachment");
  auto obj = parse(R"({"metadata":{"name":"va"},"spec":{"attacher":"a.csi","nodeName":"node1",
      "source":{"persistentVolumeName":"pv1"}},"status":{"attached":true}})");
  EXPECT_TRUE(errors(v, obj).empty());
  EXPECT_EQ(v.cells(obj, at(kCreated)), (json::array{"a.csi", "pv1", "node1", true, "<unknown>"}));
  auto bad = parse(R"({"metadata":{"name":"va"},"spec":{"source":{}}})");
  auto errs = errors(v, bad);
  // An empty attacher also fails the DNS-1123 check, as upstream reports both.
  ASSERT_EQ(errs.size(), 4u);
  EXPECT_EQ(errs[0], "spec.attacher: Required value");
  EXPECT_EQ(errs[1].rfind("spec.attacher: Invalid value: \"\": a lowercase RFC 1123 subdomain", 0), 0u) << errs[1];
  EXPECT_EQ(errs[2], "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName");
  EXPECT_EQ(errs[3], "spec.nodeName: Required value");
}

}  // namespace
}  // namespace berth::api
