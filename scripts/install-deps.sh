#!/usr/bin/env bash
# Installs the Debian 12 packages that the tests and benchmarks use, and checks that the .NET SDK is present.
# Idempotent: runs apt-get only when a package is missing. Quiet unless something fails. Run as root.
set -euo pipefail

# Every name below exists in Debian 12 (bookworm); checked with `apt-cache policy`.
packages=(
  docker-registry   # distribution 2.8: the registry every registry test starts on a free port
  skopeo umoci      # build and check OCI images independently of our code
  tar gzip zstd     # layer tarballs and their compressions
  pigz zlib1g       # parallel gzip (multi-block streams for the gzip index tests); libz.so.1, P/Invoked by Accelerator.Linux
  attr              # getfattr / setfattr
  apache2-utils     # htpasswd, for registry auth tests
  fuse3             # fusermount3 and the FUSE library for lazy mounts
  e2fsprogs erofs-utils squashfs-tools squashfuse  # filesystem images for block mounts
  qemu-utils libnbd-bin nbdkit                    # NBD clients and a reference server
  python3-libnbd    # nbdsh (libnbd from Python): bad NBD requests with strict mode off
  containerd runc   # run a container on a mounted rootfs
  busybox-static    # a static /bin/busybox for a container image that runs on a lazy mount
  mmdebstrap        # real Debian images for the test corpus (Accelerator.Testing/Images/DebianImageCorpus.cs)
  golang-1.19-go golang-github-containerd-stargz-snapshotter-dev  # the reference eStargz producer (Accelerator.Testing/Images/Estargz)
  golang-github-containers-storage-dev  # containers/storage sources: the zstd:chunked manifest rules (docs/formats/seekable.md)
  fio               # I/O benchmarks
  iproute2 util-linux jq hyperfine python3
)

log=$(mktemp)
cleanup() { rm -f "$log"; }
trap cleanup EXIT

fail() {
  echo "install-deps: $*" >&2
  if [[ -s $log ]]; then cat "$log" >&2; fi
  exit 1
}

if [[ $(id -u) -ne 0 ]]; then
  fail "must run as root (it installs Debian packages)"
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  # Keep package scripts from starting services (docker-registry would listen on :5000, containerd on its
  # default socket); the tests start their own instances. policy-rc.d exit code 101 means "action forbidden".
  created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  rc=0
  {
    apt-get update -qq &&
      apt-get install -y -qq --no-install-recommends "${missing[@]}"
  } >"$log" 2>&1 || rc=$?
  if ((created_policy)); then rm -f /usr/sbin/policy-rc.d; fi
  ((rc == 0)) || fail "apt-get install ${missing[*]} failed (exit $rc)"
fi

# Make sure no system docker-registry service holds port 5000 (under systemd or sysvinit alike).
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
elif [[ -x /etc/init.d/docker-registry ]]; then
  /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
  update-rc.d docker-registry disable >/dev/null 2>&1 || true
fi

# The .NET SDK is not a Debian package; these machines have it preinstalled.
if ! command -v dotnet >/dev/null 2>&1; then
  fail "the .NET SDK is not installed (dotnet not found on PATH); install the .NET 10 SDK"
fi
if ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
  fail "the .NET 10 SDK is missing (found: $(dotnet --list-sdks 2>/dev/null | tr '\n' ' '))"
fi
