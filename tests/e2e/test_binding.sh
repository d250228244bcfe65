#!/usr/bin/env bash
# pods/binding as a scheduler uses it: kubectl creates a pod that no
# scheduler serves, a Binding POSTed with curl assigns it to a node
# (spec.nodeName, PodScheduled=True, the binding's annotations), a second
# Binding is a 409 Conflict, and the legacy bindings collection works too.
source "$(dirname "$0")/lib.sh"
e2e_start_server

pod_yaml() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  schedulerName: e2e-manual
  containers: [{name: c, image: busybox}]
YAML
}

binding_json() {
  printf '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"%s","annotations":{"e2e/bound":"yes"}},"target":{"apiVersion":"v1","kind":"Node","name":"%s"}}' "$1" "$2"
}

echo "== bind a pod through pods/binding"
run_ok "create the pod" kubectl apply -f - < <(pod_yaml manual)
assert_eq "" "$(kubectl get pod manual -o jsonpath='{.spec.nodeName}')" "not assigned yet"
api POST /api/v1/namespaces/default/pods/manual/binding -H 'Content-Type: application/json' \
  --data "$(binding_json manual e2e-node-1)"
assert_eq 201 "$HTTP_CODE" "binding answers 201 ($BODY)"
assert_eq "Success" "$(jget "$BODY" .status)" "with a Success Status"
assert_eq "e2e-node-1" "$(kubectl get pod manual -o jsonpath='{.spec.nodeName}')" "spec.nodeName set"
assert_eq "True" "$(kubectl get pod manual -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].status}')" \
  "PodScheduled=True"
assert_eq "yes" "$(kubectl get pod manual -o jsonpath='{.metadata.annotations.e2e/bound}')" \
  "binding annotations copied to the pod"

echo "== a second binding conflicts"
api POST /api/v1/namespaces/default/pods/manual/binding -H 'Content-Type: application/json' \
  --data "$(binding_json manual e2e-node-2)"
assert_eq 409 "$HTTP_CODE" "second binding is 409"
assert_eq "Conflict" "$(jget "$BODY" .reason)" "reason Conflict"
assert_eq 'Operation cannot be fulfilled on pods/binding "manual": pod manual is already assigned to node "e2e-node-1"' \
  "$(jget "$BODY" .message)" "upstream's message"
assert_eq "e2e-node-1" "$(kubectl get pod manual -o jsonpath='{.spec.nodeName}')" "still on the first node"

echo "== missing pods and the legacy collection"
api POST /api/v1/namespaces/default/pods/nope/binding -H 'Content-Type: application/json' \
  --data "$(binding_json nope e2e-node-1)"
assert_eq 404 "$HTTP_CODE" "binding a missing pod is 404"
assert_eq 'pods "nope" not found' "$(jget "$BODY" .message)" "NotFound message"
run_ok "create a second pod" kubectl apply -f - < <(pod_yaml legacy)
api POST /api/v1/namespaces/default/bindings -H 'Content-Type: application/json' \
  --data "$(binding_json legacy e2e-node-3)"
assert_eq 201 "$HTTP_CODE" "legacy bindings collection answers 201 ($BODY)"
assert_eq "e2e-node-3" "$(kubectl get pod legacy -o jsonpath='{.spec.nodeName}')" "legacy binding assigns the pod"

echo "== discovery"
run_ok "api-resources" kubectl get --raw /api/v1
assert_eq '["create"]' "$(jget "$OUT" '.resources[] | select(.name == "pods/binding") | .verbs' | tr -d ' \n')" \
  "pods/binding is served for create"

e2e_finish
