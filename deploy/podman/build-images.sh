#!/usr/bin/env bash
# Build the Pod's images with Podman from deploy/images/*/Dockerfile on the local
# bookworm-minbase (see build-base-image.sh), into the project-local storage.
#   deploy/podman/build-images.sh [web|agent|skills ...]    (default: all three)
# Tags: localhost/blogpod-<name>:dev
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/podman/env.sh
BASE_IMAGE="${BASE_IMAGE:-localhost/bookworm-minbase:latest}"
TAG="${TAG:-dev}"
# The host's CA bundle as a build secret: pip and curl inside the build trust what the host
# trusts (needed behind a TLS-intercepting proxy; harmless otherwise).
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
secret=()
[ -s "$CA_BUNDLE" ] && secret=(--secret "id=ca-certificates,src=$CA_BUNDLE")
deploy/podman/build-base-image.sh
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(skills agent web)
for name in "${names[@]}"; do
  echo ">> building localhost/blogpod-$name:$TAG"
  podman build --network=host --layers \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" "${secret[@]}" \
    --build-arg "REVISION=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    -f "deploy/images/$name/Dockerfile" -t "localhost/blogpod-$name:$TAG" .
done
