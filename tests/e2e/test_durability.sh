#!/usr/bin/env bash
# Durability: writes acknowledged before a kill -9 survive a restart on the
# same data dir, and resourceVersions keep increasing across restarts.
# Also: SIGTERM stops the server promptly and gracefully.
source "$(dirname "$0")/lib.sh"
e2e_start_server

CM=/api/v1/namespaces/default/configmaps
acks=$(e2e_file acks)
stop=$(e2e_file stop)
: >"$acks"

# One writer: POSTs configmaps one after another (new connection each) and
# records "name resourceVersion" for every 201.
writer() {
  local prefix=$1 i=0 code body="$E2E_TMP/w-$1.body"
  while [[ ! -f "$stop" ]]; do
    i=$((i + 1))
    local name="$prefix-$i"
    code=$(curl -s --max-time 5 --cacert "$E2E_CA" -H "Authorization: Bearer $E2E_TOKEN" \
      -H 'Content-Type: application/json' -o "$body" -w '%{http_code}' -X POST \
      --data-binary "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$name\"},\"data\":{\"i\":\"$i\"}}" \
      "$E2E_URL$CM" 2>/dev/null)
    if [[ "$code" == 201 ]]; then
      echo "$name $(jq -r .metadata.resourceVersion <"$body")" >>"$acks"
    elif [[ "$code" == 000 ]]; then
      sleep 0.05
    fi
  done
}

writer wa &
wa=$!
e2e_track_bg "$wa"
writer wb &
wb=$!
e2e_track_bg "$wb"
wait_for 60 "writers got at least 60 acknowledgements" bash -c "(( \$(wc -l <'$acks') >= 60 ))"
log "kill -9 the server mid-stream after $(wc -l <"$acks") acks"
e2e_kill9_server
sleep 0.3
touch "$stop"
wait "$wa" "$wb" 2>/dev/null
n_acked=$(wc -l <"$acks")
log "$n_acked writes acknowledged before the crash"

e2e_start_server
run_ok "list after restart" kubectl get cm -o json
listing=$OUT
present=$(jget "$listing" '[.items[].metadata.name]|join(" ")')
missing=()
while read -r name rv; do
  [[ " $present " == *" $name "* ]] || missing+=("$name(rv $rv)")
done <"$acks"
if ((${#missing[@]} == 0)); then
  pass "all $n_acked acknowledged configmaps survived kill -9"
else
  fail "${#missing[@]} of $n_acked acknowledged configmaps lost: ${missing[*]:0:20}"
fi
# Stored content matches what was written.
bad_data=$(jget "$listing" '[.items[] | select(.metadata.name|test("^w[ab]-")) | select(.data.i != (.metadata.name|split("-")[1]))] | length')
assert_eq 0 "$bad_data" "stored data matches each write"
max_rv=$(awk '{print $2}' "$acks" | sort -n | tail -1)
dup_rvs=$(awk '{print $2}' "$acks" | sort | uniq -d | wc -l)
assert_eq 0 "$dup_rvs" "every acknowledged write got its own resourceVersion"
run_ok "write after restart" kubectl create configmap after-restart --from-literal=a=b -o jsonpath='{.metadata.resourceVersion}'
new_rv=$OUT
if [[ "$new_rv" =~ ^[0-9]+$ && "$max_rv" =~ ^[0-9]+$ ]] && ((new_rv > max_rv)); then
  pass "new resourceVersion $new_rv > every earlier one (max $max_rv)"
else
  fail "new resourceVersion [$new_rv] not greater than max acknowledged [$max_rv]"
fi
# kubectl -o json wraps items in its own List without a resourceVersion;
# ask the API directly.
api GET "$CM"
list_rv=$(jget "$BODY" .metadata.resourceVersion)
if [[ "$list_rv" =~ ^[0-9]+$ ]] && ((list_rv >= max_rv)); then
  pass "list resourceVersion $list_rv >= max acknowledged"
else
  fail "list resourceVersion [$list_rv] < max acknowledged [$max_rv]"
fi

echo "== watch from an old resourceVersion after restart"
first_rv=$(awk '{print $2}' "$acks" | sort -n | head -1)
run curl -s --max-time 5 --cacert "$E2E_CA" -H "Authorization: Bearer $E2E_TOKEN" \
  "$E2E_URL$CM?watch=true&resourceVersion=$max_rv&timeoutSeconds=2"
assert_eq 0 "$RC" "watch from the last acknowledged RV ends cleanly at timeoutSeconds"
assert_contains "$OUT" '"after-restart"' "watch from the last acknowledged RV replays the later write"
assert_not_contains "$OUT" "\"wa-1\"" "watch does not replay writes at or before its RV"

echo "== graceful stop and restart"
pid=$E2E_SERVER_PID
start=$SECONDS
kill -TERM "$pid"
deadline=$((SECONDS + 15))
while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  fail "server still running 15s after SIGTERM"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null
else
  wait "$pid"
  status=$?
  assert_eq 0 "$status" "server exits 0 after SIGTERM (took $((SECONDS - start))s)"
fi
E2E_SERVER_PID=""
e2e_start_server
run_ok "data survives a graceful restart" kubectl get cm after-restart -o jsonpath='{.data.a}'
assert_eq b "$OUT" "after-restart data"
run_ok "count after graceful restart" kubectl get cm -o name
survivors=$(grep -c '^configmap/w[ab]-' <<<"$OUT")
if ((survivors >= n_acked)); then pass "all acknowledged writes still there ($survivors)"; else fail "$survivors < $n_acked after graceful restart"; fi

e2e_finish
