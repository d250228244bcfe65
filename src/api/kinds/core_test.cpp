#include <gtest/gtest.h>

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/pod_spec.h"
#include "common/clock.h"

namespace berth::api {
namespace {

namespace json = boost::json;

const KindInfo& kind(const char* group, const char* version, const char* k) {
  const KindInfo* info = KindRegistry::builtin().byKind(group, version, k);
  if (!info) ADD_FAILURE() << "no kind " << k;
  return *info;
}

Object parse(const char* s) { return json::parse(s).as_object(); }

KindContext ctxAt(const char* now) {
  KindContext ctx;
  parseRfc3339(now, &ctx.now);
  return ctx;
}

std::vector<std::string> messages(const FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& c : errs.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

TEST(CoreKinds, PodDefaults) {
  const KindInfo& k = kind("", "v1", "Pod");
  Object pod = parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[
      {"name":"a","image":"nginx","ports":[{"containerPort":80}],
       "livenessProbe":{"httpGet":{"port":80}},
       "resources":{"limits":{"cpu":"1","memory":"1Gi"}}},
      {"name":"b","image":"busybox:1.36"}],
      "volumes":[{"name":"v"},{"name":"c","configMap":{"name":"x"}}]}})");
  k.defaults(pod);
  const json::object& spec = *objAt(pod, {"spec"});
  EXPECT_EQ(strAt(spec, {"restartPolicy"}), "Always");
  EXPECT_EQ(strAt(spec, {"dnsPolicy"}), "ClusterFirst");
  EXPECT_EQ(intAt(spec, {"terminationGracePeriodSeconds"}), 30);
  EXPECT_EQ(strAt(spec, {"schedulerName"}), "default-scheduler");
  EXPECT_EQ(boolAt(spec, {"enableServiceLinks"}), true);
  EXPECT_TRUE(objAt(spec, {"securityContext"}));
  const json::array& cs = *arrAt(spec, {"containers"});
  EXPECT_EQ(strAt(cs[0].as_object(), {"imagePullPolicy"}), "Always");
  EXPECT_EQ(strAt(cs[1].as_object(), {"imagePullPolicy"}), "IfNotPresent");
  EXPECT_EQ(strAt(cs[0].as_object(), {"terminationMessagePath"}), "/dev/termination-log");
  EXPECT_EQ(strAt(cs[0].as_object(), {"terminationMessagePolicy"}), "File");
  EXPECT_EQ((*arrAt(cs[0].as_object(), {"ports"}))[0].as_object().at("protocol"), "TCP");
  EXPECT_EQ(intAt(cs[0].as_object(), {"livenessProbe", "periodSeconds"}), 10);
  EXPECT_EQ(strAt(cs[0].as_object(), {"livenessProbe", "httpGet", "scheme"}), "HTTP");
  EXPECT_EQ(strAt(cs[0].as_object(), {"resources", "requests", "memory"}), "1Gi");
  const json::array& vols = *arrAt(spec, {"volumes"});
  EXPECT_TRUE(objAt(vols[0].as_object(), {"emptyDir"}));
  EXPECT_EQ(intAt(vols[1].as_object(), {"configMap", "defaultMode"}), 420);
  // Idempotent.
  Object again = pod;
  k.defaults(again);
  EXPECT_EQ(again, pod);
  k.prepare(pod, nullptr);
  EXPECT_EQ(strAt(pod, {"status", "phase"}), "Pending");
  EXPECT_EQ(strAt(pod, {"status", "qosClass"}), "Burstable");
}

TEST(CoreKinds, PodQos) {
  EXPECT_EQ(podQosClass(parse(R"({"containers":[{"name":"a"}]})")), "BestEffort");
  EXPECT_EQ(podQosClass(parse(
                R"({"containers":[{"resources":{"limits":{"cpu":"500m","memory":"1Gi"},"requests":{"cpu":"0.5","memory":"1Gi"}}}]})")),
            "Guaranteed");
  EXPECT_EQ(parseQuantity("1Ki").value(), 1024);
  EXPECT_FALSE(parseQuantity("abc"));
}

TEST(CoreKinds, PodValidationMessages) {
  const KindInfo& k = kind("", "v1", "Pod");
  Object pod = parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[
      {"name":"a","image":""},{"name":"a","image":"x","ports":[{"containerPort":70000}]}],
      "restartPolicy":"Sometimes"}})");
  k.defaults(pod);
  FieldErrors errs;
  k.validate(pod, nullptr, errs);
  auto m = messages(errs);
  EXPECT_NE(std::find(m.begin(), m.end(), "spec.containers[0].image: Required value"), m.end());
  EXPECT_NE(std::find(m.begin(), m.end(), "spec.containers[1].name: Duplicate value: \"a\""), m.end());
  EXPECT_NE(std::find(m.begin(), m.end(),
                      "spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, "
                      "inclusive"),
            m.end());
  EXPECT_NE(std::find(m.begin(), m.end(),
                      "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", "
                      "\"OnFailure\", \"Never\""),
            m.end());

  FieldErrors none;
  Object empty = parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{}})");
  k.defaults(empty);
  k.validate(empty, nullptr, none);
  EXPECT_EQ(messages(none), std::vector<std::string>{"spec.containers: Required value"});
}

TEST(CoreKinds, PodUpdateOnlyImage) {
  const KindInfo& k = kind("", "v1", "Pod");
  Object old = parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[{"name":"a","image":"x"}]}})");
  k.defaults(old);
  Object now = old;
  now["spec"].as_object()["containers"].as_array()[0].as_object()["image"] = "y";
  FieldErrors ok;
  k.validate(now, &old, ok);
  EXPECT_TRUE(ok.empty()) << messages(ok)[0];
  now["spec"].as_object()["restartPolicy"] = "Never";
  FieldErrors bad;
  k.validate(now, &old, bad);
  ASSERT_EQ(bad.causes().size(), 1u);
  EXPECT_EQ(bad.causes()[0].field, "spec");
  EXPECT_EQ(bad.causes()[0].message.rfind("Forbidden: pod updates may not change fields other than", 0), 0u);
}

TEST(CoreKinds, PodCells) {
  const KindInfo& k = kind("", "v1", "Pod");
  KindContext ctx = ctxAt("2024-01-01T01:00:00Z");
  Object pod = parse(R"({"metadata":{"name":"p","creationTimestamp":"2024-01-01T00:00:00Z"},
      "spec":{"nodeName":"n1","containers":[{"name":"a"},{"name":"b"}]},
      "status":{"phase":"Running","podIPs":[{"ip":"10.0.0.5"}],"containerStatuses":[
        {"name":"a","ready":true,"restartCount":3,"state":{"running":{}},
         "lastState":{"terminated":{"finishedAt":"2024-01-01T00:55:00Z"}}},
        {"name":"b","ready":false,"restartCount":0,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}})");
  json::array cells = k.cells(pod, ctx);
  ASSERT_EQ(cells.size(), k.columns.size());
  EXPECT_EQ(cells[0], "1/2");
  EXPECT_EQ(cells[1], "CrashLoopBackOff");
  EXPECT_EQ(cells[2], "3 (5m ago)");
  EXPECT_EQ(cells[3], "60m");
  EXPECT_EQ(cells[4], "10.0.0.5");
  EXPECT_EQ(cells[5], "n1");
  EXPECT_EQ(cells[6], "<none>");
  EXPECT_EQ(cells[7], "<none>");

  Object init = parse(R"({"metadata":{"name":"p"},"spec":{"initContainers":[{"name":"i"},{"name":"j"}],
      "containers":[{"name":"a"}]},"status":{"phase":"Pending","initContainerStatuses":[
        {"name":"i","state":{"terminated":{"exitCode":0}}},{"name":"j","state":{"running":{}}}]}})");
  cells = k.cells(init, ctx);
  EXPECT_EQ(cells[1], "Init:1/2");
  EXPECT_EQ(cells[3], "<unknown>");

  Object done = parse(R"({"metadata":{"name":"p","deletionTimestamp":"2024-01-01T00:00:00Z"},
      "spec":{"containers":[{"name":"a"}]},"status":{"phase":"Running"}})");
  EXPECT_EQ(k.cells(done, ctx)[1], "Terminating");
  Object completed = parse(R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]},
      "status":{"phase":"Succeeded","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}})");
  EXPECT_EQ(k.cells(completed, ctx)[1], "Completed");

  auto fields = k.selectable_fields(pod);
  EXPECT_EQ(fields["spec.nodeName"], "n1");
  EXPECT_EQ(fields["status.phase"], "Running");
  EXPECT_EQ(fields["status.podIP"], "10.0.0.5");
}

TEST(CoreKinds, ServiceDefaultsValidationCells) {
  const KindInfo& k = kind("", "v1", "Service");
  Object svc = parse(R"({"metadata":{"name":"web","namespace":"d","creationTimestamp":"2024-01-01T00:00:00Z"},
      "spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})");
  k.defaults(svc);
  EXPECT_EQ(strAt(svc, {"spec", "type"}), "ClusterIP");
  EXPECT_EQ(strAt(svc, {"spec", "sessionAffinity"}), "None");
  EXPECT_EQ(strAt(svc, {"spec", "internalTrafficPolicy"}), "Cluster");
  EXPECT_FALSE(at(svc, {"spec", "externalTrafficPolicy"}));
  EXPECT_EQ(strAt(svc, {"spec", "ipFamilyPolicy"}), "SingleStack");
  const json::object& port = (*arrAt(svc, {"spec", "ports"}))[0].as_object();
  EXPECT_EQ(port.at("protocol"), "TCP");
  EXPECT_EQ(port.at("targetPort"), 80);
  FieldErrors ok;
  k.validate(svc, nullptr, ok);
  EXPECT_TRUE(ok.empty()) << messages(ok)[0];

  svc["spec"].as_object()["clusterIP"] = "10.96.0.10";
  svc["spec"].as_object()["clusterIPs"] = json::array{"10.96.0.10"};
  json::array cells = k.cells(svc, ctxAt("2024-01-01T00:00:30Z"));
  EXPECT_EQ(cells, (json::array{"ClusterIP", "10.96.0.10", "<none>", "80/TCP", "30s", "app=web"}));

  Object updated = svc;
  updated["spec"].as_object()["clusterIP"] = "10.96.0.11";
  updated["spec"].as_object()["clusterIPs"] = json::array{"10.96.0.11"};
  FieldErrors bad;
  k.validate(updated, &svc, bad);
  ASSERT_FALSE(bad.empty());
  EXPECT_EQ(messages(bad).back(), "spec.clusterIPs[0]: Invalid value: \"10.96.0.11\": may not change once set");

  Object np = parse(R"({"metadata":{"name":"Bad"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}})");
  k.defaults(np);
  EXPECT_EQ(strAt(np, {"spec", "externalTrafficPolicy"}), "Cluster");
  EXPECT_EQ(k.cells(np, ctxAt("2024-01-01T00:00:00Z"))[3], "80:30080/TCP");
}

TEST(CoreKinds, SecretsAndConfigMaps) {
  const KindInfo& s = kind("", "v1", "Secret");
  Object tls = parse(R"({"metadata":{"name":"t","namespace":"d"},"type":"kubernetes.io/tls","data":{"tls.crt":"eA=="}})");
  s.defaults(tls);
  FieldErrors errs;
  s.validate(tls, nullptr, errs);
  EXPECT_EQ(messages(errs), std::vector<std::string>{"data[tls.key]: Required value"});

  Object opaque = parse(R"({"metadata":{"name":"o","namespace":"d"},"stringData":{"a":"hi"}})");
  s.defaults(opaque);
  EXPECT_EQ(strAt(opaque, {"type"}), "Opaque");
  EXPECT_EQ(strAt(opaque, {"data", "a"}), "aGk=");
  EXPECT_FALSE(at(opaque, {"stringData"}));
  Object changed = opaque;
  changed["type"] = "other/x";
  FieldErrors type_errs;
  s.validate(changed, &opaque, type_errs);
  EXPECT_EQ(messages(type_errs), std::vector<std::string>{"type: Invalid value: \"other/x\": field is immutable"});
  EXPECT_EQ(s.cells(opaque, ctxAt("2024-01-01T00:00:00Z"))[1], 1);

  const KindInfo& cm = kind("", "v1", "ConfigMap");
  Object old = parse(R"({"metadata":{"name":"c","namespace":"d"},"immutable":true,"data":{"a":"1"}})");
  Object now = parse(R"({"metadata":{"name":"c","namespace":"d"},"immutable":true,"data":{"a":"2","b/c":"x"}})");
  FieldErrors cm_errs;
  cm.validate(now, &old, cm_errs);
  auto m = messages(cm_errs);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].rfind("data[b/c]: Invalid value: \"b/c\": a valid config key must consist", 0), 0u);
  EXPECT_EQ(m[1], "data: Forbidden: field is immutable when `immutable` is set");
}

TEST(CoreKinds, NamespaceAndNode) {
  const KindInfo& ns = kind("", "v1", "Namespace");
  Object n = parse(R"({"metadata":{"name":"team-a"}})");
  ns.defaults(n);
  ns.prepare(n, nullptr);
  EXPECT_EQ(strAt(n, {"metadata", "labels", "kubernetes.io/metadata.name"}), "team-a");
  EXPECT_EQ(strAt(n, {"status", "phase"}), "Active");
  EXPECT_EQ(json::serialize(*at(n, {"spec", "finalizers"})), R"(["kubernetes"])");
  FieldErrors errs;
  Object bad = parse(R"({"metadata":{"name":"a.b"}})");
  ns.validate(bad, nullptr, errs);
  ASSERT_EQ(errs.causes().size(), 1u);
  EXPECT_EQ(errs.causes()[0].field, "metadata.name");

  const KindInfo& node = kind("", "v1", "Node");
  Object no = parse(R"({"metadata":{"name":"n1","labels":{"node-role.kubernetes.io/control-plane":""}},
      "spec":{"unschedulable":true},"status":{"conditions":[{"type":"Ready","status":"True"}],
      "nodeInfo":{"kubeletVersion":"v1.32.0"},"addresses":[{"type":"InternalIP","address":"10.0.0.1"}]}})");
  json::array cells = node.cells(no, ctxAt("2024-01-01T00:00:00Z"));
  EXPECT_EQ(cells[0], "Ready,SchedulingDisabled");
  EXPECT_EQ(cells[1], "control-plane");
  EXPECT_EQ(cells[3], "v1.32.0");
  EXPECT_EQ(cells[4], "10.0.0.1");
  EXPECT_EQ(cells[5], "<none>");
  EXPECT_EQ(cells[6], "<unknown>");
}

TEST(CoreKinds, EventCellsAndFields) {
  const KindInfo& k = kind("", "v1", "Event");
  Object ev = parse(R"({"metadata":{"name":"p.1","namespace":"d"},"involvedObject":{"kind":"Pod","name":"p","namespace":"d"},
      "reason":"Pulled","message":"ok\n","type":"Normal","source":{"component":"kubelet","host":"n1"},
      "firstTimestamp":"2024-01-01T00:00:00Z","lastTimestamp":"2024-01-01T00:01:00Z","count":2})");
  json::array cells = k.cells(ev, ctxAt("2024-01-01T00:02:00Z"));
  EXPECT_EQ(cells, (json::array{"60s", "Normal", "Pulled", "pod/p", "", "kubelet, n1", "ok", "2m", 2, "p.1"}));
  auto f = k.selectable_fields(ev);
  EXPECT_EQ(f["involvedObject.name"], "p");
  EXPECT_EQ(f["source"], "kubelet");
}

TEST(CoreKinds, EndpointsAndPvc) {
  const KindInfo& ep = kind("", "v1", "Endpoints");
  Object e = parse(R"({"metadata":{"name":"s"},"subsets":[{"addresses":[{"ip":"10.0.0.1"},{"ip":"10.0.0.2"}],
      "ports":[{"port":80},{"port":443}]}]})");
  EXPECT_EQ(ep.cells(e, ctxAt("2024-01-01T00:00:00Z"))[0], "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...");

  const KindInfo& pvc = kind("", "v1", "PersistentVolumeClaim");
  Object c = parse(R"({"metadata":{"name":"c","namespace":"d"},"spec":{"accessModes":["ReadWriteOnce"],
      "resources":{"requests":{"storage":"1Gi"}}}})");
  pvc.defaults(c);
  EXPECT_EQ(strAt(c, {"spec", "volumeMode"}), "Filesystem");
  FieldErrors ok;
  pvc.validate(c, nullptr, ok);
  EXPECT_TRUE(ok.empty());
  Object bigger = c;
  bigger["spec"].as_object()["resources"].as_object()["requests"].as_object()["storage"] = "2Gi";
  FieldErrors resize;
  pvc.validate(bigger, &c, resize);
  EXPECT_TRUE(resize.empty());
  bigger["spec"].as_object()["accessModes"] = json::array{"ReadWriteMany"};
  FieldErrors bad;
  pvc.validate(bigger, &c, bad);
  ASSERT_EQ(bad.causes().size(), 1u);
  EXPECT_EQ(bad.causes()[0].field, "spec");
}

TEST(CoreKinds, RegistryIsConsistent) {
  std::set<std::string> shorts;
  for (const auto& k : KindRegistry::builtin().all()) {
    EXPECT_FALSE(k->schema_type.empty()) << k->kind;
    if (k->cells) {
      Object empty = parse(R"({"metadata":{"name":"x"}})");
      EXPECT_EQ(k->cells(empty, KindContext{}).size(), k->columns.size()) << k->kind;
    }
    if (k->version == "v1" && k->group == "autoscaling") continue;  // shares hpa with v2
    for (const auto& s : k->short_names) EXPECT_TRUE(shorts.insert(s).second) << "duplicate short name " << s;
  }
}

}  // namespace
}  // namespace berth::api
