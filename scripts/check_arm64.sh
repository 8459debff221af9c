#!/usr/bin/env bash
# Run edgekit's inference path on arm64 without a Pi: an arm64 Debian root built from Debian's
# packages (debootstrap) and run under qemu user emulation (qemu-user-static, binfmt_misc),
# edgekit installed there from the aarch64 wheels on PyPI; every variant of a bundle runs on the
# same reference captures there and on this host, and the outputs are compared.
#
#   sudo scripts/check_arm64.sh [BUNDLE]      # default: out/rfclass-cnn/bundle if built, else
#                                            # the reference CNN and tree model as a bundle
#
# Environment: EDGEKIT_ARM64_ROOT (default ~/.cache/edgekit/arm64-bookworm; reused across runs),
# EDGEKIT_ARM64_N (captures, default 200). Exit 0 when every variant's top label agrees on every
# capture (the largest output difference is printed too), 1 when not, 2 on a setup error.
# Slow (a first run downloads and configures a Debian root: minutes); not part of CI.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
root="${EDGEKIT_ARM64_ROOT:-$HOME/.cache/edgekit/arm64-bookworm}"
n="${EDGEKIT_ARM64_N:-200}"
suite=bookworm
mirror=http://deb.debian.org/debian
marker="$root/.edgekit-arm64-root"
py="$repo/.venv/bin/python"
die() { echo "check_arm64.sh: $*" >&2; exit 2; }

[[ $EUID -eq 0 ]] || die "run as root (debootstrap and chroot need it)"
[[ -x "$py" ]] || die "no $py: create the project's venv first (scripts/test.sh)"

# 1. tools, from Debian's packages
need=()
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
if (( ${#need[@]} )); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# 2. binfmt_misc: lets the kernel run arm64 binaries through qemu (chroot, debootstrap's second
#    stage). Without it, python is run explicitly through qemu-aarch64-static -L ROOT (no chroot).
binfmt=1
if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || binfmt=0
fi
if (( binfmt )); then
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || binfmt=0
fi
echo "check_arm64.sh: binfmt_misc $([[ $binfmt == 1 ]] && echo registered || echo 'not available: explicit qemu')"

# 3. the arm64 Debian root (ours only if it carries our marker)
if [[ ! -e "$marker" ]]; then
  if [[ -e "$root" && -n "$(ls -A "$root" 2>/dev/null)" ]]; then
    die "$root exists and is not a root made by this script; set EDGEKIT_ARM64_ROOT elsewhere"
  fi
  mkdir -p "$root"
  if (( binfmt )); then
    debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,ca-certificates \
      "$suite" "$root" "$mirror"
  else
    # first stage only (download + unpack), then unpack python's packages by hand
    debootstrap --arch=arm64 --variant=minbase --foreign \
      --include=python3,python3-venv,ca-certificates "$suite" "$root" "$mirror"
    for deb in "$root"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$root"; done
  fi
  touch "$marker"
fi

# 4. edgekit and its aarch64 wheels: downloaded by this host's pip (the same wheels a Pi gets
#    from PyPI), installed by the arm64 pip from that folder only
#    (ai-edge-litert 2.x's aarch64 wheels carry newer manylinux tags: list them all up to
#    bookworm's glibc 2.36, or pip finds only 1.x)
wheels="$root/opt/wheels"
mkdir -p "$wheels"
plat=(--only-binary=:all: --python-version 3.11 --platform manylinux2014_aarch64)
for v in 17 24 26 27 28 31 34 35 36; do plat+=(--platform "manylinux_2_${v}_aarch64"); done
"$py" -m pip wheel --quiet --no-deps -w "$wheels" "$repo"
"$py" -m pip download --quiet -d "$wheels" "${plat[@]}" "$repo[tflite]" 2>&1 \
  | grep -v "^WARNING: Location" || true
cp "$here/arm64_compare.py" "$root/opt/arm64_compare.py"

arm() {  # run a command of the arm64 root
  if (( binfmt )); then
    chroot "$root" "$@"
  else
    local exe="$1"; shift
    QEMU_LD_PREFIX="$root" qemu-aarch64-static -L "$root" "$root$exe" "$@"
  fi
}
if (( binfmt )); then
  [[ -x "$root/opt/venv/bin/python" ]] || arm /usr/bin/python3 -m venv /opt/venv
  arm /opt/venv/bin/python -m pip install --quiet --no-index --find-links /opt/wheels "edgekit[tflite]"
  apy=(/opt/venv/bin/python)
else
  site="$root/opt/site"
  "$py" -m pip install --quiet --no-index --find-links "$wheels" --target "$site" --upgrade \
    "${plat[@]}" "edgekit[tflite]"
  export PYTHONPATH="$site"
  apy=(/usr/bin/python3)
fi
echo "check_arm64.sh: arm64: $(arm "${apy[@]}" -c 'import platform, sys, numpy, onnxruntime
from importlib.metadata import version
print(platform.machine(), "python", sys.version.split()[0], "numpy", numpy.__version__,
      "onnxruntime", onnxruntime.__version__, "ai-edge-litert", version("ai-edge-litert"))')"

# 5. the bundle and the reference captures
cd "$repo"
work="$root/opt/check"
rm -rf "$work" && mkdir -p "$work"
bundle="${1:-}"
if [[ -z "$bundle" ]]; then
  if [[ -f "$repo/out/rfclass-cnn/bundle/manifest.json" ]]; then
    bundle="$repo/out/rfclass-cnn/bundle"
  else
    bundle="$work/bundle"
    "$py" - "$bundle" <<'PY'
import sys
sys.path.insert(0, ".")
from pathlib import Path
from tests.runtime.bundles import write_bundle
write_bundle(Path(sys.argv[1]))
PY
  fi
fi
[[ -f "$bundle/manifest.json" ]] || die "$bundle: not a bundle folder"
[[ "$bundle" == "$work/bundle" ]] || cp -a "$bundle" "$work/bundle"
"$py" scripts/arm64_compare.py captures "$work/captures.npz" --n "$n"
"$py" scripts/arm64_compare.py run "$work/bundle" "$work/captures.npz" "$work/x86.npz"
start=$(date +%s)
arm "${apy[@]}" /opt/arm64_compare.py run /opt/check/bundle /opt/check/captures.npz /opt/check/arm64.npz
echo "check_arm64.sh: arm64 run took $(( $(date +%s) - start )) s under qemu"
"$py" scripts/arm64_compare.py compare "$work/x86.npz" "$work/arm64.npz"
