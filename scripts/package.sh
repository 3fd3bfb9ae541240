#!/usr/bin/env bash
# `make package`: the deployable artifacts, in .local/dist/ (docs/deploy.md; .local/ is git-ignored).
#   bin/x86_64/{sendops-ingest,sendops-api,sendops-admin}  release builds, debug info stripped
#   sendops-ingest-lambda-x86_64.zip   `bootstrap` for the provided.al2023 Lambda runtime
#   oci/                                     OCI image layout, tags `api` and `poller`, built offline
#                                            with umoci from this machine's Debian packages
#   SIZES.txt                                sizes and sha256 of all of the above
#
# Usage: scripts/package.sh [--no-build] [--no-images]
#   --no-build   package the binaries already in $CARGO_TARGET_DIR/release (no cargo call)
#   --no-images  only the binaries and the Lambda zip (no umoci)
# Env: CARGO_TARGET_DIR (default ~/.cache/sendops/target), SENDOPS_DIST (default .local/dist in the repo)
#
# arm64: built too when the aarch64-unknown-linux-gnu Rust target and an aarch64 linker are
# installed (rustup target add aarch64-unknown-linux-gnu; apt-get install gcc-aarch64-linux-gnu);
# otherwise skipped with a note, and the templates default to x86_64.
#
# glibc: Lambda's provided.al2023 has glibc 2.34. The binaries are linked on this machine
# (Debian bookworm, glibc 2.36) but must not need a symbol version above 2.34; this script checks
# every binary with objdump and fails if one does.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dist=${SENDOPS_DIST:-$root/.local/dist}
bins=(sendops-ingest sendops-api sendops-admin)
max_glibc=2.34
build=1
images=1
for a in "$@"; do
  case $a in
    --no-build) build=0 ;;
    --no-images) images=0 ;;
    *) echo "usage: $0 [--no-build] [--no-images]" >&2; exit 2 ;;
  esac
done

log() { printf 'package: %s\n' "$*" >&2; }

# ---- binaries --------------------------------------------------------------------------------
archs=(x86_64)
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
  && command -v aarch64-linux-gnu-gcc >/dev/null; then
  archs+=(arm64)
else
  log "arm64: skipped (no aarch64-unknown-linux-gnu target and linker here); x86_64 only"
fi

release_dir() {
  case $1 in
    x86_64) echo "$CARGO_TARGET_DIR/release" ;;
    arm64) echo "$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/release" ;;
  esac
}

bin_args=()
for b in "${bins[@]}"; do bin_args+=(--bin "$b"); done
if [ "$build" = 1 ]; then
  log "cargo build --release (x86_64)"
  cargo build --release --locked "${bin_args[@]}"
  if [[ " ${archs[*]} " == *" arm64 "* ]]; then
    log "cargo build --release (arm64)"
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
      cargo build --release --locked --target aarch64-unknown-linux-gnu "${bin_args[@]}"
  fi
fi

# Only what this script makes (SENDOPS_DIST may point anywhere).
rm -rf "$dist/bin" "$dist/oci" "$dist"/sendops-ingest-lambda-*.zip "$dist/SIZES.txt" "$dist/oci-packages.txt"
mkdir -p "$dist"
for arch in "${archs[@]}"; do
  src=$(release_dir "$arch")
  mkdir -p "$dist/bin/$arch"
  for b in "${bins[@]}"; do
    [ -x "$src/$b" ] || { log "missing $src/$b (run without --no-build)"; exit 1; }
    strip_tool=strip
    [ "$arch" = arm64 ] && strip_tool=aarch64-linux-gnu-strip
    "$strip_tool" --strip-debug -o "$dist/bin/$arch/$b" "$src/$b"
    # Highest GLIBC_x.y symbol version the binary needs.
    need=$(objdump -T "$dist/bin/$arch/$b" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
    if [ "$(printf '%s\n%s\n' "$need" "$max_glibc" | sort -V | tail -n 1)" != "$max_glibc" ]; then
      log "$arch/$b needs GLIBC_$need > $max_glibc (Amazon Linux 2023): it would not start on provided.al2023"
      exit 1
    fi
    log "$arch/$b: needs glibc <= $need (provided.al2023 has $max_glibc)"
  done
done

# ---- Lambda zip ------------------------------------------------------------------------------
for arch in "${archs[@]}"; do
  zip="$dist/sendops-ingest-lambda-$arch.zip"
  # One entry, `bootstrap`, mode 0755, fixed timestamp: the same binary gives the same zip.
  python3 - "$dist/bin/$arch/sendops-ingest" "$zip" <<'PY'
import sys, zipfile
src, out = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 << 16)
info.create_system = 3  # unix, so the mode bits are honoured
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(out, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY
  log "$(basename "$zip"): $(stat -c %s "$zip") bytes"
done

# ---- container images (offline) --------------------------------------------------------------
# A rootfs per image: the binaries, the shared libraries they load (ldd), bash for the health
# check, CA certificates (rustls-native-certs reads /etc/ssl/certs), /etc/passwd with uid 10001,
# /tmp. Every file comes from an installed Debian package; oci-packages.txt lists them.
add_file() { # rootfs src [dest]: copy src (to dest, default the same path) and its shared libraries
  local rootfs=$1 src=$2 dest=${3:-$2} lib
  mkdir -p "$rootfs$(dirname "$dest")"
  cp -L "$src" "$rootfs$dest"
  for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
    [ -e "$rootfs$lib" ] && continue
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
}

make_rootfs() { # rootfs: the common base
  local rootfs=$1
  mkdir -p "$rootfs"/{etc/ssl/certs,tmp,usr/local/bin,bin,nonexistent}
  chmod 1777 "$rootfs/tmp"
  add_file "$rootfs" /bin/bash
  cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nsendops:x:10001:10001:sendops:/nonexistent:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nsendops:x:10001:\n' >"$rootfs/etc/group"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
}

ensure_umoci() {
  command -v umoci >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian's umoci"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq umoci >&2 \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq umoci >&2; }
  fi
  command -v umoci >/dev/null || { log "umoci is required for the images (apt-get install umoci), or pass --no-images"; exit 1; }
}

if [ "$images" = 1 ]; then
  [ -f /etc/ssl/certs/ca-certificates.crt ] || { log "no /etc/ssl/certs/ca-certificates.crt (apt-get install ca-certificates)"; exit 1; }
  ensure_umoci
  work=$(mktemp -d "${TMPDIR:-/tmp}/sendops-package.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  layout="$dist/oci"
  umoci init --layout "$layout"
  bindir="$dist/bin/x86_64"

  build_image() { # tag rootfs-populate-function umoci-config-args...
    local tag=$1 populate=$2; shift 2
    local bundle="$work/bundle-$tag"
    umoci new --image "$layout:$tag"
    umoci unpack --image "$layout:$tag" "$bundle" >/dev/null
    make_rootfs "$bundle/rootfs"
    "$populate" "$bundle/rootfs"
    umoci repack --image "$layout:$tag" "$bundle"
    umoci config --image "$layout:$tag" \
      --os linux --architecture amd64 \
      --config.user 10001:10001 --config.workingdir / \
      --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.env RUST_LOG=info \
      --author "SendOps scripts/package.sh" "$@"
  }
  populate_api() {
    add_file "$1" "$bindir/sendops-api" /usr/local/bin/sendops-api
    add_file "$1" "$bindir/sendops-admin" /usr/local/bin/sendops-admin
    install -m 0755 infra/docker/healthcheck "$1/usr/local/bin/healthcheck"
  }
  populate_poller() {
    add_file "$1" "$bindir/sendops-ingest" /usr/local/bin/sendops-ingest
  }
  # The OCI image spec has no HEALTHCHECK (a Docker extension umoci cannot set): the ECS task
  # definition declares the same /usr/local/bin/healthcheck, and the Dockerfile sets it.
  build_image api populate_api \
    --config.env SENDOPS_API_ADDR=0.0.0.0:8080 --config.exposedports 8080/tcp \
    --config.cmd sendops-api
  build_image poller populate_poller \
    --config.entrypoint sendops-ingest --config.cmd poll
  umoci gc --layout "$layout"

  # Which Debian packages the image files came from (provenance).
  for tag in api poller; do
    rootfs_list=$(cd "$work/bundle-$tag/rootfs" && find . -type f ! -path './usr/local/bin/*' ! -path './etc/passwd' ! -path './etc/group' ! -path './etc/nsswitch.conf' | sed 's|^\.||')
    for f in $rootfs_list; do
      case $f in
        # Generated by update-ca-certificates from the ca-certificates package.
        /etc/ssl/certs/ca-certificates.crt) echo "ca-certificates: $f" ;;
        *) dpkg -S "$f" 2>/dev/null | head -n 1 || echo "unknown: $f" ;;
      esac
    done
  done | cut -d: -f1 | sort -u | while read -r p; do
    echo "$p $(dpkg-query -W -f '${Version}' "$p" 2>/dev/null)"
  done >"$dist/oci-packages.txt"
fi

# ---- sizes -----------------------------------------------------------------------------------
{
  echo "# scripts/package.sh, $(date -u +%FT%TZ), $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  for arch in "${archs[@]}"; do
    for b in "${bins[@]}"; do
      f="$dist/bin/$arch/$b"
      echo "bin/$arch/$b $(stat -c %s "$f") bytes (unstripped $(stat -c %s "$(release_dir "$arch")/$b"))"
    done
    z="$dist/sendops-ingest-lambda-$arch.zip"
    echo "sendops-ingest-lambda-$arch.zip $(stat -c %s "$z") bytes sha256 $(sha256sum "$z" | cut -d' ' -f1)"
  done
  if [ "$images" = 1 ]; then
    for tag in api poller; do
      manifest=$(python3 - "$dist/oci" "$tag" <<'PY'
import json, sys, os
layout, tag = sys.argv[1], sys.argv[2]
index = json.load(open(os.path.join(layout, "index.json")))
[m] = [m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
alg, digest = m["digest"].split(":")
man = json.load(open(os.path.join(layout, "blobs", alg, digest)))
print(sum(l["size"] for l in man["layers"]))
PY
)
      unpacked=$(du -sb "$work/bundle-$tag/rootfs" | cut -f1)
      echo "oci:$tag compressed layers $manifest bytes, unpacked rootfs $unpacked bytes"
    done
  fi
} >"$dist/SIZES.txt"
cat "$dist/SIZES.txt" >&2
log "done: $dist"
