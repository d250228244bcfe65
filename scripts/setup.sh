#!/usr/bin/env bash
# Installs every Debian package berth needs to build, run and test.
# Idempotent: packages already present are skipped quickly.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config clang-14 libclang-rt-14-dev clang-format
  # libraries
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev libyaml-dev zlib1g-dev libjemalloc-dev
  libarchive-dev libcurl4-openssl-dev
  # container runtime
  runc busybox-static containernetworking-plugins
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  python3-kubernetes python3-yaml openssl curl jq procps iproute2
  # image pull integration tests: a local registry, a pusher, htpasswd (bcrypt)
  docker-registry skopeo apache2-utils
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_get=(apt-get)
  if [ "$(id -u)" != 0 ]; then apt_get=(sudo apt-get); fi
  "${apt_get[@]}" update -qq
  "${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}"
fi

# kubectl is not a Debian package; the machines of this kind ship it in
# their image. Say so clearly when it is missing instead of failing later.
if ! command -v kubectl >/dev/null; then
  echo "setup: warning: kubectl not found on PATH; the e2e tests need it" >&2
fi
