#!/usr/bin/env bash
# `berth image`: pack a directory into an image, list it, import a
# docker-archive made by hand, refuse a corrupt one, pull from a local
# registry on 127.0.0.1, remove them all.
source "$(dirname "$0")/lib.sh"

ROOT="$E2E_TMP/images"
SRC="$E2E_TMP/rootfs"
mkdir -p "$SRC/bin" "$SRC/etc"
cp /usr/bin/busybox "$SRC/bin/busybox"
ln -s busybox "$SRC/bin/sh"
echo "hello from the image" > "$SRC/etc/greeting"

run "$BERTH_BIN" image --root "$ROOT" pack "$SRC" --tag e2e/busybox:1 --env GREETING=hi -- /bin/sh -c 'cat /etc/greeting'
assert_eq "0" "$RC" "pack succeeds"
assert_contains "$OUT" "docker.io/e2e/busybox:1" "pack prints the normalized name"

run "$BERTH_BIN" image --root "$ROOT" ls
assert_eq "0" "$RC" "ls succeeds"
assert_contains "$OUT" "docker.io/e2e/busybox:1" "ls lists the packed image"

# A docker-archive (docker save layout) built by hand from one layer.
ARC="$E2E_TMP/archive"
mkdir -p "$ARC/layer"
tar -C "$SRC" -cf "$ARC/layer/layer.tar" .
DIFF=$(sha256sum "$ARC/layer/layer.tar" | cut -d' ' -f1)
cat > "$ARC/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:$DIFF"]}}
JSON
CFG=$(sha256sum "$ARC/config.json" | cut -d' ' -f1)
mv "$ARC/config.json" "$ARC/$CFG.json"
cat > "$ARC/manifest.json" <<JSON
[{"Config":"$CFG.json","RepoTags":["e2e/imported:2"],"Layers":["layer/layer.tar"]}]
JSON
tar -C "$ARC" -cf "$E2E_TMP/image.tar" manifest.json "$CFG.json" layer/layer.tar
run "$BERTH_BIN" image --root "$ROOT" import "$E2E_TMP/image.tar"
assert_eq "0" "$RC" "import of a docker-archive succeeds"
assert_contains "$OUT" "docker.io/e2e/imported:2" "import names the image from RepoTags"
assert_contains "$OUT" "${CFG:0:12}" "the image ID is the config digest"

# A corrupt archive is refused and changes nothing.
echo "not a tarball" > "$E2E_TMP/bad.tar"
run "$BERTH_BIN" image --root "$ROOT" import "$E2E_TMP/bad.tar"
assert_eq "1" "$RC" "import of garbage fails"
run "$BERTH_BIN" image --root "$ROOT" ls
assert_eq "3" "$(printf '%s\n' "$OUT" | wc -l)" "still two images after the failed import"

# Pull from a registry on 127.0.0.1 (Debian's docker-registry), the image
# pushed there with skopeo from the same docker-archive.
if [[ -x /usr/bin/skopeo ]] && e2e_start_registry; then
  run skopeo copy --quiet --dest-tls-verify=false "docker-archive:$E2E_TMP/image.tar" \
    "docker://127.0.0.1:$REG_PORT/e2e/pushed:3"
  assert_eq "0" "$RC" "skopeo pushes the image to the local registry"
  run "$BERTH_BIN" image --root "$ROOT" pull "127.0.0.1:$REG_PORT/e2e/pushed:3"
  assert_eq "0" "$RC" "pull from the local registry succeeds"
  assert_contains "$OUT" "127.0.0.1:$REG_PORT/e2e/pushed:3" "pull prints the pulled image"
  assert_contains "$OUT" "${CFG:0:12}" "the pulled image has the pushed config"
  run "$BERTH_BIN" image --root "$ROOT" pull "127.0.0.1:$REG_PORT/e2e/missing:1"
  assert_eq "1" "$RC" "pull of a missing tag fails"
  assert_contains "$ERR" "not found" "and says not found"
  run "$BERTH_BIN" image --root "$ROOT" rm "127.0.0.1:$REG_PORT/e2e/pushed:3"
  assert_eq "0" "$RC" "rm of the pulled image succeeds"
else
  fail "docker-registry or skopeo missing (scripts/setup.sh installs them)"
fi

run "$BERTH_BIN" image --root "$ROOT" rm e2e/busybox:1 e2e/imported:2
assert_eq "0" "$RC" "rm succeeds"
run "$BERTH_BIN" image --root "$ROOT" ls
assert_eq "IMAGE	ID	SIZE" "$OUT" "nothing left after rm"
run "$BERTH_BIN" image --root "$ROOT" rm e2e/busybox:1
assert_eq "1" "$RC" "rm of a missing image fails"
assert_contains "$ERR" "not found" "and says so"
BLOBS=$(find "$ROOT/blobs" -type f 2>/dev/null | wc -l)
assert_eq "0" "$BLOBS" "no blobs left behind"

e2e_finish
