#!/usr/bin/env bash
# kubectl apply (client-side): created -> configured -> unchanged for a
# Deployment + Service + ConfigMap, and the last-applied annotation.
source "$(dirname "$0")/lib.sh"
e2e_start_server

manifest=$(e2e_file app.yaml)
write_manifest() {
  local replicas=$1 greeting=$2
  cat >"$manifest" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: $replicas
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: "$greeting"
YAML
}

echo "== first apply creates"
write_manifest 1 hello
run_ok "apply creates" kubectl apply -f "$manifest"
assert_contains "$OUT" "deployment.apps/web created"
assert_contains "$OUT" "service/web created"
assert_contains "$OUT" "configmap/web-config created"

run_ok "deployment readable" kubectl get deployment web -o json
dep=$OUT
assert_eq 1 "$(jget "$dep" .spec.replicas)" "spec.replicas is 1"
assert_eq 1 "$(jget "$dep" .metadata.generation)" "generation 1 on create"
last=$(jget "$dep" '.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]')
assert_contains "$last" '"replicas":1' "last-applied annotation holds the applied config"
assert_eq RollingUpdate "$(jget "$dep" .spec.strategy.type)" "default strategy RollingUpdate"
assert_eq 10 "$(jget "$dep" .spec.revisionHistoryLimit)" "default revisionHistoryLimit 10"
assert_eq 600 "$(jget "$dep" .spec.progressDeadlineSeconds)" "default progressDeadlineSeconds 600"
assert_eq Always "$(jget "$dep" .spec.template.spec.restartPolicy)" "default pod restartPolicy"
assert_eq IfNotPresent "$(jget "$dep" '.spec.template.spec.containers[0].imagePullPolicy')" "default imagePullPolicy for a tagged image"
assert_match "$(jget "$dep" .metadata.uid)" '^[0-9a-f-]{36}$' "uid set"
assert_match "$(jget "$dep" .metadata.creationTimestamp)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "creationTimestamp RFC 3339 UTC"
run_ok "configmap has the annotation" kubectl get configmap web-config -o jsonpath='{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}'
assert_contains "$OUT" '"greeting":"hello"'
run_ok "service has the annotation" kubectl get service web -o json
svc=$OUT
assert_contains "$(jget "$svc" '.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]')" '"kind":"Service"' "service last-applied"
assert_eq ClusterIP "$(jget "$svc" .spec.type)" "service type defaults to ClusterIP"
assert_eq TCP "$(jget "$svc" '.spec.ports[0].protocol')" "port protocol defaults to TCP"

echo "== second apply with changes configures"
write_manifest 2 bonjour
run_ok "apply configures" kubectl apply -f "$manifest"
assert_contains "$OUT" "deployment.apps/web configured"
assert_contains "$OUT" "service/web unchanged"
assert_contains "$OUT" "configmap/web-config configured"
run_ok "get deployment" kubectl get deployment web -o json
dep=$OUT
assert_eq 2 "$(jget "$dep" .spec.replicas)" "spec.replicas now 2"
assert_eq 2 "$(jget "$dep" .metadata.generation)" "generation bumped by the spec change"
assert_contains "$(jget "$dep" '.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]')" '"replicas":2' "last-applied updated"
run_ok "get configmap" kubectl get configmap web-config -o jsonpath='{.data.greeting}'
assert_eq bonjour "$OUT" "configmap data updated"

echo "== third apply without changes is unchanged"
rv_before=$(kubectl get deployment web -o jsonpath='{.metadata.resourceVersion}')
run_ok "apply unchanged" kubectl apply -f "$manifest"
assert_contains "$OUT" "deployment.apps/web unchanged"
assert_contains "$OUT" "service/web unchanged"
assert_contains "$OUT" "configmap/web-config unchanged"
assert_eq "$rv_before" "$(kubectl get deployment web -o jsonpath='{.metadata.resourceVersion}')" "no write on unchanged apply"

echo "== apply removes a field dropped from the manifest"
cat >"$manifest" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  other: "x"
YAML
run_ok "apply with a dropped key" kubectl apply -f "$manifest"
assert_contains "$OUT" "configmap/web-config configured"
run_ok "get configmap data" kubectl get configmap web-config -o json
assert_eq "null" "$(jget "$OUT" .data.greeting)" "key removed from the manifest is deleted (three-way merge)"
assert_eq "x" "$(jget "$OUT" .data.other)" "new key present"

echo "== apply from stdin into another namespace"
run_ok "create namespace" kubectl create namespace apply-ns
run_ok "apply -n from stdin" kubectl apply -n apply-ns -f - <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: in-ns}
data: {a: "1"}
YAML
assert_contains "$OUT" "configmap/in-ns created"
run_ok "namespaced object readable" kubectl get cm in-ns -n apply-ns -o jsonpath='{.metadata.namespace}'
assert_eq apply-ns "$OUT" "object landed in apply-ns"

e2e_finish
