#!/usr/bin/env bash
# A stand-in for the python:3.11-slim base image, made from Debian's own packages: for a machine that
# reaches Debian's mirror but no container registry, where `docker build` cannot pull its base. Debian 12
# (bookworm) ships Python 3.11; debootstrap installs it with venv and the CA certificates into a folder,
# which the container engine imports as a local image. Prints the image's name.
#
#   make image-check CONTAINER=podman PYTHON_IMAGE="$(tools/debian_python_image.sh)"
set -euo pipefail

tag="${1:-localhost/shipyard-base:bookworm-python3.11}"
engine="${CONTAINER:-podman}"
command -v debootstrap >/dev/null || { apt-get update -q && apt-get install -y -q debootstrap; } >&2

root="$(mktemp -d)"
archive="$(mktemp --suffix .tar)"
trap 'rm -rf "$root" "$archive"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" >&2
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -cf "$archive" .
"$engine" import --change 'CMD ["python3"]' "$archive" "$tag" >&2
echo "$tag"
