#!/usr/bin/env bash
# The control plane keeps desired state, on hollow nodes: the scheduler,
# the workload controllers, node lifecycle and disruption budgets, driven
# by the real kubectl. Two `berth agent --hollow` processes provide the
# nodes, so killing one makes its nodes go dark.
source "$(dirname "$0")/lib.sh"
E2E_SERVER_ARGS="--node-monitor-period 1s --node-monitor-grace-period 4s $E2E_SERVER_ARGS"
e2e_start_server

start_agent() {  # start_agent PREFIX COUNT [extra args...]
  local prefix=$1 count=$2
  shift 2
  # Agents authenticate with the server's node token (their own identity).
  "$BERTH_BIN" agent --hollow "$count" --name-prefix "$prefix" --server "$E2E_URL" \
    --token "$(cat "$E2E_DATA_DIR/node-token")" \
    --ca-file "$E2E_CA" --node-lease-duration-seconds 4 "$@" >>"$E2E_TMP/agent-$prefix.log" 2>&1 &
  AGENT_PID=$!
  e2e_track_bg "$AGENT_PID"
}

ready_nodes() { kubectl get nodes -o json | jq '[.items[]|select(any(.status.conditions[];.type=="Ready" and .status=="True"))]|length'; }
nodes_ready() { [[ "$(ready_nodes)" == "$1" ]]; }
field_is() {  # field_is EXPECTED kubectl-args... -o jsonpath=...
  local want=$1
  shift
  [[ "$(kubectl "$@" 2>/dev/null)" == "$want" ]]
}

echo "== hollow nodes"
start_agent a- 3
A_PID=$AGENT_PID
start_agent b- 2
B_PID=$AGENT_PID
wait_for 60 "five hollow nodes Ready" nodes_ready 5
run_ok "node table" kubectl get nodes
assert_match "$OUT" $'\na-0 +Ready ' "node table row"
run_ok "node capacity" kubectl get node a-0 -o jsonpath='{.status.capacity.cpu}/{.status.allocatable.pods}'
assert_eq "4/110" "$OUT" "hollow node capacity"
run_ok "node lease" kubectl get lease -n kube-node-lease a-0 -o jsonpath='{.spec.holderIdentity}'
assert_eq "a-0" "$OUT" "lease held by the node"

echo "== deployment rollout"
cat >"$E2E_TMP/web.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 10
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 2, maxUnavailable: 2}
  template:
    metadata:
      labels: {app: web}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - name: web
        image: web:v1
        resources:
          requests: {cpu: 100m, memory: 64Mi}
EOF
run_ok "apply deployment" kubectl apply -f "$E2E_TMP/web.yaml"
run_ok "rollout status" kubectl rollout status deployment/web --timeout=90s
assert_contains "$OUT" 'deployment "web" successfully rolled out'
run_ok "ten pods running" kubectl get pods -l app=web -o json
assert_eq 10 "$(jget "$OUT" '[.items[]|select(.status.phase=="Running")]|length')" "10 pods Running"
assert_eq 10 "$(jget "$OUT" '[.items[]|select(.spec.nodeName|startswith("a-") or startswith("b-"))]|length')" "every pod bound to a hollow node"
run_ok "deploy table" kubectl get deploy web
assert_match "$OUT" $'\nweb +10/10 +10 +10 ' "READY UP-TO-DATE AVAILABLE"

echo "== a Service's EndpointSlices follow its pods"
run_ok "expose the deployment" kubectl expose deployment web --name web-svc --port 80 --target-port 8080
ready_endpoints() {
  kubectl get endpointslices -l kubernetes.io/service-name=web-svc -o json 2>/dev/null |
    jq '[.items[].endpoints[]? | select(.conditions.ready)] | length'
}
ten_ready() { [[ $(ready_endpoints) == 10 ]]; }
wait_for 10 "the Service's slices list ten ready endpoints" ten_ready
run_ok "its slices" kubectl get endpointslices -l kubernetes.io/service-name=web-svc -o json
assert_eq "8080" "$(jget "$OUT" '.items[0].ports[0].port')" "the endpoints' port is the target port"
assert_eq "endpointslice-controller.k8s.io" \
  "$(jget "$OUT" '.items[0].metadata.labels["endpointslice.kubernetes.io/managed-by"]')" "managed by the controller"
assert_eq "Service/web-svc" "$(jget "$OUT" '.items[0].metadata.ownerReferences[0] | .kind + "/" + .name')" \
  "owned by the Service"
assert_eq "$(kubectl get pods -l app=web -o json | jq -c '[.items[].status.podIP] | sort')" \
  "$(jget "$OUT" '[.items[].endpoints[].addresses[0]] | sort' | jq -c .)" "the pods' IPs"
ten_addresses() { [[ $(kubectl get endpoints web-svc -o json 2>/dev/null | jq '[.subsets[]?.addresses[]?] | length') == 10 ]]; }
wait_for 10 "its Endpoints list the ten pods too" ten_addresses
run_ok "its Endpoints" kubectl get endpoints web-svc -o json
assert_eq "8080" "$(jget "$OUT" '.subsets[0].ports[0].port')" "the Endpoints' port is the target port"
run_ok "delete the Service" kubectl delete service web-svc
endpoints_gone() { ! kubectl get endpoints web-svc >/dev/null 2>&1; }
wait_for 10 "its Endpoints go with it" endpoints_gone
# A Service without a selector and Endpoints written by hand: mirrored.
cat >"$E2E_TMP/manual.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: manual}
spec:
  ports: [{name: db, port: 5432}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: manual}
subsets:
- addresses: [{ip: 192.0.2.10}, {ip: 192.0.2.11}]
  ports: [{name: db, port: 5432}]
EOF
run_ok "a Service with hand-made Endpoints" kubectl apply -f "$E2E_TMP/manual.yaml"
mirror_selector=kubernetes.io/service-name=manual,endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io
mirrored() {
  [[ $(kubectl get endpointslices -l "$mirror_selector" -o json 2>/dev/null |
    jq -c '[.items[].endpoints[].addresses[0]] | sort') == '["192.0.2.10","192.0.2.11"]' ]]
}
wait_for 10 "its Endpoints are mirrored into an EndpointSlice" mirrored
# Deleting the Service takes its Endpoints (the Endpoints controller, as
# upstream's) and so the mirrored slice.
run_ok "delete the hand-made Service" kubectl delete service manual
not_mirrored() {
  [[ -z $(kubectl get endpointslices -l kubernetes.io/service-name=manual -o name 2>/dev/null) ]] &&
    ! kubectl get endpoints manual >/dev/null 2>&1
}
wait_for 10 "its Endpoints and the mirrored slice go with it" not_mirrored
slices_gone() { [[ -z $(kubectl get endpointslices -l kubernetes.io/service-name=web-svc -o name 2>/dev/null) ]]; }
wait_for 10 "its slices go with it" slices_gone

echo "== rolling update keeps availability"
kubectl get deploy web -w -o jsonpath='{.status.availableReplicas}{"\n"}' >"$E2E_TMP/avail.log" 2>/dev/null &
WATCH_PID=$!
e2e_track_bg "$WATCH_PID"
run_ok "set image" kubectl set image deployment/web web=web:v2
run_ok "rollout status v2" kubectl rollout status deployment/web --timeout=90s
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
min_avail=$(grep -E '^[0-9]+$' "$E2E_TMP/avail.log" | sort -n | head -1)
assert_match "${min_avail:-none}" '^[0-9]+$' "watcher saw availability during the rollout"
if [[ -n "$min_avail" ]] && ((min_avail >= 8)); then pass "never below replicas - maxUnavailable (min $min_avail)"; else fail "availability dropped to ${min_avail:-?} (< 8)"; fi
run_ok "all pods on v2" kubectl get pods -l app=web -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}'
assert_eq "10" "$(grep -c '^web:v2$' <<<"$OUT")" "ten v2 pods"
run_ok "rollout history" kubectl rollout history deployment/web
assert_match "$OUT" $'\n1 +<none>' "revision 1 listed"
assert_match "$OUT" $'\n2 +<none>' "revision 2 listed"
run_ok "rollout undo" kubectl rollout undo deployment/web
run_ok "rollout status after undo" kubectl rollout status deployment/web --timeout=90s
run_ok "image after undo" kubectl get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}'
assert_eq "web:v1" "$OUT" "undo restores the v1 template"
run_ok "revision after undo" kubectl get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}'
assert_eq "3" "$OUT" "undo makes revision 3"
run_ok "two replica sets" kubectl get rs -l app=web -o name
assert_eq 2 "$(wc -l <<<"$OUT")" "the old replica set is reused"

echo "== pause, resume, restart, scale"
run_ok "pause" kubectl rollout pause deployment/web
run_ok "set image while paused" kubectl set image deployment/web web=web:v3
sleep 2
run_ok "no rollout while paused" kubectl get pods -l app=web -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}'
assert_eq 0 "$(grep -c 'web:v3' <<<"$OUT")" "paused deployment creates no v3 pods"
run_ok "resume" kubectl rollout resume deployment/web
run_ok "rollout status after resume" kubectl rollout status deployment/web --timeout=90s
run_ok "restart" kubectl rollout restart deployment/web
run_ok "rollout status after restart" kubectl rollout status deployment/web --timeout=90s
run_ok "restartedAt annotation" kubectl get deploy web -o jsonpath='{.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}'
assert_match "$OUT" '^20[0-9]{2}-' "restartedAt set"
run_ok "scale to 4" kubectl scale deployment/web --replicas=4
wait_for 60 "4 web pods" field_is 4 get deploy web -o jsonpath='{.status.availableReplicas}'
web_pods() { [[ "$(kubectl get pods -l app=web -o json | jq '[.items[]|select(.metadata.deletionTimestamp==null)]|length')" == "$1" ]]; }
wait_for 60 "scaled down to 4 pods" web_pods 4

echo "== daemonset"
cat >"$E2E_TMP/ds.yaml" <<'EOF'
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - {name: agent, image: agent:v1}
EOF
run_ok "create daemonset" kubectl apply -f "$E2E_TMP/ds.yaml"
run_ok "daemonset rollout" kubectl rollout status ds/agent --timeout=60s
run_ok "one pod per node" kubectl get pods -l app=agent -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}'
assert_eq 5 "$(sort -u <<<"$OUT" | grep -cE '^[ab]-[0-9]+$')" "five distinct nodes"
assert_eq 5 "$(grep -cE '^[ab]-[0-9]+$' <<<"$OUT")" "five pods"

echo "== job"
cat >"$E2E_TMP/job.yaml" <<'EOF'
apiVersion: batch/v1
kind: Job
metadata:
  name: batch
spec:
  completions: 3
  parallelism: 2
  template:
    metadata:
      annotations: {hollow.berth.dev/run-seconds: "1"}
    spec:
      restartPolicy: Never
      containers:
      - {name: work, image: work:v1}
EOF
run_ok "create job" kubectl apply -f "$E2E_TMP/job.yaml"
run_ok "job completes" kubectl wait --for=condition=complete job/batch --timeout=90s
run_ok "job status" kubectl get job batch -o jsonpath='{.status.succeeded}'
assert_eq 3 "$OUT" "three completions"

echo "== unschedulable pod"
cat >"$E2E_TMP/huge.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: huge
spec:
  containers:
  - name: huge
    image: huge:v1
    resources:
      requests: {cpu: "64"}
EOF
run_ok "create huge pod" kubectl apply -f "$E2E_TMP/huge.yaml"
huge_event() { kubectl get events --field-selector involvedObject.name=huge,reason=FailedScheduling -o jsonpath='{.items[0].message}' 2>/dev/null | grep -q 'Insufficient cpu'; }
wait_for 60 "FailedScheduling event" huge_event
run_ok "event message" kubectl get events --field-selector involvedObject.name=huge,reason=FailedScheduling -o jsonpath='{.items[0].message}'
assert_match "$OUT" '^0/5 nodes are available: 5 Insufficient cpu\.' "upstream-style summary"
run_ok "still pending" kubectl get pod huge -o jsonpath='{.status.phase}/{.spec.nodeName}'
assert_eq "Pending/" "$OUT" "huge pod stays Pending and unbound"
run_ok "describe shows the event" kubectl describe pod huge
assert_contains "$OUT" "FailedScheduling"
run_ok "delete huge" kubectl delete pod huge --wait=false

echo "== preemption"
run_ok "priority classes" kubectl create priorityclass high --value=1000
cat >"$E2E_TMP/fill.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fill
spec:
  replicas: 5
  selector:
    matchLabels: {app: fill}
  template:
    metadata:
      labels: {app: fill}
    spec:
      containers:
      - name: fill
        image: fill:v1
        resources:
          requests: {cpu: "3"}
EOF
run_ok "fill every node" kubectl apply -f "$E2E_TMP/fill.yaml"
run_ok "fill rolled out" kubectl rollout status deployment/fill --timeout=90s
cat >"$E2E_TMP/vip.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: vip
spec:
  priorityClassName: high
  containers:
  - name: vip
    image: vip:v1
    resources:
      requests: {cpu: "2"}
EOF
run_ok "create high-priority pod" kubectl apply -f "$E2E_TMP/vip.yaml"
vip_bound() { [[ -n "$(kubectl get pod vip -o jsonpath='{.spec.nodeName}' 2>/dev/null)" ]]; }
wait_for 60 "high-priority pod scheduled by preemption" vip_bound
run_ok "a fill pod was preempted" kubectl get events --field-selector reason=Preempted -o jsonpath='{.items[*].involvedObject.name}'
assert_match "$OUT" 'fill-' "Preempted event on a fill pod"
run_ok "remove fill" kubectl delete deployment fill
run_ok "remove vip" kubectl delete pod vip --wait=false

echo "== cordon and drain with a disruption budget"
run_ok "pdb" kubectl create pdb web --selector=app=web --min-available=4
node=$(kubectl get pods -l app=web -o jsonpath='{.items[0].spec.nodeName}')
run_ok "cordon" kubectl cordon "$node"
run_ok "cordoned" kubectl get node "$node" -o jsonpath='{.spec.unschedulable}'
assert_eq true "$OUT" "node unschedulable"
run timeout 20 kubectl drain "$node" --ignore-daemonsets --timeout=8s
assert_eq 1 "$([[ $RC != 0 ]] && echo 1)" "drain blocked by the budget"
assert_contains "$ERR$OUT" "disruption budget"
run_ok "relax budget" kubectl patch pdb web --type=merge -p '{"spec":{"minAvailable":2}}'
run_ok "drain allowed" kubectl drain "$node" --ignore-daemonsets --timeout=60s
run_ok "no web pods left on the drained node" kubectl get pods -l app=web --field-selector spec.nodeName="$node" -o name
assert_eq "" "$OUT" "drained"
run_ok "uncordon" kubectl uncordon "$node"

echo "== node failure"
run_ok "scale web back to 10" kubectl scale deployment/web --replicas=10
run_ok "rollout 10" kubectl rollout status deployment/web --timeout=90s
kill -KILL "$B_PID" 2>/dev/null
wait "$B_PID" 2>/dev/null
b_unknown() { field_is Unknown get node b-0 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'; }
wait_for 60 "dead nodes go Unknown" b_unknown
run_ok "unreachable taint" kubectl get node b-0 -o jsonpath='{.spec.taints[*].key}'
assert_contains "$OUT" "node.kubernetes.io/unreachable"
web_on_a() {
  local j
  j=$(kubectl get pods -l app=web -o json 2>/dev/null) || return 1
  [[ "$(jq '[.items[]|select(.metadata.deletionTimestamp==null and .status.phase=="Running" and (.spec.nodeName|startswith("a-")))]|length' <<<"$j")" == 10 ]]
}
wait_for 90 "pods replaced on live nodes" web_on_a

e2e_finish
