# Multi-arch images for users with a Docker engine (buildx):
#   docker buildx bake --push                       # every image, linux/amd64 + linux/arm64
#   REGISTRY=ghcr.io/me TAG=0.1.0 docker buildx bake --push agent
# Run from the repository root (the build context is the repository; see .dockerignore).

variable "REGISTRY" {
  default = "ghcr.io/blogpod"
}

variable "TAG" {
  default = "0.1.0"
}

variable "REVISION" {
  default = "unknown"
}

variable "BASE_IMAGE" {
  default = "docker.io/library/debian:bookworm-20251229-slim"
}

group "default" {
  targets = ["web", "agent", "skills"]
}

# With the optional local model image (overlays/local-model).
group "all" {
  targets = ["web", "agent", "skills", "llm"]
}

target "_common" {
  context   = "."
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE = BASE_IMAGE
    VERSION    = TAG
    REVISION   = REVISION
  }
}

target "web" {
  inherits   = ["_common"]
  dockerfile = "deploy/images/web/Dockerfile"
  tags       = ["${REGISTRY}/blogpod-web:${TAG}"]
}

target "agent" {
  inherits   = ["_common"]
  dockerfile = "deploy/images/agent/Dockerfile"
  tags       = ["${REGISTRY}/blogpod-agent:${TAG}"]
}

target "skills" {
  inherits   = ["_common"]
  dockerfile = "deploy/images/skills/Dockerfile"
  tags       = ["${REGISTRY}/blogpod-skills:${TAG}"]
}

target "llm" {
  inherits   = ["_common"]
  dockerfile = "deploy/images/llm/Dockerfile"
  tags       = ["${REGISTRY}/blogpod-llm:${TAG}"]
}
