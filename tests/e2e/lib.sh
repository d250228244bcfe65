# Shared fixture for the end-to-end tests: source it from a test script.
#
#   source "$(dirname "$0")/lib.sh"
#   e2e_start_server            # fresh data dir, free port, waits for /readyz
#   run kubectl get ns          # sets RC, OUT, ERR (never aborts the script)
#   assert_eq "0" "$RC" "get ns succeeds"
#   e2e_finish                  # prints PASS/FAIL, exits non-zero on failure
#
# Every test owns its server (its own data dir and port) so ctest -j can run
# tests side by side. The EXIT trap stops ONLY the server this script started
# (SIGTERM, then SIGKILL after a grace period) and removes the temp dir.
#
# Assertions are soft: a failed assertion is reported and counted, and the
# test goes on so that one run shows every broken behaviour. Use `die` when
# continuing makes no sense (e.g. the server did not start).

set -uo pipefail

E2E_TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}")
E2E_DIR=${BERTH_E2E_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
if [[ -z "${BERTH_BIN:-}" ]]; then
  for candidate in "$E2E_DIR/../../build-e2e/src/cmd/berth" "$E2E_DIR/../../build/src/cmd/berth"; do
    if [[ -x "$candidate" ]]; then BERTH_BIN=$candidate; break; fi
  done
fi
BERTH_BIN=${BERTH_BIN:-berth}
# Extra arguments for `berth server`. By default no agent runs pods: tests that
# want a real node start the server inside a lab network namespace themselves.
E2E_SERVER_ARGS=${E2E_SERVER_ARGS---disable-agent}
# Upper bound for any single client command, so a hung server fails the test
# instead of hanging ctest until its own timeout.
E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}

E2E_FAILURES=0
E2E_CHECKS=0
E2E_FINISHED=0
E2E_SERVER_PID=""
E2E_TMP=$(mktemp -d /tmp/berth-e2e.XXXXXX)
E2E_DATA_DIR="$E2E_TMP/data"
E2E_PORT=""
E2E_URL=""
E2E_CA=""
E2E_TOKEN=""
E2E_BG_PIDS=()
# Run before the server and curl (lab.sh: nsenter into the lab namespace).
E2E_NETNS_EXEC=()
# Functions run by the EXIT trap after the server stopped (lab.sh's cleanup).
E2E_CLEANUP_HOOKS=()
mkdir -p "$E2E_DATA_DIR"
# Isolate kubectl's discovery/HTTP cache: ports get reused across tests and a
# cache filled by another server would hide discovery bugs.
export KUBECACHEDIR="$E2E_TMP/kube-cache"
export KUBECONFIG="$E2E_DATA_DIR/kubeconfig.yaml"

log() { printf '[%s %s] %s\n' "$E2E_TEST_NAME" "$(date +%H:%M:%S)" "$*" >&2; }

pass() { E2E_CHECKS=$((E2E_CHECKS + 1)); printf '  ok   %s\n' "$*"; }

fail() {
  E2E_CHECKS=$((E2E_CHECKS + 1))
  E2E_FAILURES=$((E2E_FAILURES + 1))
  printf '  FAIL %s\n' "$*"
}

die() {
  fail "$*"
  exit 1
}

# Stops one pid: SIGTERM, then SIGKILL once the grace period is over.
e2e_stop_pid() {
  local pid=$1 grace=${2:-15}
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  local deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIGTERM for ${grace}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  return 0
}

e2e_cleanup() {
  local rc=$?
  local pid
  for pid in "${E2E_BG_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ -n "$E2E_SERVER_PID" ]]; then
    e2e_stop_pid "$E2E_SERVER_PID" 20
    E2E_SERVER_PID=""
  fi
  local hook
  for hook in "${E2E_CLEANUP_HOOKS[@]}"; do "$hook"; done
  if ((E2E_FINISHED == 0)); then
    ((rc == 0)) && rc=1
    ((E2E_FAILURES == 0)) && E2E_FAILURES=1
  fi
  if ((rc != 0 || E2E_FAILURES != 0)); then
    if [[ -f "$E2E_TMP/server.log" ]]; then
      echo "---- last 60 lines of the server log ($E2E_TMP/server.log) ----"
      tail -n 60 "$E2E_TMP/server.log"
      echo "----"
    fi
    echo "FAIL: $E2E_TEST_NAME ($E2E_FAILURES of $E2E_CHECKS checks failed)"
    ((rc == 0)) && rc=1
  fi
  if [[ -n "${E2E_KEEP_TMP:-}" ]]; then
    echo "kept $E2E_TMP"
  else
    rm -rf "$E2E_TMP"
  fi
  exit "$rc"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

e2e_free_port() {
  /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Starts `berth server` on the data dir (fresh unless a previous server used
# it) and waits for /readyz. Reuses the previous port after a restart so the
# kubeconfig stays valid.
e2e_start_server() {
  local deadline_s=${1:-60}
  [[ -x "$BERTH_BIN" ]] || command -v "$BERTH_BIN" >/dev/null || die "berth binary not found (BERTH_BIN=$BERTH_BIN)"
  [[ -n "$E2E_PORT" ]] || E2E_PORT=$(e2e_free_port)
  E2E_URL="https://127.0.0.1:$E2E_PORT"
  log "starting $BERTH_BIN server --data-dir $E2E_DATA_DIR --listen 127.0.0.1:$E2E_PORT $E2E_SERVER_ARGS"
  # shellcheck disable=SC2086
  "${E2E_NETNS_EXEC[@]}" "$BERTH_BIN" server --data-dir "$E2E_DATA_DIR" --listen "127.0.0.1:$E2E_PORT" $E2E_SERVER_ARGS \
    >>"$E2E_TMP/server.log" 2>&1 &
  E2E_SERVER_PID=$!
  local deadline=$((SECONDS + deadline_s)) code=""
  while ((SECONDS < deadline)); do
    if ! kill -0 "$E2E_SERVER_PID" 2>/dev/null; then
      wait "$E2E_SERVER_PID"
      local status=$?
      E2E_SERVER_PID=""
      die "berth server exited with status $status before becoming ready"
    fi
    if [[ -f "$KUBECONFIG" ]]; then
      e2e_find_ca
      if [[ -n "$E2E_CA" ]]; then
        code=$("${E2E_NETNS_EXEC[@]}" curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$E2E_CA" "$E2E_URL/readyz" 2>/dev/null)
        [[ "$code" == 200 ]] && break
      fi
    fi
    sleep 0.1
  done
  [[ "$code" == 200 ]] || die "server not ready within ${deadline_s}s (last /readyz code: ${code:-none})"
  E2E_TOKEN=$(kubectl config view --raw -o jsonpath='{.users[0].user.token}' 2>/dev/null)
  log "server ready: pid $E2E_SERVER_PID at $E2E_URL"
}

# The CA: DIR/pki/ca.crt, else the kubeconfig's certificate-authority-data.
e2e_find_ca() {
  if [[ -s "$E2E_DATA_DIR/pki/ca.crt" ]]; then
    E2E_CA="$E2E_DATA_DIR/pki/ca.crt"
    return
  fi
  local data
  data=$(grep -m1 'certificate-authority-data:' "$KUBECONFIG" 2>/dev/null | awk '{print $2}')
  if [[ -n "$data" ]]; then
    printf '%s' "$data" | base64 -d >"$E2E_TMP/ca.crt" 2>/dev/null && E2E_CA="$E2E_TMP/ca.crt"
  fi
}

# Graceful stop (SIGTERM, SIGKILL after the grace period).
e2e_stop_server() {
  [[ -n "$E2E_SERVER_PID" ]] || return 0
  e2e_stop_pid "$E2E_SERVER_PID" "${1:-20}"
  E2E_SERVER_PID=""
}

# Crash: SIGKILL, no chance to flush anything.
e2e_kill9_server() {
  [[ -n "$E2E_SERVER_PID" ]] || return 0
  kill -KILL "$E2E_SERVER_PID" 2>/dev/null
  wait "$E2E_SERVER_PID" 2>/dev/null
  E2E_SERVER_PID=""
}

# Starts Debian's docker-registry on 127.0.0.1 (of the lab namespace when
# E2E_NETNS_EXEC is set) with its storage in the test directory; sets
# REG_PORT. False when docker-registry is missing or does not answer.
e2e_start_registry() {
  [[ -x /usr/bin/docker-registry ]] || return 1
  REG_PORT=$(e2e_free_port)
  mkdir -p "$E2E_TMP/registry"
  cat >"$E2E_TMP/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $E2E_TMP/registry
http:
  addr: 127.0.0.1:$REG_PORT
YML
  "${E2E_NETNS_EXEC[@]}" /usr/bin/docker-registry serve "$E2E_TMP/registry.yml" >"$E2E_TMP/registry.log" 2>&1 &
  e2e_track_bg $!
  local _
  for _ in $(seq 1 100); do
    "${E2E_NETNS_EXEC[@]}" curl -sf "http://127.0.0.1:$REG_PORT/v2/" >/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Remembers a background pid so the EXIT trap ends it.
e2e_track_bg() { E2E_BG_PIDS+=("$1"); }

# Runs a command under a time limit; shell functions run directly (timeout(1)
# cannot run them; they are expected to bound their own commands).
_e2e_exec() {
  local limit=$1
  shift
  if [[ "$(type -t "$1")" == function ]]; then
    "$@"
  else
    timeout "$limit" "$@"
  fi
}

# run CMD...: runs with a time limit; sets RC, OUT (stdout), ERR (stderr).
run() {
  local out_file="$E2E_TMP/run.out" err_file="$E2E_TMP/run.err"
  _e2e_exec "$E2E_CMD_TIMEOUT" "$@" >"$out_file" 2>"$err_file"
  RC=$?
  OUT=$(cat "$out_file")
  ERR=$(cat "$err_file")
  if ((RC == 124)); then ERR="$ERR [timed out after ${E2E_CMD_TIMEOUT}s]"; fi
  return 0
}

# run_ok DESCRIPTION CMD...: runs and asserts exit status 0.
run_ok() {
  local what=$1
  shift
  run "$@"
  if ((RC == 0)); then
    pass "$what"
    return 0
  fi
  fail "$what: \`$*\` exited $RC; stderr: ${ERR:0:600}; stdout: ${OUT:0:300}"
  return 1
}

assert_eq() {
  local expected=$1 actual=$2 what=${3:-value}
  if [[ "$expected" == "$actual" ]]; then
    pass "$what"
  else
    fail "$what: expected [$expected], got [${actual:0:800}]"
  fi
}

assert_contains() {
  local haystack=$1 needle=$2 what=${3:-output contains \"$2\"}
  if [[ "$haystack" == *"$needle"* ]]; then
    pass "$what"
  else
    fail "$what: [${haystack:0:1200}] does not contain [$needle]"
  fi
}

assert_not_contains() {
  local haystack=$1 needle=$2 what=${3:-output lacks \"$2\"}
  if [[ "$haystack" != *"$needle"* ]]; then
    pass "$what"
  else
    fail "$what: [${haystack:0:1200}] contains [$needle]"
  fi
}

# assert_match TEXT ERE [WHAT]: bash regex match.
assert_match() {
  local text=$1 re=$2 what=${3:-output matches /$2/}
  if [[ "$text" =~ $re ]]; then
    pass "$what"
  else
    fail "$what: [${text:0:1200}] does not match /$re/"
  fi
}

# assert_fails_with CODE STDERR_TEXT CMD...: the command must fail with exit
# status CODE ("nonzero" = any failure) and its stderr must contain the text.
assert_fails_with() {
  local code=$1 text=$2
  shift 2
  run "$@"
  local what="\`$*\` fails ($code) with \"$text\""
  if [[ "$code" == nonzero ]]; then
    if ((RC == 0)); then fail "$what: exited 0; stdout: ${OUT:0:600}"; return 1; fi
  elif [[ "$RC" != "$code" ]]; then
    fail "$what: exited $RC; stderr: ${ERR:0:600}"
    return 1
  fi
  if [[ "$ERR" != *"$text"* ]]; then
    fail "$what: stderr was [${ERR:0:1200}]"
    return 1
  fi
  pass "$what"
}

# wait_for SECONDS DESCRIPTION CMD...: polls until CMD succeeds (status 0).
wait_for() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  while ((SECONDS < deadline)); do
    if _e2e_exec 30 "$@" >/dev/null 2>&1; then
      pass "$what"
      return 0
    fi
    sleep 0.25
  done
  run "$@"
  fail "$what: not true within ${limit}s (last: rc=$RC out=${OUT:0:400} err=${ERR:0:400})"
  return 1
}

# api METHOD PATH [curl args...]: raw HTTPS request with the admin token.
# Sets HTTP_CODE and BODY.
api() {
  local method=$1 path=$2
  shift 2
  local auth=()
  [[ -n "$E2E_TOKEN" ]] && auth=(-H "Authorization: Bearer $E2E_TOKEN")
  HTTP_CODE=$("${E2E_NETNS_EXEC[@]}" curl -sS --max-time "$E2E_CMD_TIMEOUT" --cacert "$E2E_CA" -X "$method" "${auth[@]}" \
    -o "$E2E_TMP/api.body" -w '%{http_code}' "$@" "$E2E_URL$path" 2>"$E2E_TMP/api.err")
  BODY=$(cat "$E2E_TMP/api.body" 2>/dev/null)
  [[ -n "$HTTP_CODE" ]] || HTTP_CODE=000
  return 0
}

# api_anon METHOD PATH [curl args...]: same without credentials.
api_anon() {
  local method=$1 path=$2
  shift 2
  HTTP_CODE=$("${E2E_NETNS_EXEC[@]}" curl -sS --max-time "$E2E_CMD_TIMEOUT" --cacert "$E2E_CA" -X "$method" \
    -o "$E2E_TMP/api.body" -w '%{http_code}' "$@" "$E2E_URL$path" 2>"$E2E_TMP/api.err")
  BODY=$(cat "$E2E_TMP/api.body" 2>/dev/null)
  [[ -n "$HTTP_CODE" ]] || HTTP_CODE=000
  return 0
}

# jget JSON FILTER: jq -r on a string; empty output when it does not parse.
jget() { printf '%s' "$1" | jq -r "$2" 2>/dev/null; }

# A scratch file path inside the test's temp dir.
e2e_file() { printf '%s/%s' "$E2E_TMP" "$1"; }

e2e_finish() {
  E2E_FINISHED=1
  if ((E2E_FAILURES == 0)); then
    echo "PASS: $E2E_TEST_NAME ($E2E_CHECKS checks)"
    exit 0
  fi
  exit 1
}
