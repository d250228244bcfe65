#!/usr/bin/env bash
# Errors rendered by kubectl the way it renders upstream Status errors:
# 422 with causes, 409 AlreadyExists / Conflict, 404, strict field
# validation, immutability, dry-run stores nothing.
source "$(dirname "$0")/lib.sh"
e2e_start_server

echo "== 422 Invalid with one line per cause"
bad=$(e2e_file bad.yaml)
cat >"$bad" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: Bad_Name
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
YAML
assert_fails_with 1 'The Deployment "Bad_Name" is invalid: ' kubectl create -f "$bad"
assert_match "$ERR" $'\n\\* metadata\\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters' "cause line for the name"
assert_match "$ERR" $'\n\\* spec\\.replicas: Invalid value: -1: must be greater than or equal to 0' "cause line for replicas"
causes=$(grep -c '^\* ' <<<"$ERR")
assert_eq 2 "$causes" "exactly one '* ' line per cause"
run_ok "nothing stored" kubectl get deployments -o name
assert_eq "" "$OUT" "no deployment stored after 422"
# A single cause renders on one line.
assert_fails_with 1 'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"' kubectl create -f - <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: Bad_Name}
YAML
assert_fails_with 1 'metadata.labels: Invalid value: "bad value!"' kubectl apply -f - <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: badlabel, labels: {ok: "bad value!"}}
YAML

echo "== 409 AlreadyExists"
dup=$(e2e_file dup.yaml)
cat >"$dup" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: dup}
data: {a: "1"}
YAML
run_ok "first create" kubectl create -f "$dup"
assert_fails_with 1 "Error from server (AlreadyExists): error when creating \"$dup\": configmaps \"dup\" already exists" kubectl create -f "$dup"

echo "== 409 Conflict on a stale resourceVersion"
old=$(e2e_file old.yaml)
kubectl get cm dup -o yaml >"$old"
run_ok "change the object" kubectl patch cm dup --type=merge -p '{"data":{"a":"2"}}'
sed -i 's/^  a: "1"$/  a: "3"/' "$old"
assert_fails_with 1 'Error from server (Conflict): error when replacing' kubectl replace -f "$old"
assert_contains "$ERR" 'Operation cannot be fulfilled on configmaps "dup": the object has been modified; please apply your changes to the latest version and try again'
assert_eq 2 "$(kubectl get cm dup -o jsonpath='{.data.a}')" "stale replace changed nothing"

echo "== 404 NotFound"
assert_fails_with 1 'Error from server (NotFound): deployments.apps "nope" not found' kubectl get deployment nope
assert_fails_with 1 'Error from server (NotFound): configmaps "nope" not found' kubectl get configmap nope
assert_fails_with 1 'Error from server (NotFound): error when creating "STDIN": namespaces "no-such-ns" not found' kubectl create -n no-such-ns -f - <<<'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}'
assert_fails_with 1 'error: failed to create configmap: namespaces "no-such-ns" not found' kubectl create configmap x -n no-such-ns --from-literal=a=b
assert_fails_with 1 "the server doesn't have a resource type \"bogusthings\"" kubectl get bogusthings
assert_fails_with 1 'Error from server (NotFound): deployments.apps "nope" not found' kubectl patch deployment nope -p '{"spec":{"replicas":1}}'

echo "== strict field validation"
unknown=$(e2e_file unknown.yaml)
cat >"$unknown" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: strict}
spec:
  replicas: 1
  bogus: 1
  selector: {matchLabels: {app: s}}
  template:
    metadata: {labels: {app: s}}
    spec:
      containers: [{name: s, image: nginx, bogusField: x}]
YAML
assert_fails_with 1 'strict decoding error' kubectl apply -f "$unknown"
assert_contains "$ERR" 'Error from server (BadRequest)'
assert_contains "$ERR" 'unknown field "spec.bogus"'
assert_contains "$ERR" 'unknown field "spec.template.spec.containers[0].bogusField"'
assert_fails_with nonzero 'not found' kubectl get deployment strict
assert_fails_with 1 'unknown field "spec.bogus"' kubectl create -f "$unknown"
run_ok "--validate=false drops unknown fields" kubectl create --validate=false -f "$unknown"
assert_contains "$OUT" "deployment.apps/strict created"
run_ok "get after lenient create" kubectl get deployment strict -o json
assert_eq "null" "$(jget "$OUT" .spec.bogus)" "unknown field not stored"
run kubectl apply -f "$unknown"
if ((RC != 0)) && [[ "$ERR" == *'unknown field'* ]]; then
  pass "apply (patch path) with unknown field rejected"
else
  fail "apply patch with unknown fields: rc=$RC out=$OUT err=${ERR:0:600}"
fi

echo "== immutability"
run_ok "create immutable configmap" kubectl create -f - <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: frozen}
immutable: true
data: {a: "1"}
YAML
assert_fails_with 1 'The ConfigMap "frozen" is invalid' kubectl patch cm frozen --type=merge -p '{"data":{"a":"2"}}'
assert_contains "$ERR" 'field is immutable when `immutable` is set'
run_ok "create deployment" kubectl create deployment imm --image=nginx
assert_fails_with 1 'field is immutable' kubectl patch deployment imm --type=merge -p '{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}'
assert_contains "$ERR" 'The Deployment "imm" is invalid'
assert_contains "$ERR" 'spec.selector'

echo "== dry-run=server stores nothing"
run_ok "create --dry-run=server -f" kubectl create --dry-run=server -f - <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: dry}
data: {a: "1"}
YAML
assert_eq "configmap/dry created (server dry run)" "$OUT"
assert_fails_with 1 'configmaps "dry" not found' kubectl get configmap dry
run_ok "apply --dry-run=server" kubectl apply --dry-run=server -f "$dup"
assert_contains "$OUT" "(server dry run)"
run_ok "dry-run patch" kubectl patch cm dup --type=merge -p '{"data":{"a":"99"}}' --dry-run=server
assert_eq 2 "$(kubectl get cm dup -o jsonpath='{.data.a}')" "dry-run patch changed nothing"
assert_fails_with 1 'is invalid' kubectl create --dry-run=server -f "$bad"

e2e_finish
