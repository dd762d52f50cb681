#!/usr/bin/env bash
# An arm64 sysroot for running dist/tributary-agent-linux-arm64 under qemu-user on an x64 host
# (tests and CI): the C runtime the Node binary links against (libc6, libstdc++6, libgcc-s1), taken
# from Debian's arm64 packages with apt-get download and unpacked with dpkg -x. No arm64 packages
# are installed on the host; nothing runs as arm64 except through qemu-aarch64-static -L <sysroot>.
#
#   bash deploy/arm64-sysroot.sh [dir]    # default .cache/arm64-sysroot (gitignored); prints the dir
#
# Needs: apt-get (with the arm64 architecture known to dpkg or not: -oAPT::Architecture=arm64 asks
# for arm64 packages either way), dpkg, and qemu-user-static to use the result.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/.cache/arm64-sysroot}"
if [ -e "$dir/lib/ld-linux-aarch64.so.1" ] || [ -e "$dir/usr/lib/ld-linux-aarch64.so.1" ]; then
  echo "$dir"; exit 0
fi
mkdir -p "$dir" "$dir.debs"
cd "$dir.debs"
apt_arm64=(-oAPT::Architecture=arm64 -oAPT::Architectures::=arm64 -oAPT::Architectures::=amd64)
download() {
  apt-get "${apt_arm64[@]}" download libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64
}
if ! download >&2; then
  # The package lists may not know arm64 yet: fetch them once with arm64 enabled, then retry.
  apt-get "${apt_arm64[@]}" update >&2
  download >&2
fi
for deb in ./*.deb; do dpkg -x "$deb" "$dir"; done
rm -rf "$dir.debs"
echo "$dir"
