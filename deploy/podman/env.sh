# Source this file to point podman/buildah at project-local storage (.cache/podman) with
# the settings in containers.conf, so nothing touches the system's image store.
#   . deploy/podman/env.sh && podman images
_blogpod_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_blogpod_podman="$_blogpod_repo/.cache/podman"
mkdir -p "$_blogpod_podman/tmp"
cat > "$_blogpod_podman/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$_blogpod_podman/storage"
runroot = "$_blogpod_podman/run"
CONF
export CONTAINERS_CONF="$_blogpod_repo/deploy/podman/containers.conf"
export CONTAINERS_STORAGE_CONF="$_blogpod_podman/storage.conf"
export TMPDIR="$_blogpod_podman/tmp"
unset _blogpod_repo _blogpod_podman
