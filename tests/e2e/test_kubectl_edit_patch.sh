#!/usr/bin/env bash
# kubectl edit (non-interactive editor), patch (strategic/merge/json), label,
# annotate (and the --overwrite conflict), scale, set image, replace.
source "$(dirname "$0")/lib.sh"
e2e_start_server

run_ok "create deployment" kubectl apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{containerPort: 80}]
        env: [{name: A, value: "1"}]
      - name: sidecar
        image: busybox:1.36
YAML
gen() { kubectl get deploy web -o jsonpath='{.metadata.generation}'; }

echo "== edit"
editor=$(e2e_file editor.sh)
cat >"$editor" <<'SH'
#!/bin/sh
sed -i 's/replicas: 1$/replicas: 3/' "$1"
SH
chmod +x "$editor"
run_ok "kubectl edit with a scripted editor" env KUBE_EDITOR="$editor" kubectl edit deployment web
assert_contains "$OUT" "deployment.apps/web edited"
assert_eq 3 "$(kubectl get deploy web -o jsonpath='{.spec.replicas}')" "edit result visible"
assert_eq 2 "$(gen)" "edit of spec bumps generation"
noop=$(e2e_file noop.sh)
printf '#!/bin/sh\ntrue\n' >"$noop"
chmod +x "$noop"
run_ok "edit without changes" env KUBE_EDITOR="$noop" kubectl edit deployment web
assert_contains "$OUT$ERR" "Edit cancelled, no changes made."
# An invalid edit: kubectl reopens the editor with the server's causes in a
# comment header, then gives up when the file comes back unchanged. The
# editor keeps a copy of every file it is shown.
seen=$(e2e_file editor-seen.log)
bad=$(e2e_file bad.sh)
printf '#!/bin/sh\ncat "$1" >>"%s"\nsed -i "s/replicas: 3$/replicas: -5/" "$1"\n' "$seen" >"$bad"
chmod +x "$bad"
assert_fails_with 1 'deployments.apps "web" is invalid' env TMPDIR="$E2E_TMP" KUBE_EDITOR="$bad" kubectl edit deployment web
assert_contains "$ERR" "Edit cancelled, no valid changes were saved."
assert_contains "$(cat "$seen")" "spec.replicas: Invalid value: -5: must be greater than or equal to 0" "reopened file shows the server's cause"
assert_eq 3 "$(kubectl get deploy web -o jsonpath='{.spec.replicas}')" "invalid edit stored nothing"

echo "== patch: strategic (default)"
run_ok "strategic patch" kubectl patch deployment web -p '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}}}'
assert_contains "$OUT" "deployment.apps/web patched"
run kubectl get deploy web -o json
dep=$OUT
assert_eq "nginx:1.26" "$(jget "$dep" '.spec.template.spec.containers[]|select(.name=="web")|.image')" "image changed"
assert_eq 80 "$(jget "$dep" '.spec.template.spec.containers[]|select(.name=="web")|.ports[0].containerPort')" "container merged by name keeps its ports"
assert_eq 2 "$(jget "$dep" '.spec.template.spec.containers|length')" "sidecar kept (list merged, not replaced)"
run_ok "strategic patch env merge" kubectl patch deployment web -p '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"B","value":"2"}]}]}}}}'
# Upstream order (mergeSortedSlice): without $setElementOrder, items named in
# the patch come first and server-only items follow.
assert_eq "B=2 A=1" "$(kubectl get deploy web -o jsonpath='{range .spec.template.spec.containers[0].env[*]}{.name}={.value} {end}' | sed 's/ $//')" "env merged by name"
run_ok "strategic \$patch: delete" kubectl patch deployment web -p '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}'
assert_eq "web" "$(kubectl get deploy web -o jsonpath='{.spec.template.spec.containers[*].name}')" "\$patch: delete removed the sidecar"
run_ok "patch without change" kubectl patch deployment web -p '{"spec":{"replicas":3}}'
assert_contains "$OUT" "deployment.apps/web patched (no change)"

echo "== patch: merge"
run_ok "merge patch" kubectl patch deployment web --type=merge -p '{"metadata":{"labels":{"merged":"yes"}},"spec":{"minReadySeconds":5}}'
assert_eq yes "$(kubectl get deploy web -o jsonpath='{.metadata.labels.merged}')" "merge patch label"
assert_eq 5 "$(kubectl get deploy web -o jsonpath='{.spec.minReadySeconds}')" "merge patch spec field"
run_ok "merge patch null deletes" kubectl patch deployment web --type=merge -p '{"metadata":{"labels":{"merged":null}}}'
assert_eq "" "$(kubectl get deploy web -o jsonpath='{.metadata.labels.merged}')" "merge patch null removed the label"

echo "== patch: json"
run_ok "json patch" kubectl patch deployment web --type=json -p '[{"op":"replace","path":"/spec/replicas","value":2},{"op":"add","path":"/metadata/annotations/jp","value":"ok"}]'
assert_eq 2 "$(kubectl get deploy web -o jsonpath='{.spec.replicas}')" "json patch replace"
assert_eq ok "$(kubectl get deploy web -o jsonpath='{.metadata.annotations.jp}')" "json patch add"
run kubectl patch deployment web --type=json -p '[{"op":"test","path":"/spec/replicas","value":9},{"op":"replace","path":"/spec/replicas","value":7}]'
if ((RC != 0)); then pass "json patch failing test op is rejected"; else fail "json patch with failing test op succeeded: $OUT"; fi
assert_eq 2 "$(kubectl get deploy web -o jsonpath='{.spec.replicas}')" "failed json patch changed nothing"
run kubectl patch deployment web --type=json -p '[{"op":"remove","path":"/spec/nonexistent"}]'
if ((RC != 0)); then pass "json patch remove of a missing path is rejected"; else fail "remove of a missing path succeeded"; fi

echo "== label / annotate"
g=$(gen)
run_ok "label" kubectl label deployment web tier=frontend
assert_contains "$OUT" "deployment.apps/web labeled"
assert_eq frontend "$(kubectl get deploy web -o jsonpath='{.metadata.labels.tier}')" "label set"
assert_eq "$g" "$(gen)" "metadata change does not bump generation"
assert_fails_with nonzero "'tier' already has a value (frontend), and --overwrite is false" kubectl label deployment web tier=backend
run_ok "label --overwrite" kubectl label deployment web tier=backend --overwrite
assert_eq backend "$(kubectl get deploy web -o jsonpath='{.metadata.labels.tier}')" "label overwritten"
run_ok "label remove" kubectl label deployment web tier-
assert_contains "$OUT" "deployment.apps/web unlabeled"
run_ok "annotate" kubectl annotate deployment web note=one
assert_contains "$OUT" "deployment.apps/web annotated"
assert_fails_with nonzero "'note' already has a value (one)" kubectl annotate deployment web note=two
assert_contains "$ERR" "--overwrite is false"
assert_eq one "$(kubectl get deploy web -o jsonpath='{.metadata.annotations.note}')" "conflicting annotate changed nothing"
run_ok "annotate --overwrite" kubectl annotate deployment web note=two --overwrite
assert_eq two "$(kubectl get deploy web -o jsonpath='{.metadata.annotations.note}')" "annotation overwritten"
run_ok "label many with -l" kubectl label cm,deploy -l app=web checked=true
assert_eq true "$(kubectl get deploy web -o jsonpath='{.metadata.labels.checked}')" "label by selector"

echo "== scale"
run_ok "scale" kubectl scale deployment web --replicas=4
assert_contains "$OUT" "deployment.apps/web scaled"
assert_eq 4 "$(kubectl get deploy web -o jsonpath='{.spec.replicas}')" "spec.replicas is 4"
run_ok "scale subresource" kubectl get --raw /apis/apps/v1/namespaces/default/deployments/web/scale
assert_eq "Scale" "$(jget "$OUT" .kind)" "scale kind"
assert_eq "autoscaling/v1" "$(jget "$OUT" .apiVersion)" "scale apiVersion"
assert_eq 4 "$(jget "$OUT" .spec.replicas)" "scale spec.replicas"
assert_eq "app=web" "$(jget "$OUT" .status.selector)" "scale status.selector"
assert_fails_with nonzero "Expected replicas to be 3, was 4" kubectl scale deployment web --current-replicas=3 --replicas=5
assert_eq 4 "$(kubectl get deploy web -o jsonpath='{.spec.replicas}')" "failed precondition changed nothing"

echo "== set image"
run_ok "set image" kubectl set image deployment/web web=nginx:1.27
assert_contains "$OUT" "deployment.apps/web image updated"
assert_eq "nginx:1.27" "$(kubectl get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')" "image set"

echo "== replace"
run_ok "create configmap" kubectl create configmap rep --from-literal=a=1
cm_file=$(e2e_file rep.yaml)
kubectl get cm rep -o yaml >"$cm_file"
sed -i 's/^  a: "1"$/  a: "2"/' "$cm_file"
run_ok "replace" kubectl replace -f "$cm_file"
assert_contains "$OUT" "configmap/rep replaced"
assert_eq 2 "$(kubectl get cm rep -o jsonpath='{.data.a}')" "replace stored the new data"

e2e_finish
