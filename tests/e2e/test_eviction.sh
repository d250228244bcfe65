#!/usr/bin/env bash
# pods/eviction and PodDisruptionBudgets: discovery of the subresource,
# Pending pods evicted at once (no agent runs them), the disruption
# controller's status (kubectl get pdb: ALLOWED DISRUPTIONS), an allowed
# eviction spending the budget, the 429 refusal with upstream's message and
# cause, two budgets refused with 500, and kubectl drain over evictions.
#
# The pods sit on a Node object no agent serves: nothing runs them, so the
# test sets their status (Running, Ready) through pods/status itself.
source "$(dirname "$0")/lib.sh"
e2e_start_server

NODE=e2e-drain-node

# POST pods/NAME/eviction with a policy/v1 Eviction; DELETE_OPTIONS is an
# optional JSON object. Sets HTTP_CODE and BODY.
evict() {
  local name=$1 delete_options=${2:-}
  local body="{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"$name\",\"namespace\":\"default\"}"
  [[ -n "$delete_options" ]] && body="$body,\"deleteOptions\":$delete_options"
  body="$body}"
  api POST "/api/v1/namespaces/default/pods/$name/eviction" -H 'Content-Type: application/json' -d "$body"
}

gone() {
  local out
  out=$(timeout 30 kubectl get pod "$1" 2>&1) && return 1
  [[ "$out" == *NotFound* ]]
}

# A pod with app=web bound to $NODE (or unbound with "-").
make_pod() {
  local name=$1 node=$2 node_line=""
  [[ "$node" != "-" ]] && node_line="nodeName: $node"
  kubectl create -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $name
  labels: {app: web}
spec:
  $node_line
  containers:
  - name: c
    image: busybox
YAML
}

# What an agent would report for a started pod.
make_running_ready() {
  kubectl patch pod "$1" --subresource=status --type=merge \
    -p '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
}

echo "== discovery"
api GET /api/v1
assert_eq "200" "$HTTP_CODE" "GET /api/v1"
assert_eq '{"name":"pods/eviction","group":"policy","version":"v1","kind":"Eviction","verbs":["create"]}' \
  "$(jget "$BODY" '.resources[] | select(.name=="pods/eviction") | {name,group,version,kind,verbs}' | jq -c .)" \
  "pods/eviction is served as policy/v1 Eviction"

echo "== Pending pods are evicted without a budget check"
# No node exists yet: the pod stays unscheduled, and its deletion is
# immediate.
run_ok "create pdb allowing nothing" kubectl create poddisruptionbudget strict --selector=app=web --min-available=100%
run_ok "create pending pod" make_pod pending -
evict pending
assert_eq "201" "$HTTP_CODE" "evicting a Pending pod succeeds (body: ${BODY:0:300})"
assert_eq "Success" "$(jget "$BODY" .status)" "answer is a Success Status"
wait_for 20 "the Pending pod is gone" gone pending
evict pending
assert_eq "404" "$HTTP_CODE" "evicting a missing pod is 404"
assert_eq 'pods "pending" not found' "$(jget "$BODY" .message)" "NotFound message"
run_ok "delete strict pdb" kubectl delete pdb strict

echo "== the disruption controller computes the budget"
run_ok "create node" kubectl create -f - <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $NODE
  labels: {kubernetes.io/hostname: $NODE}
YAML
for p in web-a web-b web-c; do
  run_ok "create $p" make_pod "$p" "$NODE"
  run_ok "$p running and ready" make_running_ready "$p"
done
run_ok "create pdb" kubectl create poddisruptionbudget web --selector=app=web --min-available=2
allowed() { [[ "$(kubectl get pdb web -o jsonpath='{.status.disruptionsAllowed}')" == "$1" ]]; }
wait_for 30 "pdb allows one disruption (disruption controller)" allowed 1
run_ok "kubectl get pdb" kubectl get pdb web
assert_match "$OUT" 'web[[:space:]]+2[[:space:]]+N/A[[:space:]]+1[[:space:]]' "ALLOWED DISRUPTIONS column shows 1"
run_ok "pdb status" kubectl get pdb web -o json
assert_eq "3 3 2" "$(jget "$OUT" '"\(.status.expectedPods) \(.status.currentHealthy) \(.status.desiredHealthy)"')" \
  "expectedPods currentHealthy desiredHealthy"
assert_eq "True SufficientPods" \
  "$(jget "$OUT" '.status.conditions[] | select(.type=="DisruptionAllowed") | "\(.status) \(.reason)"')" \
  "DisruptionAllowed condition"

echo "== an allowed eviction spends the budget"
evict web-a '{"gracePeriodSeconds":0}'
assert_eq "201" "$HTTP_CODE" "evicting web-a succeeds (body: ${BODY:0:300})"
wait_for 20 "web-a is gone" gone web-a
run_ok "pdb after eviction" kubectl get pdb web -o json
assert_eq "0" "$(jget "$OUT" .status.disruptionsAllowed)" "disruptionsAllowed is spent"

echo "== the budget refuses the next eviction"
evict web-b
assert_eq "429" "$HTTP_CODE" "evicting web-b is refused with 429"
assert_eq "TooManyRequests" "$(jget "$BODY" .reason)" "reason TooManyRequests"
assert_eq "Cannot evict pod as it would violate the pod's disruption budget." "$(jget "$BODY" .message)" "message"
assert_eq "DisruptionBudget" "$(jget "$BODY" '.details.causes[0].reason')" "cause type"
assert_eq "The disruption budget web needs 2 healthy pods and has 2 currently" \
  "$(jget "$BODY" '.details.causes[0].message')" "cause message"
run_ok "web-b still there" kubectl get pod web-b

echo "== kubectl drain honours the budget"
run kubectl drain "$NODE" --force --grace-period=0 --timeout=8s
if ((RC != 0)); then pass "drain fails while the budget allows nothing"; else fail "drain succeeded: $OUT"; fi
assert_contains "$ERR" "Cannot evict pod as it would violate the pod's disruption budget." "drain reports the budget"
run_ok "node cordoned" kubectl get node "$NODE" -o jsonpath='{.spec.unschedulable}'
assert_eq "true" "$OUT" "drain cordoned the node"
run_ok "web-b survived drain" kubectl get pod web-b
run_ok "relax pdb" kubectl patch pdb web --type=merge -p '{"spec":{"minAvailable":0}}'
wait_for 30 "pdb allows two disruptions" allowed 2
run_ok "drain with room in the budget" kubectl drain "$NODE" --force --grace-period=0 --timeout=30s
assert_contains "$OUT" "pod/web-b evicted" "drain evicted web-b"
assert_contains "$OUT" "node/$NODE drained" "drain finished"
wait_for 20 "web-c is gone" gone web-c

echo "== two budgets over one pod"
run_ok "create second pdb" kubectl create poddisruptionbudget web2 --selector=app=web --max-unavailable=1
run_ok "create web-d" make_pod web-d -
run_ok "web-d running" make_running_ready web-d
evict web-d
assert_eq "500" "$HTTP_CODE" "two budgets: 500"
assert_eq "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support." \
  "$(jget "$BODY" .message)" "two budgets message"
run_ok "web-d still there" kubectl get pod web-d

e2e_finish
