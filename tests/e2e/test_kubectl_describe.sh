#!/usr/bin/env bash
# kubectl describe shows core/v1 Events about the object (found through the
# involvedObject field selector), and events are listable/filterable.
source "$(dirname "$0")/lib.sh"
e2e_start_server

run_ok "create fixtures" kubectl apply -f - <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: described, labels: {app: d}}
data: {key: value}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
YAML

cm_uid=$(kubectl get cm described -o jsonpath='{.metadata.uid}')
dep_uid=$(kubectl get deploy web -o jsonpath='{.metadata.uid}')
assert_match "$cm_uid" '^[0-9a-f-]{36}$' "configmap uid"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
events=$(e2e_file events.yaml)
cat >"$events" <<YAML
apiVersion: v1
kind: Event
metadata: {name: described.e2e1}
involvedObject: {apiVersion: v1, kind: ConfigMap, name: described, namespace: default, uid: "$cm_uid"}
reason: E2ECheck
message: hello from the e2e test
type: Warning
source: {component: e2e-test}
firstTimestamp: "$now"
lastTimestamp: "$now"
count: 3
---
apiVersion: v1
kind: Event
metadata: {name: web.e2e2}
involvedObject: {apiVersion: apps/v1, kind: Deployment, name: web, namespace: default, uid: "$dep_uid"}
reason: ScalingCheck
message: deployment event from e2e
type: Normal
source: {component: e2e-test}
firstTimestamp: "$now"
lastTimestamp: "$now"
count: 1
---
apiVersion: v1
kind: Event
metadata: {name: other.e2e3}
involvedObject: {apiVersion: v1, kind: ConfigMap, name: someone-else, namespace: default}
reason: Unrelated
message: must not show up
type: Normal
source: {component: e2e-test}
firstTimestamp: "$now"
lastTimestamp: "$now"
count: 1
YAML
run_ok "create events with kubectl create -f" kubectl create -f "$events"
assert_contains "$OUT" "event/described.e2e1 created"
assert_contains "$OUT" "event/web.e2e2 created"

echo "== describe configmap"
run_ok "describe configmap" kubectl describe configmap described
assert_match "$OUT" $'Name: +described' "describe shows the name"
assert_match "$OUT" $'Namespace: +default' "describe shows the namespace"
assert_contains "$OUT" "value"
assert_contains "$OUT" "Events:"
assert_match "$OUT" 'Type +Reason +Age +From +Message' "events table header"
assert_match "$OUT" 'Warning +E2ECheck +[^ ].* +e2e-test +hello from the e2e test' "event row under Events"
assert_match "$OUT" '\(x3 over ' "repeated event shows its count"
assert_not_contains "$OUT" "must not show up" "events of other objects are not shown"

echo "== describe deployment"
run_ok "describe deployment" kubectl describe deployment web
assert_match "$OUT" 'Name: +web' "deployment name"
assert_match "$OUT" 'Replicas: +1 desired' "deployment replicas line"
assert_match "$OUT" 'StrategyType: +RollingUpdate' "deployment strategy"
assert_match "$OUT" 'Normal +ScalingCheck +[^ ].* +e2e-test +deployment event from e2e' "deployment event row"

echo "== listing events"
run_ok "get events" kubectl get events
assert_match "$(head -n1 <<<"$OUT")" '^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE$' "event columns"
assert_match "$OUT" 'Warning +E2ECheck +configmap/described +hello from the e2e test' "event row"
run_ok "events by involvedObject" kubectl get events --field-selector involvedObject.kind=ConfigMap,involvedObject.name=described -o name
assert_eq "event/described.e2e1" "$OUT" "involvedObject field selector"
run_ok "events by reason and type" kubectl get events --field-selector reason=ScalingCheck,type=Normal -o name
assert_eq "event/web.e2e2" "$OUT" "reason/type field selector"
run_ok "events by uid" kubectl get events --field-selector "involvedObject.uid=$cm_uid" -o name
assert_eq "event/described.e2e1" "$OUT" "involvedObject.uid field selector"
run_ok "kubectl events --for" kubectl events --for configmap/described
assert_contains "$OUT" "hello from the e2e test"
assert_not_contains "$OUT" "deployment event from e2e"
run_ok "events.k8s.io/v1 view" kubectl get events.v1.events.k8s.io web.e2e2 -o json
assert_eq "ScalingCheck" "$(jget "$OUT" .reason)" "events.k8s.io/v1 reason"
assert_eq "web" "$(jget "$OUT" .regarding.name)" "events.k8s.io/v1 regarding (from involvedObject)"
assert_eq "deployment event from e2e" "$(jget "$OUT" .note)" "events.k8s.io/v1 note (from message)"

e2e_finish
