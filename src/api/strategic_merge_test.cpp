#include "api/strategic_merge.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace berth::api {
namespace {

namespace json = boost::json;
using TypePtr = std::shared_ptr<SchemaType>;

json::value J(std::string_view s) { return json::parse(s); }

// A hand-built slice of the core/apps schema: just enough types and patch
// strategies to exercise every path of the merge.
TypePtr scalar(SchemaKind k) {
  auto t = std::make_shared<SchemaType>();
  t->kind = k;
  return t;
}
TypePtr object(std::string name) {
  auto t = std::make_shared<SchemaType>();
  t->kind = SchemaKind::kObject;
  t->name = std::move(name);
  return t;
}
TypePtr arrayOf(TypePtr elem) {
  auto t = std::make_shared<SchemaType>();
  t->kind = SchemaKind::kArray;
  t->elem = std::move(elem);
  return t;
}
TypePtr mapOf(TypePtr elem) {
  auto t = std::make_shared<SchemaType>();
  t->kind = SchemaKind::kMap;
  t->elem = std::move(elem);
  return t;
}
void addField(const TypePtr& t, std::string name, TypePtr type, std::string merge_key = "", bool merge = false,
              bool retain_keys = false) {
  SchemaField f;
  f.json_name = std::move(name);
  f.type = std::move(type);
  f.merge_key = std::move(merge_key);
  f.merge = merge || !f.merge_key.empty();
  f.retain_keys = retain_keys;
  t->fields.push_back(std::move(f));
}

struct Schemas {
  TypePtr deployment, pod, node, merge_item;
};

const Schemas& schemas() {
  static const Schemas s = [] {
    auto str = scalar(SchemaKind::kString);
    auto i32 = scalar(SchemaKind::kInt32);
    auto meta = object("ObjectMeta");
    auto owner_ref = object("OwnerReference");
    addField(owner_ref, "uid", str);
    addField(owner_ref, "name", str);
    addField(meta, "name", str);
    addField(meta, "labels", mapOf(str));
    addField(meta, "annotations", mapOf(str));
    addField(meta, "finalizers", arrayOf(str), "", true);
    addField(meta, "ownerReferences", arrayOf(owner_ref), "uid");

    auto env = object("EnvVar");
    addField(env, "name", str);
    addField(env, "value", str);
    auto port = object("ContainerPort");
    addField(port, "containerPort", i32);
    addField(port, "name", str);
    auto mount = object("VolumeMount");
    addField(mount, "mountPath", str);
    addField(mount, "name", str);
    auto container = object("Container");
    addField(container, "name", str);
    addField(container, "image", str);
    addField(container, "args", arrayOf(str));
    addField(container, "ports", arrayOf(port), "containerPort");
    addField(container, "env", arrayOf(env), "name");
    addField(container, "volumeMounts", arrayOf(mount), "mountPath");
    addField(container, "resources", scalar(SchemaKind::kAny));
    auto volume = object("Volume");
    addField(volume, "name", str);
    addField(volume, "emptyDir", object("EmptyDirVolumeSource"));
    addField(volume, "hostPath", object("HostPathVolumeSource"));
    auto toleration = object("Toleration");
    addField(toleration, "key", str);
    auto condition = object("PodCondition");
    addField(condition, "type", str);
    addField(condition, "status", str);
    auto pod_spec = object("PodSpec");
    addField(pod_spec, "containers", arrayOf(container), "name");
    addField(pod_spec, "initContainers", arrayOf(container), "name");
    addField(pod_spec, "volumes", arrayOf(volume), "name", true, true);
    addField(pod_spec, "tolerations", arrayOf(toleration));
    addField(pod_spec, "nodeName", str);
    auto pod_status = object("PodStatus");
    addField(pod_status, "conditions", arrayOf(condition), "type");
    auto pod = object("Pod");
    addField(pod, "metadata", meta);
    addField(pod, "spec", pod_spec);
    addField(pod, "status", pod_status);

    auto template_spec = object("PodTemplateSpec");
    addField(template_spec, "metadata", meta);
    addField(template_spec, "spec", pod_spec);
    auto rolling = object("RollingUpdateDeployment");
    addField(rolling, "maxSurge", scalar(SchemaKind::kIntOrString));
    addField(rolling, "maxUnavailable", scalar(SchemaKind::kIntOrString));
    auto strategy = object("DeploymentStrategy");
    addField(strategy, "type", str);
    addField(strategy, "rollingUpdate", rolling);
    auto dep_spec = object("DeploymentSpec");
    addField(dep_spec, "replicas", i32);
    addField(dep_spec, "template", template_spec);
    addField(dep_spec, "strategy", strategy, "", false, true);
    auto dep = object("Deployment");
    addField(dep, "metadata", meta);
    addField(dep, "spec", dep_spec);

    auto node_spec = object("NodeSpec");
    addField(node_spec, "unschedulable", scalar(SchemaKind::kBool));
    auto node = object("Node");
    addField(node, "metadata", meta);
    addField(node, "spec", node_spec);

    // The shape of upstream's test "mergeItem" type.
    auto item = object("mergeItem");
    addField(item, "name", str);
    addField(item, "value", str);
    addField(item, "other", str);
    addField(item, "mergingList", arrayOf(item), "name");
    addField(item, "mergeItemPtr", arrayOf(item), "name");
    addField(item, "nonMergingList", arrayOf(item));
    addField(item, "mergingIntList", arrayOf(scalar(SchemaKind::kInt64)), "", true);
    addField(item, "nonMergingIntList", arrayOf(scalar(SchemaKind::kInt64)));
    addField(item, "simpleMap", mapOf(str));
    return Schemas{dep, pod, node, item};
  }();
  return s;
}

json::value smp(std::string_view doc, std::string_view patch, const TypePtr& schema) {
  auto r = applyStrategicMergePatchText(J(doc), patch, schema.get());
  EXPECT_TRUE(r.ok()) << patch << " -> " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : json::value();
}

Error smpError(std::string_view doc, std::string_view patch, const TypePtr& schema) {
  auto r = applyStrategicMergePatchText(J(doc), patch, schema.get());
  EXPECT_FALSE(r.ok()) << patch;
  return r.ok() ? Error{} : r.error();
}

const TypePtr& item() { return schemas().merge_item; }

// --- upstream strategicpatch test cases, re-expressed ----------------------

TEST(StrategicMerge, MergeListsOfMapsWithSetElementOrder) {
  auto out = smp(R"({"mergingList":[{"name":"1","other":"a"},{"name":"2","value":"2","other":"b"}]})",
                 R"({"$setElementOrder/mergingList":[{"name":"4"},{"name":"1"},{"name":"2"},{"name":"3"}],
                     "mergingList":[{"name":"4","value":"4"},{"name":"3","value":"3"}]})",
                 item());
  EXPECT_EQ(out, J(R"({"mergingList":[{"name":"4","value":"4"},{"name":"1","other":"a"},
                                      {"name":"2","value":"2","other":"b"},{"name":"3","value":"3"}]})"));
}

TEST(StrategicMerge, ServerOnlyItemsKeepTheirPlace) {
  // "add map to merging list by pointer": server-only item 3 stays after 2.
  auto out = smp(R"({"mergeItemPtr":[{"name":"1","other":"a"},{"name":"3"}]})",
                 R"({"$setElementOrder/mergeItemPtr":[{"name":"1"},{"name":"2"}],"mergeItemPtr":[{"name":"2"}]})",
                 item());
  EXPECT_EQ(out, J(R"({"mergeItemPtr":[{"name":"1","other":"a"},{"name":"2"},{"name":"3"}]})"));
}

TEST(StrategicMerge, SetElementOrderWithItemsMissingFromList) {
  auto out = smp(R"({"mergingList":[{"name":"1"},{"name":"3"}]})",
                 R"({"$setElementOrder/mergingList":[{"name":"3"},{"name":"2"},{"name":"1"}],
                     "mergingList":[{"name":"3","value":"3"},{"name":"1","value":"1"}]})",
                 item());
  EXPECT_EQ(out, J(R"({"mergingList":[{"name":"3","value":"3"},{"name":"1","value":"1"}]})"));
  // Primitive list: the order alone reorders it.
  out = smp(R"({"mergingIntList":[1,3]})", R"({"$setElementOrder/mergingIntList":[3,2,1]})", item());
  EXPECT_EQ(out, J(R"({"mergingIntList":[3,1]})"));
}

TEST(StrategicMerge, SetElementOrderMustMatchPatchOrder) {
  auto e = smpError(R"({"mergingList":[{"name":"1"},{"name":"3"},{"name":"2"}]})",
                    R"({"$setElementOrder/mergingList":[{"name":"1"},{"name":"2"},{"name":"3"}],
                        "mergingList":[{"name":"3","value":"3"},{"name":"1","value":"1"}]})",
                    item());
  EXPECT_NE(e.message.find("doesn't match"), std::string::npos) << e.message;
  e = smpError(R"({"mergingIntList":[1,3,2]})",
               R"({"$setElementOrder/mergingIntList":[1,2,3],"mergingIntList":[3,1]})", item());
  EXPECT_NE(e.message.find("doesn't match"), std::string::npos) << e.message;
}

TEST(StrategicMerge, MissingMergeKeyIsAnError) {
  auto e = smpError(R"({"mergingList":[{"name":"1","value":"a"}]})", R"({"mergingList":[{"value":"b"}]})", item());
  EXPECT_EQ(e.code, ErrorCode::kInternal);
  EXPECT_EQ(e.message, "map: map[value:b] does not contain declared merge key: name");
}

TEST(StrategicMerge, DeleteFromPrimitiveList) {
  EXPECT_EQ(smp(R"({"mergingIntList":[1,2]})", R"({"$deleteFromPrimitiveList/mergingIntList":[3]})", item()),
            J(R"({"mergingIntList":[1,2]})"));
  EXPECT_EQ(smp(R"({"mergingIntList":[]})", R"({"$deleteFromPrimitiveList/mergingIntList":[3]})", item()),
            J(R"({"mergingIntList":[]})"));
  EXPECT_EQ(smp(R"({"foo":["bar"]})", R"({"$deleteFromPrimitiveList/mergingIntList":[3]})", item()),
            J(R"({"foo":["bar"]})"));
  EXPECT_EQ(smp(R"({"mergingIntList":[1,2,3]})", R"({"$deleteFromPrimitiveList/mergingIntList":[2]})", item()),
            J(R"({"mergingIntList":[1,3]})"));
  EXPECT_EQ(smp(R"({"nonMergingIntList":[1,2,3]})", R"({"$deleteFromPrimitiveList/nonMergingIntList":[2]})", item()),
            J(R"({"nonMergingIntList":[1,3]})"));
  auto e = smpError(R"({})", R"({"$deleteFromPrimitiveList":[2]})", item());
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_EQ(e.message, "invalid patch format of primitive list");
}

TEST(StrategicMerge, ListsOfScalarsMergeAsSets) {
  // "add and delete items in lists of scalars" (3-way output of kubectl).
  auto out = smp(R"({"mergingIntList":[1,2,3]})",
                 R"({"$setElementOrder/mergingIntList":[1,2,4],"$deleteFromPrimitiveList/mergingIntList":[3],
                     "mergingIntList":[4]})",
                 item());
  EXPECT_EQ(out, J(R"({"mergingIntList":[1,2,4]})"));
  // Duplicates collapse.
  out = smp(R"({"mergingIntList":[1,2]})", R"({"mergingIntList":[2,3]})", item());
  EXPECT_EQ(out.at("mergingIntList").as_array().size(), 3u);
  // Non-merging scalar lists are replaced.
  out = smp(R"({"nonMergingIntList":[1,2]})", R"({"nonMergingIntList":[3]})", item());
  EXPECT_EQ(out, J(R"({"nonMergingIntList":[3]})"));
}

TEST(StrategicMerge, DeleteMapFromMergingList) {
  auto out = smp(R"({"mergingList":[{"name":"1"},{"name":"2"}]})",
                 R"({"mergingList":[{"name":"1","$patch":"delete"}]})", item());
  EXPECT_EQ(out, J(R"({"mergingList":[{"name":"2"}]})"));
  // Deleting a missing item is a no-op.
  out = smp(R"({"mergingList":[{"name":"1"}]})", R"({"mergingList":[{"name":"3","$patch":"delete"}]})", item());
  EXPECT_EQ(out, J(R"({"mergingList":[{"name":"1"}]})"));
  // "add map and delete map from merging list"
  out = smp(R"({"merginglist":1,"mergingList":[{"name":"1"},{"name":"2"}]})",
            R"({"$setElementOrder/mergingList":[{"name":"2"},{"name":"3"}],
                "mergingList":[{"name":"3"},{"name":"1","$patch":"delete"}]})",
            item());
  EXPECT_EQ(out.at("mergingList"), J(R"([{"name":"2"},{"name":"3"}])"));
}

TEST(StrategicMerge, ReplaceDirectives) {
  // $patch: replace inside a list replaces the whole list.
  auto out = smp(R"({"mergingList":[{"name":"1","value":"a"},{"name":"2"}]})",
                 R"({"mergingList":[{"name":"3"},{"$patch":"replace"}]})", item());
  EXPECT_EQ(out, J(R"({"mergingList":[{"name":"3"}]})"));
  // $patch: replace on a map replaces the map.
  out = smp(R"({"simpleMap":{"a":"1","b":"2"}})", R"({"simpleMap":{"c":"3","$patch":"replace"}})", item());
  EXPECT_EQ(out, J(R"({"simpleMap":{"c":"3"}})"));
  // $patch: delete on a map empties it.
  out = smp(R"({"simpleMap":{"a":"1"},"name":"x"})", R"({"simpleMap":{"$patch":"delete"}})", item());
  EXPECT_EQ(out, J(R"({"simpleMap":{},"name":"x"})"));
  // Unknown directives.
  auto e = smpError(R"({"simpleMap":{"a":"1"}})", R"({"simpleMap":{"$patch":"merge"}})", item());
  EXPECT_EQ(e.message, "unknown patch type: merge in map: map[$patch:merge]");
  e = smpError(R"({"mergingList":[{"name":"1"}]})", R"({"mergingList":[{"$patch":"merge"}]})", item());
  EXPECT_EQ(e.message, "merging lists cannot yet be specified in the patch");
}

TEST(StrategicMerge, NullDeletesAndUnmatchedNullsVanish) {
  auto out = smp(R"({"name":"x","value":"y","simpleMap":{"a":"1"}})",
                 R"({"value":null,"other":null,"simpleMap":{"a":null,"b":"2"}})", item());
  EXPECT_EQ(out, J(R"({"name":"x","simpleMap":{"b":"2"}})"));
  // A new subtree carries no nulls or directives into the result.
  out = smp(R"({})", R"({"mergingList":[{"name":"1","value":null,"$setElementOrder/x":[]}],
                        "simpleMap":{"a":null,"b":"1"}})", item());
  EXPECT_EQ(out, J(R"({"mergingList":[{"name":"1"}],"simpleMap":{"b":"1"}})"));
}

TEST(StrategicMerge, NewItemsWithoutOrderGoFirst) {
  // Without $setElementOrder, upstream's mergeSortedSlice emits a patch item
  // it cannot place in the live order before the remaining live items.
  auto out = smp(R"({"mergingList":[{"name":"a"},{"name":"b"}]})", R"({"mergingList":[{"name":"c"}]})", item());
  EXPECT_EQ(out, J(R"({"mergingList":[{"name":"c"},{"name":"a"},{"name":"b"}]})"));
  // Items named in the patch that already exist keep their live order.
  out = smp(R"({"mergingList":[{"name":"a"},{"name":"b","value":"1"}]})",
            R"({"mergingList":[{"name":"b","value":"2"},{"name":"c"}]})", item());
  EXPECT_EQ(out, J(R"({"mergingList":[{"name":"a"},{"name":"b","value":"2"},{"name":"c"}]})"));
}

TEST(StrategicMerge, RetainKeys) {
  const auto& dep = schemas().deployment;
  // kubectl apply switching a Deployment from RollingUpdate to Recreate.
  auto out = smp(R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%"}}}})",
                 R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})", dep);
  EXPECT_EQ(out, J(R"({"spec":{"strategy":{"type":"Recreate"}}})"));
  // Patch fields outside the retained list are refused.
  auto e = smpError(R"({"spec":{"strategy":{}}})",
                    R"({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{"maxSurge":1}}}})", dep);
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_EQ(e.message, "invalid patch format of retainKeys");
  e = smpError(R"({"spec":{"strategy":{}}})", R"({"spec":{"strategy":{"$retainKeys":"type"}}})", dep);
  EXPECT_EQ(e.message, "invalid patch format of retainKeys");
  // Volumes: retainKeys inside a merging list item (emptyDir -> hostPath).
  const auto& pod = schemas().pod;
  out = smp(R"({"spec":{"volumes":[{"name":"data","emptyDir":{}}]}})",
            R"({"spec":{"volumes":[{"$retainKeys":["hostPath","name"],"name":"data","hostPath":{"path":"/d"}}]}})",
            pod);
  EXPECT_EQ(out, J(R"({"spec":{"volumes":[{"name":"data","hostPath":{"path":"/d"}}]}})"));
}

TEST(StrategicMerge, ListsOfListsAre422) {
  auto e = smpError(R"({"mergingIntList":[]})", R"({"mergingIntList":[[1]]})", item());
  EXPECT_EQ(e.code, ErrorCode::kInvalid);
}

TEST(StrategicMerge, BadInputs) {
  auto e = smpError(R"([])", R"({})", item());
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_EQ(e.message, "invalid JSON document");
  e = smpError(R"({})", R"([1])", item());
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_EQ(e.message, "json: cannot unmarshal array into Go value of type map[string]interface {}");
  e = smpError(R"({})", R"({"$setElementOrder":[1]})", item());
  EXPECT_EQ(e.message, "invalid patch format of setElementOrder list");
  e = smpError(R"({})", "{bad", item());
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  e = smpError(R"({"mergingList":[{"name":"1"}]})", R"({"mergingList":[{"name":"1"},"x"]})", item());
  EXPECT_NE(e.message.find("list element types are not identical"), std::string::npos);
  std::string deep = R"({"simpleMap":)";
  for (int i = 0; i < 600; ++i) deep += R"({"a":)";
  deep += "1";
  for (int i = 0; i < 601; ++i) deep += "}";
  e = smpError(R"({})", deep, item());
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  // null patch is a no-op.
  EXPECT_EQ(smp(R"({"a":1})", "null", item()), J(R"({"a":1})"));
}

// --- what kubectl sends ----------------------------------------------------

constexpr const char* kDeployment = R"({
  "apiVersion":"apps/v1","kind":"Deployment",
  "metadata":{"name":"web","namespace":"default","labels":{"app":"web"},
    "annotations":{"deployment.kubernetes.io/revision":"1"}},
  "spec":{"replicas":2,
    "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},
    "template":{"metadata":{"labels":{"app":"web"}},
      "spec":{"containers":[
        {"name":"web","image":"nginx:1.25","ports":[{"containerPort":80,"name":"http"}],
         "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
         "volumeMounts":[{"mountPath":"/data","name":"data"}]},
        {"name":"istio-proxy","image":"proxy:1"}],
        "volumes":[{"name":"data","emptyDir":{}}]}}}})";

TEST(StrategicMerge, KubectlSetImage) {
  auto out = smp(kDeployment, R"({"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}}})",
                 schemas().deployment);
  auto expected = J(kDeployment);
  expected.as_object()["spec"].as_object()["template"].as_object()["spec"].as_object()["containers"].as_array()[0]
      .as_object()["image"] = "nginx:1.26";
  EXPECT_EQ(out, expected);
}

TEST(StrategicMerge, KubectlRolloutRestart) {
  auto out = smp(kDeployment,
                 R"({"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2024-05-01T10:00:00Z"}}}}})",
                 schemas().deployment);
  EXPECT_EQ(out.at_pointer("/spec/template/metadata"),
            J(R"({"labels":{"app":"web"},"annotations":{"kubectl.kubernetes.io/restartedAt":"2024-05-01T10:00:00Z"}})"));
}

TEST(StrategicMerge, KubectlCordon) {
  auto out = smp(R"({"metadata":{"name":"n1"},"spec":{"podCIDR":"10.0.0.0/24"}})", R"({"spec":{"unschedulable":true}})",
                 schemas().node);
  EXPECT_EQ(out, J(R"({"metadata":{"name":"n1"},"spec":{"podCIDR":"10.0.0.0/24","unschedulable":true}})"));
}

TEST(StrategicMerge, KubectlApplyThreeWayPatch) {
  // The patch kubectl apply computes after the user bumped the image, dropped
  // env B, added env C, a port and a sidecar, and scaled to 3; istio-proxy
  // was injected by the server and is not in the manifest.
  auto out = smp(kDeployment, R"({
    "metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"}},
    "spec":{"replicas":3,"template":{"spec":{
      "$setElementOrder/containers":[{"name":"web"},{"name":"log"}],
      "containers":[
        {"$setElementOrder/env":[{"name":"A"},{"name":"C"}],
         "$setElementOrder/ports":[{"containerPort":80},{"containerPort":443}],
         "env":[{"name":"C","value":"3"},{"$patch":"delete","name":"B"}],
         "image":"nginx:1.26","name":"web","ports":[{"containerPort":443,"name":"https"}]},
        {"image":"busybox","name":"log"}]}}}})",
                 schemas().deployment);
  EXPECT_EQ(out.at_pointer("/spec/replicas"), json::value(3));
  EXPECT_EQ(out.at_pointer("/metadata/annotations"),
            J(R"({"deployment.kubernetes.io/revision":"1","kubectl.kubernetes.io/last-applied-configuration":"{}"})"));
  EXPECT_EQ(out.at_pointer("/spec/template/spec/containers"), J(R"([
    {"name":"web","image":"nginx:1.26",
     "ports":[{"containerPort":80,"name":"http"},{"containerPort":443,"name":"https"}],
     "env":[{"name":"A","value":"1"},{"name":"C","value":"3"}],
     "volumeMounts":[{"mountPath":"/data","name":"data"}]},
    {"name":"log","image":"busybox"},
    {"name":"istio-proxy","image":"proxy:1"}])"));
}

TEST(StrategicMerge, MergeKeysOfCoreTypes) {
  const auto& pod = schemas().pod;
  auto out = smp(R"({"metadata":{"finalizers":["a","b"],"ownerReferences":[{"uid":"u1","name":"rs1"}]},
                     "status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}})",
                 R"({"metadata":{"finalizers":["c"],"ownerReferences":[{"uid":"u1","name":"rs1b"}]},
                     "status":{"conditions":[{"type":"Ready","status":"True"}]}})",
                 pod);
  EXPECT_EQ(out.at_pointer("/metadata/finalizers"), J(R"(["c","a","b"])"));
  EXPECT_EQ(out.at_pointer("/metadata/ownerReferences"), J(R"([{"uid":"u1","name":"rs1b"}])"));
  EXPECT_EQ(out.at_pointer("/status/conditions"),
            J(R"([{"type":"Ready","status":"True"},{"type":"PodScheduled","status":"True"}])"));
  // Removing a finalizer the way controllers do.
  out = smp(R"({"metadata":{"finalizers":["a","b"]}})", R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}})",
            pod);
  EXPECT_EQ(out.at_pointer("/metadata/finalizers"), J(R"(["b"])"));
  // Tolerations have no merge strategy: replaced.
  out = smp(R"({"spec":{"tolerations":[{"key":"a"}]}})", R"({"spec":{"tolerations":[{"key":"b"}]}})", pod);
  EXPECT_EQ(out.at_pointer("/spec/tolerations"), J(R"([{"key":"b"}])"));
  // Ports merge by an integer key.
  out = smp(R"({"spec":{"containers":[{"name":"c","ports":[{"containerPort":80},{"containerPort":81}]}]}})",
            R"({"spec":{"containers":[{"name":"c","ports":[{"containerPort":81,"name":"x"}]}]}})", pod);
  EXPECT_EQ(out.at_pointer("/spec/containers/0/ports"), J(R"([{"containerPort":80},{"containerPort":81,"name":"x"}])"));
}

TEST(StrategicMerge, UnknownFieldsUseMergePatchSemantics) {
  // No schema: objects merge, lists replace.
  auto r = applyStrategicMergePatch(J(R"({"a":{"x":1,"y":2},"l":[{"name":"1"}]})"),
                                    J(R"({"a":{"x":null,"z":3},"l":[{"name":"2"}]})"), nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, J(R"({"a":{"y":2,"z":3},"l":[{"name":"2"}]})"));
  // kAny field (resources) inside a typed object.
  auto out = smp(R"({"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"1"},"requests":{"cpu":"1"}}}]}})",
                 R"({"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"2"}}}]}})", schemas().pod);
  EXPECT_EQ(out.at_pointer("/spec/containers/0/resources"), J(R"({"limits":{"cpu":"2"},"requests":{"cpu":"1"}})"));
}

}  // namespace
}  // namespace berth::api
