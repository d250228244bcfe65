#!/usr/bin/env bash
# kubectl get: server-side tables, output formats, selectors, watch,
# all-namespaces, `get all`, namespaces, chunking.
source "$(dirname "$0")/lib.sh"
e2e_start_server

run_ok "apply fixtures" kubectl apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-a, labels: {app: x, tier: a}}
data: {k: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-b, labels: {app: x, tier: b}}
data: {k: b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-c, labels: {app: "y"}}
data: {k: c}
YAML

echo "== deployments table"
run_ok "get deployments" kubectl get deployments
header=$(head -n1 <<<"$OUT")
assert_match "$header" '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE$' "deployment columns"
assert_match "$OUT" $'\nweb +[0-9]+/2 +[0-9]+ +[0-9]+ +[0-9]+[smhd]' "deployment row: web N/2 ... AGE"
run_ok "get deploy -o wide" kubectl get deploy -o wide
assert_match "$(head -n1 <<<"$OUT")" '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE +CONTAINERS +IMAGES +SELECTOR$' "wide columns"
assert_match "$OUT" 'web +.* web +nginx:1\.25 +app=web' "wide row shows containers, images, selector"

echo "== services table"
run_ok "get services" kubectl get services
assert_match "$(head -n1 <<<"$OUT")" '^NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE$' "service columns"
assert_match "$OUT" $'\nweb +ClusterIP +10\\.[0-9.]+ +<none> +80/TCP +[0-9]+[smhd]' "service row"
assert_match "$OUT" $'\nkubernetes +ClusterIP +10\\.96\\.0\\.1 +<none> +443/TCP' "kubernetes service row"
ip=$(kubectl get svc web -o jsonpath='{.spec.clusterIP}')
octet2=$(cut -d. -f2 <<<"$ip")
if [[ "$ip" =~ ^10\.[0-9]+\.[0-9]+\.[0-9]+$ ]] && ((octet2 >= 96 && octet2 <= 111)); then
  pass "clusterIP $ip is in 10.96.0.0/12"
else
  fail "clusterIP [$ip] not in 10.96.0.0/12"
fi
assert_eq "$ip" "$(kubectl get svc web -o jsonpath='{.spec.clusterIPs[0]}')" "clusterIPs[0] == clusterIP"

echo "== output formats"
run_ok "-o yaml" kubectl get deployment web -o yaml
assert_contains "$OUT" "apiVersion: apps/v1"
assert_contains "$OUT" "kind: Deployment"
assert_contains "$OUT" "  name: web"
run_ok "-o json" kubectl get deployment web -o json
assert_eq "Deployment" "$(jget "$OUT" .kind)" "-o json parses, kind Deployment"
run_ok "-o jsonpath" kubectl get deployment web -o jsonpath='{.spec.replicas}'
assert_eq 2 "$OUT" "jsonpath spec.replicas"
run_ok "-o name" kubectl get deployment web -o name
assert_eq "deployment.apps/web" "$OUT" "-o name"
run_ok "-o name for a list" kubectl get cm -l app=x -o name
assert_eq $'configmap/cm-a\nconfigmap/cm-b' "$OUT" "-o name list"
run_ok "custom-columns" kubectl get cm cm-a -o custom-columns=NAME:.metadata.name,K:.data.k
assert_match "$OUT" $'^NAME +K\ncm-a +a$' "custom-columns"
run_ok "--sort-by" kubectl get cm -l app --sort-by=.data.k -o name
assert_eq $'configmap/cm-a\nconfigmap/cm-b\nconfigmap/cm-c' "$OUT" "--sort-by (includeObject=Object)"
run_ok "get list -o json" kubectl get cm -l app -o json
assert_eq "List" "$(jget "$OUT" .kind)" "kubectl -o json list is a List"
assert_eq 3 "$(jget "$OUT" '.items|length')" "three labelled configmaps"
run_ok "multiple kinds" kubectl get deploy,svc -o name
assert_contains "$OUT" "deployment.apps/web"
assert_contains "$OUT" "service/web"
assert_contains "$OUT" "service/kubernetes"

echo "== selectors"
run_ok "-l app=x" kubectl get cm -l app=x
assert_contains "$OUT" "cm-a"
assert_contains "$OUT" "cm-b"
assert_not_contains "$OUT" "cm-c"
run_ok "-l set-based" kubectl get cm -l 'tier in (b),app==x' -o name
assert_eq "configmap/cm-b" "$OUT" "in + == selector"
run_ok "-l !key" kubectl get cm -l 'app,!tier' -o name
assert_eq "configmap/cm-c" "$OUT" "exists + !key selector"
run_ok "-l notin / !=" kubectl get cm -l 'app,app!=y,tier notin (a)' -o name
assert_eq "configmap/cm-b" "$OUT" "!= and notin selector"
run_ok "--field-selector" kubectl get cm --field-selector metadata.name=cm-b -o name
assert_eq "configmap/cm-b" "$OUT" "field selector metadata.name"
run_ok "--field-selector !=" kubectl get cm -l app --field-selector 'metadata.name!=cm-b' -o name
assert_eq $'configmap/cm-a\nconfigmap/cm-c' "$OUT" "field selector !="
assert_fails_with nonzero "field label not supported" kubectl get cm --field-selector spec.bogus=1
assert_fails_with nonzero "Error from server (BadRequest)" kubectl get cm --field-selector spec.bogus=1
run_ok "no match" kubectl get cm -l app=none
assert_contains "$ERR" "No resources found in default namespace."

echo "== namespaces"
run_ok "get ns" kubectl get ns
assert_match "$(head -n1 <<<"$OUT")" '^NAME +STATUS +AGE$' "namespace columns"
for ns in default kube-system kube-public kube-node-lease; do
  assert_match "$OUT" $'(^|\n)'"$ns"' +Active +[0-9]+[smhd]' "namespace $ns Active"
done
run_ok "get -A" kubectl get cm -A
assert_match "$(head -n1 <<<"$OUT")" '^NAMESPACE +NAME +DATA +AGE$' "-A adds NAMESPACE column; configmap columns"
assert_match "$OUT" $'\nkube-system +kube-root-ca.crt +1 ' "-A shows kube-system objects"
assert_match "$OUT" $'\ndefault +cm-a +1 ' "-A shows default objects"
run_ok "get ns -o jsonpath" kubectl get ns kube-system -o jsonpath='{.status.phase}'
assert_eq Active "$OUT" "kube-system phase"

echo "== get all"
run_ok "get all" kubectl get all
assert_contains "$OUT" "service/kubernetes"
assert_contains "$OUT" "service/web"
assert_contains "$OUT" "deployment.apps/web"
assert_not_contains "$OUT" "configmap/" "get all excludes configmaps"

echo "== chunking (limit/continue)"
run_ok "raw list with limit" kubectl get --raw '/api/v1/namespaces/default/configmaps?limit=2'
assert_eq 2 "$(jget "$OUT" '.items|length')" "limit=2 returns 2 items"
cont=$(jget "$OUT" .metadata.continue)
if [[ -n "$cont" && "$cont" != null ]]; then
  pass "continue token returned"
  run_ok "second page" kubectl get --raw "/api/v1/namespaces/default/configmaps?limit=2&continue=$cont"
  assert_match "$(jget "$OUT" '.items|length')" '^[12]$' "second page has the rest"
else
  fail "no metadata.continue with limit=2 over >= 4 configmaps: $OUT"
fi
run_ok "kubectl --chunk-size=1" kubectl get cm -l app --chunk-size=1 -o name
assert_eq $'configmap/cm-a\nconfigmap/cm-b\nconfigmap/cm-c' "$OUT" "chunked list returns everything"

echo "== watch"
watch_out=$(e2e_file watch.out)
kubectl get cm -w --output-watch-events >"$watch_out" 2>&1 &
watch_pid=$!
e2e_track_bg "$watch_pid"
wait_for 20 "watch prints the existing objects" grep -q 'cm-a' "$watch_out"
run_ok "create while watching" kubectl create configmap watched --from-literal=a=b
wait_for 20 "watch shows the new configmap" grep -Eq '^ADDED +watched ' "$watch_out"
run_ok "modify while watching" kubectl label cm watched extra=1
wait_for 20 "watch shows MODIFIED" grep -Eq '^MODIFIED +watched ' "$watch_out"
run_ok "delete while watching" kubectl delete cm watched
wait_for 20 "watch shows DELETED" grep -Eq '^DELETED +watched ' "$watch_out"
if kill -0 "$watch_pid" 2>/dev/null; then pass "kubectl get -w still running"; else fail "kubectl get -w exited early: $(cat "$watch_out")"; fi
kill -TERM "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null

# A plain `-w` (no events column) on a single name.
watch2=$(e2e_file watch2.out)
kubectl get cm cm-a -w >"$watch2" 2>&1 &
w2=$!
e2e_track_bg "$w2"
wait_for 20 "single-object watch prints the object" grep -Eq '^cm-a +1 ' "$watch2"
run_ok "update watched object" kubectl patch cm cm-a --type=merge -p '{"data":{"k2":"v"}}'
wait_for 20 "single-object watch shows the update (DATA 2)" grep -Eq '^cm-a +2 ' "$watch2"
kill -TERM "$w2" 2>/dev/null
wait "$w2" 2>/dev/null

echo "== discovery"
run_ok "api-resources" kubectl api-resources
assert_match "$OUT" $'\ndeployments +deploy +apps/v1 +true +Deployment' "api-resources deployments"
assert_match "$OUT" $'\nconfigmaps +cm +v1 +true +ConfigMap' "api-resources configmaps"
assert_match "$OUT" $'\nnamespaces +ns +v1 +false +Namespace' "api-resources namespaces"
run_ok "api-versions" kubectl api-versions
assert_contains "$OUT" "apps/v1"
assert_contains "$OUT" "autoscaling/v2"

e2e_finish
