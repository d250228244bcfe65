#!/usr/bin/python3
"""The Debian python3-kubernetes client against a real berth server:
CRUD, label selectors, watch, strategic (dict) and JSON (list) patches,
scale subresource, bulk create, pagination with limit/_continue."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import berth_e2e  # noqa: E402

from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


def cm(name, data=None, labels=None):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        data=data or {})


def test(srv, t):
    config.load_kube_config(config_file=srv.kubeconfig)
    core = client.CoreV1Api()
    apps = client.AppsV1Api()
    ns = "default"

    version = t.step("version", lambda: client.VersionApi().get_code())
    if version is not None:
        t.eq("32", version.minor, "server minor version 32")

    print("== configmap create/read/replace/delete")
    created = t.step("create configmap", lambda: core.create_namespaced_config_map(
        ns, cm("py-cm", {"a": "1"}, {"app": "py"})))
    if created is None:
        return
    t.ok(bool(created.metadata.uid), "uid set on create")
    t.ok(created.metadata.resource_version.isdigit(), "resourceVersion is a decimal string",
         created.metadata.resource_version)
    t.ok(created.metadata.creation_timestamp is not None, "creationTimestamp set")
    read = t.step("read configmap", lambda: core.read_namespaced_config_map("py-cm", ns))
    t.eq({"a": "1"}, read.data, "read returns the data")
    read.data["a"] = "2"
    replaced = t.step("replace configmap", lambda: core.replace_namespaced_config_map("py-cm", ns, read))
    if replaced is not None:
        t.eq("2", replaced.data["a"], "replace stored the change")
        t.ok(int(replaced.metadata.resource_version) > int(created.metadata.resource_version),
             "resourceVersion increased on replace")
        t.eq(created.metadata.uid, replaced.metadata.uid, "uid stable across replace")
    stale = created
    stale.data = {"a": "stale"}
    t.raises(lambda: core.replace_namespaced_config_map("py-cm", ns, stale), 409,
             "replace with a stale resourceVersion -> 409")
    t.raises(lambda: core.create_namespaced_config_map(ns, cm("py-cm")), 409, "duplicate create -> 409")
    t.raises(lambda: core.read_namespaced_config_map("py-nope", ns), 404, "read missing -> 404")
    t.raises(lambda: core.create_namespaced_config_map(ns, cm("Bad_Name")), 422, "invalid name -> 422")

    print("== label selector")
    t.step("create other", lambda: core.create_namespaced_config_map(ns, cm("py-other", {"x": "y"}, {"app": "other"})))
    lst = core.list_namespaced_config_map(ns, label_selector="app=py")
    t.eq(["py-cm"], [i.metadata.name for i in lst.items], "label_selector app=py")
    lst = core.list_namespaced_config_map(ns, label_selector="app in (py,other)")
    t.eq(["py-cm", "py-other"], sorted(i.metadata.name for i in lst.items), "set-based selector")
    lst = core.list_namespaced_config_map(ns, field_selector="metadata.name=py-other")
    t.eq(["py-other"], [i.metadata.name for i in lst.items], "field_selector metadata.name")
    all_ns = core.list_config_map_for_all_namespaces(label_selector="app")
    t.eq(2, len(all_ns.items), "cross-namespace list with label selector")

    print("== patches")
    p = t.step("strategic patch (dict body)", lambda: core.patch_namespaced_config_map(
        "py-cm", ns, {"data": {"b": "3"}, "metadata": {"labels": {"patched": "yes"}}}))
    if p is not None:
        t.eq({"a": "2", "b": "3"}, p.data, "dict patch merged data")
        t.eq("yes", p.metadata.labels.get("patched"), "dict patch merged labels")
    p = t.step("json patch (list body)", lambda: core.patch_namespaced_config_map(
        "py-cm", ns, [{"op": "replace", "path": "/data/a", "value": "9"},
                      {"op": "remove", "path": "/data/b"}]))
    if p is not None:
        t.eq({"a": "9"}, p.data, "list patch applied")

    print("== deployment and scale")
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="py-web"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "py-web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "py-web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="web", image="nginx:1.25",
                    ports=[client.V1ContainerPort(container_port=80)])]))))
    d = t.step("create deployment", lambda: apps.create_namespaced_deployment(ns, dep))
    if d is not None:
        t.eq(1, d.metadata.generation, "generation 1")
        t.eq("RollingUpdate", d.spec.strategy.type, "strategy defaulted")
        d = t.step("strategic patch of containers", lambda: apps.patch_namespaced_deployment(
            "py-web", ns, {"spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:1.26"}]}}}}))
        if d is not None:
            c = d.spec.template.spec.containers
            t.eq(1, len(c), "containers merged by name")
            t.eq("nginx:1.26", c[0].image, "image patched")
            t.eq(80, c[0].ports[0].container_port if c[0].ports else None, "ports kept")
            t.eq(2, d.metadata.generation, "generation bumped")
        s = t.step("patch scale", lambda: apps.patch_namespaced_deployment_scale(
            "py-web", ns, {"spec": {"replicas": 3}}))
        if s is not None:
            t.eq(3, s.spec.replicas, "scale patched")
        s = t.step("read scale", lambda: apps.read_namespaced_deployment_scale("py-web", ns))
        if s is not None:
            t.eq(3, s.spec.replicas, "scale read back")
        t.eq(3, apps.read_namespaced_deployment("py-web", ns).spec.replicas, "deployment spec.replicas 3")

    print("== delete")
    st = t.step("delete configmap", lambda: core.delete_namespaced_config_map("py-other", ns))
    t.ok(st is not None, "delete returned a body")
    t.raises(lambda: core.read_namespaced_config_map("py-other", ns), 404, "deleted configmap is gone")
    t.raises(lambda: core.delete_namespaced_config_map("py-other", ns), 404, "second delete -> 404")

    print("== watch")
    rv = core.list_namespaced_config_map(ns).metadata.resource_version

    def churn():
        time.sleep(0.5)
        core.create_namespaced_config_map(ns, cm("py-watched", {"v": "1"}))
        core.patch_namespaced_config_map("py-watched", ns, {"data": {"v": "2"}})
        core.delete_namespaced_config_map("py-watched", ns)

    th = threading.Thread(target=churn)
    th.start()
    seen = []
    w = watch.Watch()
    try:
        for ev in w.stream(core.list_namespaced_config_map, ns,
                           field_selector="metadata.name=py-watched",
                           resource_version=rv, timeout_seconds=15):
            seen.append((ev["type"], ev["object"].metadata.name,
                         (ev["object"].data or {}).get("v")))
            if ev["type"] == "DELETED":
                w.stop()
    except Exception as e:
        t.ok(False, "watch stream", e)
    th.join()
    types = [s[0] for s in seen]
    t.eq(["ADDED", "MODIFIED", "DELETED"], types, "watch sees ADDED, MODIFIED, DELETED")
    if len(seen) == 3:
        t.eq("2", seen[1][2], "MODIFIED carries the new data")
    # A watch that times out ends cleanly.
    start = time.monotonic()
    events = list(watch.Watch().stream(core.list_namespaced_config_map, ns,
                                       field_selector="metadata.name=nothing-here",
                                       resource_version=core.list_namespaced_config_map(ns).metadata.resource_version,
                                       timeout_seconds=2))
    elapsed = time.monotonic() - start
    t.ok(events == [] and 1.5 <= elapsed < 10, "empty watch ends at timeoutSeconds",
         "events=%r elapsed=%.1f" % (events, elapsed))

    print("== bulk: 500 configmaps, pagination")
    t.step("create namespace bulk", lambda: core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name="bulk"))))
    errors = []
    for i in range(500):
        try:
            core.create_namespaced_config_map("bulk", cm("bulk-%03d" % i, {"i": str(i)}, {"bulk": "yes"}))
        except Exception as e:
            errors.append((i, e))
    t.eq([], errors[:5], "500 creates succeed")
    lst = core.list_namespaced_config_map("bulk", label_selector="bulk=yes")
    t.eq(500, len(lst.items), "list returns 500")
    names = []
    pages = 0
    cont = None
    while True:
        kwargs = {"label_selector": "bulk=yes", "limit": 100}
        if cont:
            kwargs["_continue"] = cont
        page = core.list_namespaced_config_map("bulk", **kwargs)
        pages += 1
        t.ok(len(page.items) <= 100, "page %d has at most 100 items" % pages, len(page.items))
        names.extend(i.metadata.name for i in page.items)
        cont = page.metadata._continue
        if not cont or pages > 10:
            break
    # Upstream may hand out a continue token whose page turns out empty when
    # non-matching keys (here kube-root-ca.crt) follow the last match.
    t.ok(pages in (5, 6), "500 items in 5 pages of 100 (+ possibly an empty tail page)", pages)
    t.eq(["bulk-%03d" % i for i in range(500)], names, "pages cover every item once, in name order")
    # remainingItemCount is only set for lists without selectors (upstream).
    total = len(core.list_namespaced_config_map("bulk").items)
    page = core.list_namespaced_config_map("bulk", limit=100)
    t.eq(total - 100, page.metadata.remaining_item_count, "remainingItemCount on the first page")
    t.raises(lambda: core.list_namespaced_config_map("bulk", limit=100, _continue="garbage"), 400,
             "malformed continue token -> 400")

    t.step("delete collection", lambda: core.delete_collection_namespaced_config_map(
        "bulk", label_selector="bulk=yes"))
    t.wait_for(lambda: len(core.list_namespaced_config_map("bulk", label_selector="bulk=yes").items) == 0,
               "delete_collection removed all 500")
    t.step("delete namespace", lambda: core.delete_namespace("bulk"))

    def ns_gone():
        try:
            core.read_namespace("bulk")
            return False
        except ApiException as e:
            return e.status == 404
    t.wait_for(ns_gone, "namespace bulk gone", timeout=60)

    print("== events")
    uid = core.read_namespaced_config_map("py-cm", ns).metadata.uid
    ev = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name="py-cm.1"),
        involved_object=client.V1ObjectReference(kind="ConfigMap", name="py-cm", namespace=ns,
                                                  uid=uid, api_version="v1"),
        reason="PyCheck", message="from python", type="Normal",
        source=client.V1EventSource(component="py-e2e"), count=1)
    t.step("create event", lambda: core.create_namespaced_event(ns, ev))
    lst = core.list_namespaced_event(ns, field_selector="involvedObject.name=py-cm,involvedObject.uid=%s" % uid)
    t.eq(["PyCheck"], [e.reason for e in lst.items], "events listed by involvedObject")


if __name__ == "__main__":
    berth_e2e.main(test, __file__)
