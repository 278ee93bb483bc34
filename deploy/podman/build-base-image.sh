#!/usr/bin/env bash
# Build localhost/bookworm-minbase: a Debian 12 minbase root filesystem made with debootstrap
# from the Debian mirror apt already uses, imported into the project-local Podman storage.
# It stands in for debian:bookworm-slim (the images' default base) where no container
# registry can be reached. Idempotent: does nothing when the image exists.
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/podman/env.sh
IMAGE="${BASE_IMAGE_NAME:-localhost/bookworm-minbase:latest}"
if podman image exists "$IMAGE"; then
  echo "$IMAGE already built"
  exit 0
fi
mirror="$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)"
mirror="${DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}"
rootfs="$(mktemp -d "$TMPDIR/rootfs.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT
echo ">> debootstrap bookworm minbase from $mirror"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$TMPDIR/debootstrap.log" 2>&1 \
  || { tail -n 40 "$TMPDIR/debootstrap.log"; exit 1; }
# Like the official slim image: no apt caches or docs in the base.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/*
tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$IMAGE"
echo ">> built $IMAGE"
