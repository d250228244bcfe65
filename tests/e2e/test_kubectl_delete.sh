#!/usr/bin/env bash
# kubectl delete: --wait, cascade modes through ownerReferences (garbage
# collector), namespace deletion (Terminating, emptied, gone).
source "$(dirname "$0")/lib.sh"
e2e_start_server

# True when the server answers NotFound for the object.
gone() {
  local out
  out=$(timeout 30 kubectl get "$@" 2>&1) && return 1
  [[ "$out" == *NotFound* ]]
}
exists() { kubectl get "$@" >/dev/null 2>&1; }

echo "== delete --wait"
run_ok "create" kubectl create configmap plain --from-literal=a=b
run_ok "delete waits" kubectl delete configmap plain
assert_eq 'configmap "plain" deleted' "$OUT" "delete message"
assert_fails_with nonzero 'configmaps "plain" not found' kubectl get configmap plain
assert_fails_with nonzero 'Error from server (NotFound): configmaps "plain" not found' kubectl delete configmap plain
run_ok "--ignore-not-found" kubectl delete configmap plain --ignore-not-found
run_ok "create several" kubectl create configmap s1 --from-literal=a=b
kubectl label cm s1 group=g >/dev/null
kubectl create configmap s2 --from-literal=a=b >/dev/null && kubectl label cm s2 group=g >/dev/null
run_ok "delete by label" kubectl delete cm -l group=g
assert_contains "$OUT" 'configmap "s1" deleted'
assert_contains "$OUT" 'configmap "s2" deleted'
run_ok "list after delete by label" kubectl get cm -l group=g -o name
assert_eq "" "$OUT" "nothing left with the label"
run_ok "delete --dry-run=server" kubectl create configmap keep --from-literal=a=b
run_ok "dry-run delete" kubectl delete configmap keep --dry-run=server
assert_contains "$OUT" 'configmap "keep" deleted (server dry run)'
run_ok "object still there after dry-run delete" kubectl get configmap keep

# Creates an owner ConfigMap and dependents pointing at it by uid.
make_family() {
  local owner=$1 block=$2
  shift 2
  kubectl create configmap "$owner" --from-literal=role=owner >/dev/null || return 1
  local uid
  uid=$(kubectl get configmap "$owner" -o jsonpath='{.metadata.uid}')
  local dep
  for dep in "$@"; do
    local fin=""
    [[ "$dep" == *held* ]] && fin='finalizers: ["e2e.berth.io/hold"]'
    kubectl create -f - >/dev/null <<YAML || return 1
apiVersion: v1
kind: ConfigMap
metadata:
  name: $dep
  $fin
  ownerReferences:
  - apiVersion: v1
    kind: ConfigMap
    name: $owner
    uid: "$uid"
    blockOwnerDeletion: $block
data: {role: dependent}
YAML
  done
}

echo "== cascade=background"
make_family bg-owner false bg-dep1 bg-dep2 || fail "could not create the bg family"
run_ok "delete owner (background)" kubectl delete cm bg-owner --cascade=background
assert_fails_with nonzero 'not found' kubectl get cm bg-owner
wait_for 30 "garbage collector removes bg-dep1" gone cm bg-dep1
wait_for 30 "garbage collector removes bg-dep2" gone cm bg-dep2

echo "== cascade=orphan"
make_family or-owner false or-dep1 or-dep2 || fail "could not create the orphan family"
run_ok "delete owner (orphan)" kubectl delete cm or-owner --cascade=orphan
assert_fails_with nonzero 'not found' kubectl get cm or-owner
for d in or-dep1 or-dep2; do
  run_ok "$d survives" kubectl get cm "$d" -o json
  assert_eq "0" "$(jget "$OUT" '(.metadata.ownerReferences // [])|length')" "$d ownerReferences removed"
done
# The GC must not later remove orphans either.
sleep 2
run_ok "orphans still present later" kubectl get cm or-dep1 or-dep2 -o name

echo "== cascade=foreground"
make_family fg-owner true fg-dep1 fg-dep2 || fail "could not create the fg family"
run_ok "delete owner (foreground, waits)" kubectl delete cm fg-owner --cascade=foreground
assert_fails_with nonzero 'not found' kubectl get cm fg-owner
run kubectl get cm fg-dep1 fg-dep2 -o name
assert_eq "" "$OUT" "dependents gone by the time the owner is gone"

# A held dependent keeps a foreground-deleted owner alive: the owner must wait.
make_family fh-owner true fh-free fh-held || fail "could not create the held family"
run_ok "delete owner (foreground, no wait)" kubectl delete cm fh-owner --cascade=foreground --wait=false
run_ok "owner still exists while dependents remain" kubectl get cm fh-owner -o json
assert_match "$(jget "$OUT" .metadata.deletionTimestamp)" '^[0-9]{4}-' "owner has a deletionTimestamp"
assert_contains "$(jget "$OUT" '.metadata.finalizers|tojson')" '"foregroundDeletion"' "owner carries the foregroundDeletion finalizer"
wait_for 30 "free dependent removed first" gone cm fh-free
wait_for 30 "held dependent marked for deletion" bash -c "kubectl get cm fh-held -o jsonpath='{.metadata.deletionTimestamp}' | grep -q ."
sleep 1
run_ok "owner still waits for the held dependent" kubectl get cm fh-owner
run_ok "release the held dependent" kubectl patch cm fh-held --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
wait_for 30 "held dependent gone" gone cm fh-held
wait_for 30 "owner gone after its dependents" gone cm fh-owner

echo "== namespace deletion"
run_ok "create namespace" kubectl create namespace doomed
wait_for 30 "default serviceaccount created in the new namespace" exists sa default -n doomed
run_ok "objects in namespace" kubectl create configmap a -n doomed --from-literal=a=b
run_ok "secret in namespace" kubectl create secret generic s -n doomed --from-literal=a=b
run_ok "deployment in namespace" kubectl create deployment d -n doomed --image=nginx:1.25
run_ok "held object in namespace" kubectl create -n doomed -f - <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: held, finalizers: ["e2e.berth.io/hold"]}
YAML
run_ok "delete namespace (no wait)" kubectl delete namespace doomed --wait=false
assert_eq 'namespace "doomed" deleted' "$OUT"
run_ok "namespace is Terminating" kubectl get ns doomed -o jsonpath='{.status.phase}'
assert_eq Terminating "$OUT" "phase Terminating"
run_ok "get ns shows Terminating" kubectl get ns doomed
assert_match "$OUT" $'\ndoomed +Terminating ' "table shows Terminating"
late='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"late"}}'
assert_fails_with 1 "unable to create new content in namespace doomed because it is being terminated" kubectl create -n doomed -f - <<<"$late"
assert_contains "$ERR" 'Error from server (Forbidden): error when creating "STDIN": configmaps "late" is forbidden'
wait_for 60 "namespace controller deletes the configmap" gone cm a -n doomed
wait_for 60 "namespace controller deletes the secret" gone secret s -n doomed
wait_for 60 "namespace controller deletes the deployment" gone deployment d -n doomed
wait_for 60 "held configmap is marked for deletion" bash -c "kubectl get cm held -n doomed -o jsonpath='{.metadata.deletionTimestamp}' | grep -q ."
run_ok "namespace waits for the finalizer" kubectl get ns doomed -o jsonpath='{.status.phase}'
assert_eq Terminating "$OUT" "still Terminating while content remains"
run_ok "release held object" kubectl patch cm held -n doomed --type=merge -p '{"metadata":{"finalizers":null}}'
wait_for 60 "namespace gone" gone ns doomed
run kubectl get cm,secret -n doomed -o name
assert_eq "" "$OUT" "no objects left in the deleted namespace"

run_ok "create namespace 2" kubectl create namespace doomed2
run_ok "object in namespace 2" kubectl create configmap x -n doomed2 --from-literal=a=b
run_ok "delete namespace waits until gone" kubectl delete namespace doomed2
assert_fails_with nonzero 'namespaces "doomed2" not found' kubectl get ns doomed2
assert_fails_with nonzero 'Forbidden' kubectl delete namespace default
assert_contains "$ERR" 'this namespace may not be deleted'

e2e_finish
