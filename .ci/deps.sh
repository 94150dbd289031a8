#!/bin/bash
# Install the Debian packages vlab needs to build, test and build its guest.
# Idempotent and quick when everything is present; `make deps` runs it.
set -euo pipefail
pkgs=(
	gcc make pkg-config            # the VMM
	check libfdt-dev device-tree-compiler  # unit tests, device-state format
	flex bison bc libelf-dev libssl-dev cpio xz-utils rsync  # guest kernel
	clang libclang-rt-14-dev       # fuzz targets (libFuzzer, ASan, UBSan)
	tshark                         # packet captures read back in tests
	dpdk-dev librte-net-vhost23    # dpdk-testpmd and its vhost PMD: the vhost-user backend in tests
	libsdl2-dev                    # vlab-dash, the dashboard (never the VMM)
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
