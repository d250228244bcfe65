# A lab for e2e tests that run real pods: sourced after lib.sh. The server
# (and its embedded agent, so every pod, bridge and route) lives in a
# network namespace of its own with no route out; kubectl, curl and the
# test's own probes of pod IPs run in it too. Only the network namespace
# is entered (nsenter --net): `ip netns exec` would remount /sys and hide
# the cgroup hierarchy from runc.
#
# Cleanup (an EXIT hook, also after failures): containers killed through
# runc, everything mounted under the test's directory unmounted, the lab
# namespace deleted (its bridge and veths go with it), the test's cgroup
# root removed under every controller.

E2E_LAB_NS="berth-e2e-$$"
E2E_LAB_NODE_IP="10.123.0.2"
E2E_LAB_POD_CIDR="10.123.1.0/24"
E2E_LAB_NODE="e2e-node"
E2E_LAB_CGROUP="/berth-e2e-$$"

e2e_lab_setup() {
  [[ $(id -u) == 0 ]] || { echo "SKIP: needs root"; E2E_FINISHED=1; exit 0; }
  local bin
  for bin in /usr/sbin/runc /usr/bin/busybox /usr/lib/cni/bridge nsenter; do
    command -v "$bin" >/dev/null || { echo "SKIP: $bin missing"; E2E_FINISHED=1; exit 0; }
  done
  ip netns add "$E2E_LAB_NS" || die "cannot create the lab namespace"
  E2E_CLEANUP_HOOKS+=(e2e_lab_cleanup)
  ip -n "$E2E_LAB_NS" link set lo up
  # The node's address lives on a veth pair inside the lab: nothing leads out.
  ip -n "$E2E_LAB_NS" link add lab0 type veth peer name lab1
  ip -n "$E2E_LAB_NS" addr add "$E2E_LAB_NODE_IP/24" dev lab0
  ip -n "$E2E_LAB_NS" link set lab0 up
  ip -n "$E2E_LAB_NS" link set lab1 up
  E2E_NETNS_EXEC=(nsenter "--net=/run/netns/$E2E_LAB_NS")
  E2E_SERVER_ARGS="--advertise-address $E2E_LAB_NODE_IP --node-ip $E2E_LAB_NODE_IP --node-name $E2E_LAB_NODE --pod-cidr $E2E_LAB_POD_CIDR --cgroup-root $E2E_LAB_CGROUP"
  # An image with busybox's tools, packed into the agent's store.
  local src="$E2E_TMP/image"
  mkdir -p "$src/bin" "$src/tmp" "$src/www"
  cp /usr/bin/busybox "$src/bin/busybox"
  local tool
  for tool in sh cat echo sleep wget httpd ls grep head tail dd md5sum env true false kill ps seq yes; do
    ln -s busybox "$src/bin/$tool"
  done
  echo "hello from berth" >"$src/www/index.html"
  "$BERTH_BIN" image --root "$E2E_DATA_DIR/agent/images" pack "$src" --tag e2e/busybox:1 \
    --env PATH=/bin -- /bin/sh >/dev/null 2>&1 || die "cannot pack the test image"
}

# kubectl and curl inside the lab (kubectl from the PATH, resolved before
# the function shadows it).
E2E_KUBECTL=$(type -P kubectl || echo /usr/bin/kubectl)
kubectl() { "${E2E_NETNS_EXEC[@]}" timeout "$E2E_CMD_TIMEOUT" "$E2E_KUBECTL" "$@"; }
lab() { "${E2E_NETNS_EXEC[@]}" "$@"; }

# Pod state checks for wait_for.
jsonpath() { kubectl get "$1" -o "jsonpath=$2" 2>/dev/null; }
running() { [[ $(jsonpath "pod/$1" '{.status.phase}') == Running ]]; }
ready() { [[ $(jsonpath "pod/$1" '{.status.conditions[?(@.type=="Ready")].status}') == True ]]; }

e2e_lab_cleanup() {
  local runc_root="$E2E_DATA_DIR/agent/runtime/runc" id
  if [[ -d "$runc_root" ]]; then
    for id in $(/usr/sbin/runc --root "$runc_root" list -q 2>/dev/null); do
      /usr/sbin/runc --root "$runc_root" kill "$id" KILL 2>/dev/null
      /usr/sbin/runc --root "$runc_root" delete -f "$id" 2>/dev/null
    done
  fi
  # Shims left behind (they exit once their container has).
  local pidfile pid
  for pidfile in "$E2E_DATA_DIR"/agent/runtime/containers/*/state/shim.pid; do
    [[ -f "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null
  done
  # Mounts under the test directory, deepest first.
  local mnt
  for mnt in $(awk -v d="$E2E_TMP" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount -l "$mnt" 2>/dev/null
  done
  ip netns del "$E2E_LAB_NS" 2>/dev/null
  local cg
  for cg in /sys/fs/cgroup/*"$E2E_LAB_CGROUP"; do
    [[ -d "$cg" ]] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
}
