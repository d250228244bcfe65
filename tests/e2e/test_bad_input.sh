#!/usr/bin/env bash
# Hostile and malformed requests over raw HTTPS (curl with the admin token):
# each is answered with a Status of the right code and reason, and nothing
# is stored. Authentication: no credentials -> 401; health and version
# endpoints are anonymous.
source "$(dirname "$0")/lib.sh"
e2e_start_server

CM=/api/v1/namespaces/default/configmaps

# check_status CODE REASON WHAT: the last api call answered a Failure Status.
check_status() {
  local code=$1 reason=$2 what=$3
  assert_eq "$code" "$HTTP_CODE" "$what: HTTP $code"
  assert_eq "Status|v1|Failure|$code|$reason" \
    "$(jget "$BODY" '[.kind, .apiVersion, .status, (.code|tostring), .reason]|join("|")')" \
    "$what: Status body {kind Status, status Failure, code $code, reason $reason}"
}

names() { kubectl get cm -o jsonpath='{range .items[*]}{.metadata.name}{" "}{end}'; }
wait_for 30 "kube-root-ca.crt present (baseline)" kubectl get cm kube-root-ca.crt
baseline=$(names)

echo "== malformed bodies"
api POST $CM -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad-json"'
check_status 400 BadRequest "truncated JSON"
api POST $CM -H 'Content-Type: application/json' --data-binary 'not json at all'
check_status 400 BadRequest "garbage JSON"
api POST $CM -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":5}}'
check_status 400 BadRequest "wrong JSON type for metadata.name"
api POST $CM -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":'"$(printf '[%.0s' {1..20000})"
check_status 400 BadRequest "deeply nested JSON"
api POST $CM -H 'Content-Type: application/yaml' --data-binary $'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad-yaml\n  data: : [x'
check_status 400 BadRequest "malformed YAML"
api POST $CM -H 'Content-Type: application/yaml' --data-binary $'a: &x [*x, *x]\n'
if [[ "$HTTP_CODE" =~ ^4 ]]; then pass "recursive YAML alias rejected ($HTTP_CODE)"; else fail "recursive YAML alias: HTTP $HTTP_CODE $BODY"; fi
proto=$(e2e_file junk.pb)
printf 'k8s\x00\xff\xff\xff\xff\x0fjunkjunk' >"$proto"
api POST $CM -H 'Content-Type: application/vnd.kubernetes.protobuf' --data-binary "@$proto"
check_status 400 BadRequest "malformed protobuf"
printf 'k8s\x00' >"$proto"
api POST $CM -H 'Content-Type: application/vnd.kubernetes.protobuf' --data-binary "@$proto"
check_status 400 BadRequest "empty protobuf envelope"
printf 'xyz\x00\x0a\x02\x0a\x00' >"$proto"
api POST $CM -H 'Content-Type: application/vnd.kubernetes.protobuf' --data-binary "@$proto"
check_status 400 BadRequest "protobuf without the k8s magic"
# runtime.Unknown whose raw bytes claim a length past the end of the buffer.
printf 'k8s\x00\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x7f\x0a\x05' >"$proto"
api POST $CM -H 'Content-Type: application/vnd.kubernetes.protobuf' --data-binary "@$proto"
check_status 400 BadRequest "protobuf length past the end"
api POST $CM -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"wrong-kind"}}'
check_status 400 BadRequest "body of another kind"

echo "== size limits"
big=$(e2e_file big.json)
/usr/bin/python3 -c 'import json,sys; json.dump({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"too-big"},"data":{"k":"x"*(3*1024*1024+4096)}}, open(sys.argv[1],"w"))' "$big"
api POST $CM -H 'Content-Type: application/json' --data-binary "@$big"
check_status 413 RequestEntityTooLarge "body over 3 MiB"
/usr/bin/python3 -c 'import json,sys; json.dump({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"over-1mib"},"data":{"k":"x"*(1024*1024+10)}}, open(sys.argv[1],"w"))' "$big"
api POST $CM -H 'Content-Type: application/json' --data-binary "@$big"
check_status 422 Invalid "configmap data over 1 MiB"

echo "== validation"
api POST $CM -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Invalid_Name"}}'
check_status 422 Invalid "invalid name"
assert_eq "metadata.name" "$(jget "$BODY" '.details.causes[0].field')" "cause field metadata.name"
assert_eq "FieldValueInvalid" "$(jget "$BODY" '.details.causes[0].reason')" "cause reason FieldValueInvalid"
assert_eq "ConfigMap" "$(jget "$BODY" .details.kind)" "details.kind"
assert_eq "Invalid_Name" "$(jget "$BODY" .details.name)" "details.name"
api POST $CM -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}'
check_status 422 Invalid "missing name"
api POST $CM -H 'Content-Type: application/json' --data-binary "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$(printf 'a%.0s' {1..300})\"}}"
check_status 422 Invalid "name longer than 253"
api POST $CM -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ns-mismatch","namespace":"kube-system"}}'
check_status 400 BadRequest "body namespace differs from the URL"
api POST /api/v1/namespaces/Bad_NS/configmaps -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}'
if [[ "$HTTP_CODE" == 404 || "$HTTP_CODE" == 422 || "$HTTP_CODE" == 400 ]]; then pass "invalid namespace in the path rejected ($HTTP_CODE)"; else fail "invalid namespace in path: HTTP $HTTP_CODE"; fi

echo "== routing"
api GET /api/v1/namespaces/default/bogusresources
check_status 404 NotFound "unknown resource"
api GET /apis/apps/v9/deployments
check_status 404 NotFound "unknown version"
api GET /apis/nosuchgroup.example/v1/things
check_status 404 NotFound "unknown group"
api POST /api/v1/namespaces/default/bogusresources -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"Bogus","metadata":{"name":"x"}}'
check_status 404 NotFound "create of an unknown resource"
api GET $CM/does-not-exist
check_status 404 NotFound "missing object"
assert_eq "does-not-exist" "$(jget "$BODY" .details.name)" "404 details.name"
assert_eq "configmaps" "$(jget "$BODY" .details.kind)" "404 details.kind (resource)"
api POST $CM/some-name -H 'Content-Type: application/json' --data-binary '{}'
check_status 405 MethodNotAllowed "POST on an object path"
api GET "$CM?labelSelector=a%20b%20c"
check_status 400 BadRequest "unparsable label selector"
api GET "$CM?fieldSelector=spec.unknown%3Dx"
check_status 400 BadRequest "unsupported field selector"

echo "== content types"
api POST $CM -H 'Content-Type: text/plain' --data-binary 'hello'
check_status 415 UnsupportedMediaType "text/plain body"
api POST $CM -H 'Content-Type: application/xml' --data-binary '<a/>'
check_status 415 UnsupportedMediaType "xml body"
api PATCH $CM/kube-root-ca.crt -H 'Content-Type: application/json' --data-binary '{"data":{}}'
check_status 415 UnsupportedMediaType "PATCH with plain application/json"

echo "== conflicts"
api POST $CM -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"rv-test"},"data":{"a":"1"}}'
assert_eq 201 "$HTTP_CODE" "create rv-test: 201"
rv1=$(jget "$BODY" .metadata.resourceVersion)
api PUT $CM/rv-test -H 'Content-Type: application/json' --data-binary "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"rv-test\",\"resourceVersion\":\"$rv1\"},\"data\":{\"a\":\"2\"}}"
assert_eq 200 "$HTTP_CODE" "update with the current resourceVersion: 200"
api PUT $CM/rv-test -H 'Content-Type: application/json' --data-binary "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"rv-test\",\"resourceVersion\":\"$rv1\"},\"data\":{\"a\":\"3\"}}"
check_status 409 Conflict "PUT with a stale resourceVersion"
api PATCH $CM/rv-test -H 'Content-Type: application/merge-patch+json' --data-binary "{\"metadata\":{\"resourceVersion\":\"$rv1\"},\"data\":{\"a\":\"4\"}}"
check_status 409 Conflict "PATCH carrying a stale resourceVersion"
api POST $CM -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"rv-test"}}'
check_status 409 AlreadyExists "create of an existing name"
api PUT $CM/rv-test -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other-name"},"data":{"a":"5"}}'
check_status 400 BadRequest "PUT body name differs from the URL"
api DELETE $CM/rv-test -H 'Content-Type: application/json' --data-binary '{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"00000000-0000-0000-0000-000000000000"}}'
check_status 409 Conflict "DELETE with a wrong uid precondition"
api PATCH $CM/rv-test -H 'Content-Type: application/json-patch+json' --data-binary '[{"op":"bogus","path":"/data"}]'
if [[ "$HTTP_CODE" == 400 || "$HTTP_CODE" == 422 ]]; then pass "invalid JSON patch op rejected ($HTTP_CODE)"; else fail "invalid JSON patch op: HTTP $HTTP_CODE $BODY"; fi
api GET $CM/rv-test
assert_eq 2 "$(jget "$BODY" .data.a)" "rv-test unchanged by the rejected writes"

echo "== nothing stored by rejected requests"
after=$(names)
expected=$(tr ' ' '\n' <<<"$baseline rv-test" | sed '/^$/d' | sort | tr '\n' ' ')
actual=$(tr ' ' '\n' <<<"$after" | sed '/^$/d' | sort | tr '\n' ' ')
assert_eq "$expected" "$actual" "configmaps after the bad requests = baseline + rv-test"
run kubectl get cm -A -o name
assert_not_contains "$OUT" "bad-" "no bad-* objects anywhere"
assert_not_contains "$OUT" "too-big" "no too-big object"
assert_not_contains "$OUT" "wrong-kind" "no wrong-kind object"
run kubectl get secrets -o name
assert_not_contains "$OUT" "wrong-kind" "no secret from the wrong-kind body"

echo "== authentication"
api_anon GET /api/v1/namespaces
check_status 401 Unauthorized "no credentials"
api_anon GET /api/v1/namespaces -H 'Authorization: Bearer wrong-token'
check_status 401 Unauthorized "wrong token"
api_anon POST $CM -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"anon-write"}}'
check_status 401 Unauthorized "anonymous write"
for path in /healthz /livez /readyz /version; do
  api_anon GET $path
  assert_eq 200 "$HTTP_CODE" "$path anonymous: 200"
done
api_anon GET '/readyz?verbose'
assert_eq 200 "$HTTP_CODE" "/readyz?verbose anonymous: 200"
run kubectl get cm anon-write
assert_fails_with 1 'not found' kubectl get cm anon-write

e2e_finish
