#!/usr/bin/env bash
# What a fresh cluster holds: system namespaces, per-namespace `default`
# ServiceAccount and `kube-root-ca.crt` ConfigMap, the `kubernetes` Service
# with its Endpoints and EndpointSlice, version and discovery documents.
source "$(dirname "$0")/lib.sh"
e2e_start_server

exists() { kubectl get "$@" >/dev/null 2>&1; }

echo "== version"
run_ok "kubectl version" kubectl version
assert_match "$OUT" 'Server Version: v1\.32\.' "server reports v1.32"
api_anon GET /version
assert_eq 200 "$HTTP_CODE" "/version anonymous"
assert_eq 1 "$(jget "$BODY" .major)" "major"
assert_eq 32 "$(jget "$BODY" .minor)" "minor"
run_ok "cluster-info" kubectl cluster-info
assert_contains "$OUT" "Kubernetes control plane is running at $E2E_URL"

echo "== per-namespace defaults"
run_ok "create a namespace" kubectl create namespace fresh
ca_pem=$(cat "$E2E_CA")
for ns in default kube-system kube-public kube-node-lease fresh; do
  wait_for 30 "serviceaccount default in $ns" exists serviceaccount default -n "$ns"
  wait_for 30 "configmap kube-root-ca.crt in $ns" exists configmap kube-root-ca.crt -n "$ns"
done
run_ok "kube-root-ca.crt content" kubectl get cm kube-root-ca.crt -n fresh -o jsonpath='{.data.ca\.crt}'
assert_eq "$(printf '%s' "$ca_pem" | tr -d '\n')" "$(printf '%s' "$OUT" | tr -d '\n')" "kube-root-ca.crt holds the cluster CA"
run_ok "recreated when deleted" kubectl delete cm kube-root-ca.crt -n fresh
wait_for 30 "root CA configmap comes back" exists configmap kube-root-ca.crt -n fresh
run_ok "default sa recreated when deleted" kubectl delete sa default -n fresh
wait_for 30 "default serviceaccount comes back" exists serviceaccount default -n fresh

echo "== kubernetes service"
run_ok "get svc kubernetes" kubectl get svc kubernetes -n default -o json
svc=$OUT
assert_eq "10.96.0.1" "$(jget "$svc" .spec.clusterIP)" "clusterIP 10.96.0.1"
assert_eq "ClusterIP" "$(jget "$svc" .spec.type)" "type ClusterIP"
assert_eq "443" "$(jget "$svc" '.spec.ports[0].port')" "port 443"
assert_eq "https" "$(jget "$svc" '.spec.ports[0].name')" "port name https"
assert_eq "apiserver" "$(jget "$svc" '.metadata.labels.component')" "label component=apiserver"
run_ok "get endpoints kubernetes" kubectl get endpoints kubernetes -o json
ep=$OUT
assert_match "$(jget "$ep" '.subsets[0].addresses[0].ip')" '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' "endpoints address"
assert_eq "$E2E_PORT" "$(jget "$ep" '.subsets[0].ports[0].port')" "endpoints port = the API server's port"
assert_eq "https" "$(jget "$ep" '.subsets[0].ports[0].name')" "endpoints port name"
run_ok "get endpointslices" kubectl get endpointslices -l kubernetes.io/service-name=kubernetes -o json
assert_eq 1 "$(jget "$OUT" '.items|length')" "one EndpointSlice for the kubernetes service"
assert_eq "kubernetes" "$(jget "$OUT" '.items[0].metadata.name')" "slice named kubernetes"
assert_eq "IPv4" "$(jget "$OUT" '.items[0].addressType')" "addressType IPv4"
assert_eq "$(jget "$ep" '.subsets[0].addresses[0].ip')" "$(jget "$OUT" '.items[0].endpoints[0].addresses[0]')" "slice address matches Endpoints"
assert_eq "$E2E_PORT" "$(jget "$OUT" '.items[0].ports[0].port')" "slice port"
run_ok "endpoints table" kubectl get endpoints kubernetes
assert_match "$OUT" $'\nkubernetes +[0-9.]+:'"$E2E_PORT"' ' "endpoints table row"

echo "== discovery documents"
run_ok "/api" kubectl get --raw /api
assert_eq "APIVersions" "$(jget "$OUT" .kind)" "legacy /api"
run_ok "/apis" kubectl get --raw /apis
assert_eq "APIGroupList" "$(jget "$OUT" .kind)" "legacy /apis"
assert_contains "$(jget "$OUT" '[.groups[].name]|join(",")')" "apps"
run_ok "/api/v1" kubectl get --raw /api/v1
assert_eq "APIResourceList" "$(jget "$OUT" .kind)" "/api/v1"
assert_eq "Scale" "$(jget "$OUT" '.resources[]|select(.name=="replicationcontrollers/scale")|.kind')" "scale subresource kind"
run_ok "/openapi/v3" kubectl get --raw /openapi/v3
assert_match "$(jget "$OUT" '.paths["api/v1"].serverRelativeURL')" '^/openapi/v3/api/v1' "openapi v3 api/v1"
assert_match "$(jget "$OUT" '.paths["apis/apps/v1"].serverRelativeURL')" '^/openapi/v3/apis/apps/v1' "openapi v3 apps/v1"
echo "== authentication and authorization reviews"
run_ok "auth can-i" kubectl auth can-i create deployments
assert_eq yes "$OUT" "admin can create deployments"
run_ok "auth can-i in a namespace, with a name" kubectl auth can-i delete configmap/kube-root-ca.crt -n kube-system
assert_eq yes "$OUT" "admin can delete a named configmap"
run_ok "auth can-i --list" kubectl auth can-i --list
assert_match "$OUT" $'\n\\*\\.\\* +\\[\\] +\\[\\] +\\[\\*\\]' "rules list every resource with every verb"
run_ok "whoami" kubectl auth whoami
assert_match "$OUT" 'Username +admin' "whoami names the admin user"
assert_match "$OUT" 'Groups +\[system:masters system:authenticated\]' "whoami lists the admin groups"
run_ok "whoami -o json" kubectl auth whoami -o json
assert_eq "SelfSubjectReview" "$(jget "$OUT" .kind)" "whoami returns a SelfSubjectReview"
assert_eq "authentication.k8s.io/v1" "$(jget "$OUT" .apiVersion)" "SelfSubjectReview apiVersion"
api POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews -H 'Content-Type: application/json' \
  -d '{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}'
assert_eq 422 "$HTTP_CODE" "access review without attributes is invalid"
assert_contains "$(jget "$BODY" .message)" "exactly one of nonResourceAttributes or resourceAttributes must be specified"
api GET /apis/authorization.k8s.io/v1/selfsubjectaccessreviews
assert_eq 405 "$HTTP_CODE" "access reviews are create-only"
api_anon POST /apis/authentication.k8s.io/v1/selfsubjectreviews -H 'Content-Type: application/json' \
  -d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}'
assert_eq 401 "$HTTP_CODE" "whoami without credentials is unauthorized"
run_ok "discovery lists the review resources" kubectl api-resources --api-group=authorization.k8s.io -o name
assert_contains "$OUT" "selfsubjectaccessreviews.authorization.k8s.io"

echo "== openapi schemas"
run_ok "explain a field" kubectl explain deployment.spec.strategy
assert_contains "$OUT" "rollingUpdate"
run_ok "explain a pod container field" kubectl explain pod.spec.containers.resources
assert_contains "$OUT" "limits"

e2e_finish
