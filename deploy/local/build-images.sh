#!/usr/bin/env bash
# Local stand-ins for the public redis:7 and nginx:1.27 images, for machines that reach no container
# registry (CI here): Debian 12's redis-server and nginx, downloaded as .deb files on the host with
# `apt-get download` (the exact set `apt-get install` would add to the base image, resolved against
# the base image's own dpkg status) and installed in the image with dpkg -i, so the build reaches no
# network. Also builds the sandbox image (`harness image build`) unless SKIP_SANDBOX=1.
#
#   bash deploy/local/build-images.sh [BASE_IMAGE]     # default: $BASE_IMAGE, else harness-base:bookworm
#
# Tags: harness-local-redis:bookworm, harness-local-nginx:bookworm (used by docker-compose.local.yml)
# and connector-harness:0.1.0. The host must be Debian 12 (its apt lists match the base image).
# PYTHON: the Python with the harness's build dependencies (default: the project's .venv, else python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
base=${1:-${BASE_IMAGE:-harness-base:bookworm}}
python=${PYTHON:-$([ -x "$root/.venv/bin/python" ] && echo "$root/.venv/bin/python" || echo python3)}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
docker run --rm "$base" cat /var/lib/dpkg/status > "$work/status"

# stand_in NAME PACKAGE: build harness-local-NAME:bookworm from $here/NAME.Dockerfile with PACKAGE's debs
stand_in() {
  local name=$1 package=$2 ctx="$work/$1"
  mkdir -p "$ctx/debs"; chmod 777 "$ctx/debs"  # apt-get download runs as _apt
  local wanted
  wanted=$(apt-get -s -o Dir::State::status="$work/status" install --no-install-recommends "$package" \
    | awk '/^Inst /{print $2 "=" substr($3, 2)}')
  [ -n "$wanted" ] || { echo "build-images: apt resolved nothing for $package" >&2; return 1; }
  echo "build-images: $name: $(echo $wanted | tr '\n' ' ')" >&2
  (cd "$ctx/debs" && apt-get download $wanted >/dev/null)
  cp "$here/$name.Dockerfile" "$ctx/Dockerfile"
  cp "$here"/*-entrypoint.sh "$ctx/" 2>/dev/null || true
  docker build --network none --quiet --build-arg BASE_IMAGE="$base" -t "harness-local-$name:bookworm" "$ctx"
}

SECONDS=0
stand_in redis redis-server
stand_in nginx nginx
echo "build-images: stand-ins built in ${SECONDS}s" >&2
if [ "${SKIP_SANDBOX:-0}" != 1 ]; then
  SECONDS=0
  (cd "$root" && PYTHONPATH="$root" "$python" -m harness.cli image build --base-image "$base")
  echo "build-images: sandbox image built in ${SECONDS}s" >&2
fi
