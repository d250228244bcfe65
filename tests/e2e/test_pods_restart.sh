#!/usr/bin/env bash
# Real pods across restarts and limits: an image pulled from a registry on
# the lab's 127.0.0.1, a CPU limit that holds (measured from the pod's
# cgroup), and a server (with its embedded agent) restarted while pods run:
# the containers are adopted, not restarted.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lab.sh"
e2e_lab_setup
e2e_start_server

# ---- an image from a registry inside the lab -----------------------------
if [[ -x /usr/bin/skopeo ]] && e2e_start_registry; then
  # The lab's image directory as a docker-archive, pushed by skopeo.
  tar -C "$E2E_TMP/image" -cf "$E2E_TMP/layer.tar" .
  diff_id=$(sha256sum "$E2E_TMP/layer.tar" | cut -d' ' -f1)
  mkdir -p "$E2E_TMP/arc/layer"
  mv "$E2E_TMP/layer.tar" "$E2E_TMP/arc/layer/layer.tar"
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff_id" >"$E2E_TMP/arc/config.json"
  cfg=$(sha256sum "$E2E_TMP/arc/config.json" | cut -d' ' -f1)
  mv "$E2E_TMP/arc/config.json" "$E2E_TMP/arc/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["e2e/pushed:1"],"Layers":["layer/layer.tar"]}]' "$cfg" >"$E2E_TMP/arc/manifest.json"
  tar -C "$E2E_TMP/arc" -cf "$E2E_TMP/pushed.tar" manifest.json "$cfg.json" layer/layer.tar
  run lab skopeo copy --quiet --dest-tls-verify=false "docker-archive:$E2E_TMP/pushed.tar" \
    "docker://127.0.0.1:$REG_PORT/e2e/pushed:1"
  assert_eq "0" "$RC" "skopeo pushes an image to the lab's registry ($ERR)"
  cat >"$E2E_TMP/pulled.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: pulled}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: 127.0.0.1:$REG_PORT/e2e/pushed:1
    command: ["sleep", "3600"]
Y
  run_ok "create a pod whose image is in the registry" kubectl apply -f "$E2E_TMP/pulled.yaml"
  wait_for 60 "the pulled pod runs" running pulled
  run_ok "its events" kubectl get events --field-selector involvedObject.name=pulled
  assert_contains "$OUT" "Pulling image \"127.0.0.1:$REG_PORT/e2e/pushed:1\"" "Pulling event"
  assert_contains "$OUT" "Successfully pulled image" "Pulled event"
  assert_eq "sha256:$cfg" "$(jsonpath pod/pulled '{.status.containerStatuses[0].imageID}')" "imageID is the pushed config"
  cat >"$E2E_TMP/missing.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  containers:
  - {name: main, image: "127.0.0.1:$REG_PORT/e2e/missing:1"}
Y
  run_ok "create a pod whose image does not exist" kubectl apply -f "$E2E_TMP/missing.yaml"
  pull_failed() { [[ $(jsonpath pod/missing '{.status.containerStatuses[0].state.waiting.reason}') =~ ^(ErrImagePull|ImagePullBackOff)$ ]]; }
  wait_for 30 "it waits in ErrImagePull / ImagePullBackOff" pull_failed
  run_ok "delete it" kubectl delete pod missing pulled --timeout=30s
else
  fail "docker-registry or skopeo missing (scripts/setup.sh installs them)"
fi

# ---- a CPU limit holds -----------------------------------------------------
cat >"$E2E_TMP/spin.yaml" <<'Y'
apiVersion: v1
kind: Pod
metadata: {name: spin}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: e2e/busybox:1
    imagePullPolicy: Never
    command: ["sh", "-c", "yes > /dev/null & yes > /dev/null & wait"]
    resources: {limits: {cpu: 200m, memory: 32Mi}}
Y
run_ok "create a pod that spins two CPUs under a 200m limit" kubectl apply -f "$E2E_TMP/spin.yaml"
wait_for 30 "the spinner runs" running spin
spin_uid=$(jsonpath pod/spin '{.metadata.uid}')
# cpu and cpuacct may be one hierarchy (cpu,cpuacct) or two.
acct_root=/sys/fs/cgroup/cpuacct; [[ -d $acct_root$E2E_LAB_CGROUP ]] || acct_root=/sys/fs/cgroup/cpu,cpuacct
cpu_root=/sys/fs/cgroup/cpu; [[ -d $cpu_root$E2E_LAB_CGROUP ]] || cpu_root=/sys/fs/cgroup/cpu,cpuacct
acct=$(ls -d "$acct_root$E2E_LAB_CGROUP/pod$spin_uid"/main-* 2>/dev/null | tail -1)
if [[ -f "$acct/cpuacct.usage" ]]; then
  sleep 1
  u0=$(cat "$acct/cpuacct.usage"); t0=$(date +%s%N)
  sleep 3
  u1=$(cat "$acct/cpuacct.usage"); t1=$(date +%s%N)
  cores=$(awk -v u=$((u1 - u0)) -v t=$((t1 - t0)) 'BEGIN {printf "%.3f", u / t}')
  log "spinner used $cores cores under a 200m limit"
  if awk -v c="$cores" 'BEGIN {exit !(c > 0.1 && c < 0.3)}'; then
    pass "the CPU limit holds (${cores} cores measured for 200m)"
  else
    fail "the CPU limit does not hold: ${cores} cores measured for 200m"
  fi
  assert_eq "20000" "$(cat "$cpu_root${acct#$acct_root}/cpu.cfs_quota_us")" "CFS quota 20ms per 100ms"
else
  kubectl get pod spin -o json | jq -c .status.containerStatuses >&2
  fail "no cpuacct cgroup found for the spinner at $acct_root$E2E_LAB_CGROUP/pod$spin_uid: $(find "$acct_root$E2E_LAB_CGROUP" -type d | tr "\n" " ")"
fi
run_ok "delete the spinner" kubectl delete pod spin --timeout=30s

# ---- a server restart adopts the running containers ----------------------
cat >"$E2E_TMP/keep.yaml" <<'Y'
apiVersion: v1
kind: Pod
metadata: {name: keep}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: e2e/busybox:1
    imagePullPolicy: Never
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
Y
run_ok "create a pod to keep" kubectl apply -f "$E2E_TMP/keep.yaml"
wait_for 30 "it is ready" ready keep
before_id=$(jsonpath pod/keep '{.status.containerStatuses[0].containerID}')
before_started=$(jsonpath pod/keep '{.status.containerStatuses[0].state.running.startedAt}')
ip=$(jsonpath pod/keep '{.status.podIP}')
e2e_stop_server
run lab curl -sS --max-time 5 "http://$ip:8080/index.html"
assert_eq "hello from berth" "$OUT" "the pod answers while the server and agent are down"
e2e_start_server
wait_for 30 "the pod is ready again after the restart" ready keep
assert_eq "$before_id" "$(jsonpath pod/keep '{.status.containerStatuses[0].containerID}')" "same container"
assert_eq "$before_started" "$(jsonpath pod/keep '{.status.containerStatuses[0].state.running.startedAt}')" "same start time"
assert_eq "0" "$(jsonpath pod/keep '{.status.containerStatuses[0].restartCount}')" "no restart"
run lab curl -sS --max-time 5 "http://$ip:8080/index.html"
assert_eq "hello from berth" "$OUT" "still answering on the same IP"
# The adopted container's exit is still noticed.
pid=$(for m in "$E2E_DATA_DIR"/agent/runtime/containers/*/meta.json; do cat "$(dirname "$m")/state/init.pid" 2>/dev/null; done | head -1)
[[ -n "$pid" ]] && kill -KILL "$pid"
restarted() { [[ $(jsonpath pod/keep '{.status.containerStatuses[0].restartCount}') == 1 ]]; }
wait_for 30 "an adopted container that dies is restarted" restarted

run_ok "delete the kept pod" kubectl delete pod keep --timeout=30s
gone() { [[ -z $(kubectl get pods -o name 2>/dev/null) ]]; }
wait_for 30 "every pod is gone" gone
assert_eq "0" "$(ls "$E2E_DATA_DIR/agent/runtime/containers" 2>/dev/null | wc -l)" "no containers left"

e2e_finish
