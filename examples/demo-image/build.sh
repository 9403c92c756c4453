#!/bin/sh
# Builds the demo image (default tag orchestry-demo:latest) with nothing pulled: the only
# binary is a static busybox, taken from $BUSYBOX, from this machine, or (when Docker can
# pull) from the busybox:musl image, which always matches the engine's architecture.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tag=${1:-orchestry-demo:latest}

is_static() {
  [ -x "$1" ] || return 1
  # ldd fails on a static binary; a dynamic busybox would not run in a FROM scratch image.
  ! ldd "$1" >/dev/null 2>&1
}

if [ -n "${BUSYBOX:-}" ]; then
  is_static "$BUSYBOX" || { echo "BUSYBOX=$BUSYBOX is not a static executable" >&2; exit 1; }
  cp "$BUSYBOX" "$here/busybox"
elif found=$(command -v busybox) && is_static "$found"; then
  cp "$found" "$here/busybox"
elif docker run --rm busybox:musl cat /bin/busybox > "$here/busybox.tmp" 2>/dev/null; then
  mv "$here/busybox.tmp" "$here/busybox"
else
  rm -f "$here/busybox.tmp"
  echo "No static busybox found. Install one (Debian/Ubuntu: apt-get install busybox-static)," >&2
  echo "or set BUSYBOX=/path/to/static/busybox, or let Docker pull busybox:musl." >&2
  exit 1
fi
chmod 755 "$here/busybox"

docker build -t "$tag" "$here"
echo "built $tag"
