#!/usr/bin/env bash
# Installs what the shim's demo and test suite run against on Debian 12: a real node
# (containerd with its CRI plugin, runc), a real OCI registry, skopeo to cross-check it,
# busybox-static for the test image, openssl and htpasswd for the registry's TLS and auth tests,
# and podman, whose Docker-compatible API the tests start so that testcontainers runs the registry
# in a container (runc runs it; the CNI plugins and iptables publish a container's port).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (containerd and the seccomp checks need it)" >&2
  exit 1
fi
packages=(containerd runc docker-registry skopeo busybox-static openssl apache2-utils ca-certificates podman containernetworking-plugins iptables)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# A distribution package may start its own containerd or registry; the tests start their own
# on private sockets and free ports and never talk to these.
