#!/usr/bin/env bash
# Install edgekit's on-device daemon on a Raspberry Pi (Raspberry Pi OS / Debian, arm64):
# a virtual environment in /opt/edgekit/venv, a system user, the bundle, the settings, the udev
# rule for the scanner and the systemd unit. Run as root from a checkout of edgekit:
#
#   sudo scripts/install_pi.sh --bundle out/rfclass-cnn/rfclass-cnn.bundle.tar.gz --usb-id 1209:ed6e
#
# Options: --bundle PATH (folder or .tar.gz, required), --usb-id VID:PID (the scanner's USB ids,
# from lsusb; required unless --no-udev), --config FILE (a [runtime] TOML; default: a minimal
# one), --no-udev, --no-start, --dry-run (print what would be done).
# Re-running upgrades edgekit and replaces the bundle; the journal in /var/lib/edgekit stays.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
bundle="" usb_id="" config="" udev=1 start=1 dry=0

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
die() { echo "install_pi.sh: $*" >&2; exit 2; }
run() { if (( dry )); then echo "+ $*"; else "$@"; fi; }

while (( $# )); do
  case "$1" in
    --bundle) bundle="${2:-}"; shift 2 ;;
    --usb-id) usb_id="${2:-}"; shift 2 ;;
    --config) config="${2:-}"; shift 2 ;;
    --no-udev) udev=0; shift ;;
    --no-start) start=0; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

[[ -n "$bundle" ]] || die "--bundle PATH is required (a bundle folder or .tar.gz from edgekit build)"
[[ -e "$bundle" ]] || die "--bundle $bundle: no such file or folder"
if (( udev )); then
  [[ "$usb_id" =~ ^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$ ]] \
    || die "--usb-id: expected VID:PID in hex as lsusb prints it (e.g. 1209:ed6e), got '${usb_id}'"
  vendor="${BASH_REMATCH[1],,}" product="${BASH_REMATCH[2],,}"
fi
[[ -z "$config" || -f "$config" ]] || die "--config $config: no such file"
(( dry )) || [[ $EUID -eq 0 ]] || die "run as root (sudo), or with --dry-run"

arch="$(uname -m)"
[[ "$arch" == "aarch64" || "$arch" == "armv7l" ]] || echo "install_pi.sh: note: this is $arch, not a Pi" >&2

# 1. packages and the virtual environment (wheels for aarch64 come from PyPI: numpy,
#    onnxruntime, ai-edge-litert; smbus2 for INA2xx monitors on I2C)
run apt-get install -y --no-install-recommends python3 python3-venv python3-dev
run install -d -m 0755 /opt/edgekit
[[ -x /opt/edgekit/venv/bin/python ]] || run python3 -m venv /opt/edgekit/venv
run /opt/edgekit/venv/bin/pip install --upgrade pip
run /opt/edgekit/venv/bin/pip install "$repo[tflite,pi]"
run install -m 0644 "$repo/README.md" /opt/edgekit/README.md

# 2. the service user: serial ports (dialout), I2C monitors (i2c)
getent group i2c >/dev/null || run groupadd --system i2c
id edgekit >/dev/null 2>&1 || run useradd --system --home /var/lib/edgekit --shell /usr/sbin/nologin \
  --groups dialout,i2c edgekit

# 3. state and settings: the bundle is verified by edgekit before it is installed
run install -d -o edgekit -g edgekit -m 0750 /var/lib/edgekit
run /opt/edgekit/venv/bin/edgekit verify "$bundle"
staging="/var/lib/edgekit/.bundle-new"
# a folder is removed or replaced only when it is a bundle (it has a manifest.json) or empty
ours() { [[ ! -e "$1" ]] || [[ -f "$1/manifest.json" ]] || [[ -d "$1" && -z "$(ls -A "$1")" ]]; }
ours "$staging" || die "$staging exists and is not an edgekit bundle; move it away first"
run rm -rf "$staging"
run install -d -o edgekit -g edgekit "$staging"
if [[ -d "$bundle" ]]; then
  run cp -a "$bundle/." "$staging/"
else
  run tar -xzf "$bundle" -C "$staging" --strip-components=1
fi
run chown -R edgekit:edgekit "$staging"
# replace the previous bundle only if it is one (it has a manifest.json): never another folder
for old in /var/lib/edgekit/bundle /var/lib/edgekit/bundle.old; do
  ours "$old" || die "$old exists and is not an edgekit bundle; move it away first"
done
run rm -rf /var/lib/edgekit/bundle.old
[[ -e /var/lib/edgekit/bundle ]] && run mv /var/lib/edgekit/bundle /var/lib/edgekit/bundle.old
run mv "$staging" /var/lib/edgekit/bundle
run install -d -m 0755 /etc/edgekit
if [[ -n "$config" ]]; then
  run install -m 0644 "$config" /etc/edgekit/run.toml
elif [[ ! -e /etc/edgekit/run.toml ]]; then
  if (( dry )); then echo "+ write /etc/edgekit/run.toml"; else
    printf '[runtime]\nmetrics_addr = "127.0.0.1:9108"\n\n[runtime.journal]\npath = "/var/lib/edgekit/journal.sqlite"\n' \
      > /etc/edgekit/run.toml
  fi
fi

# 4. udev: /dev/edgekit-scanner for the scanner's USB ids
if (( udev )); then
  if (( dry )); then echo "+ write /etc/udev/rules.d/99-edgekit-scanner.rules for $vendor:$product"; else
    sed -e "s/@VENDOR@/$vendor/" -e "s/@PRODUCT@/$product/" "$here/99-edgekit-scanner.rules.in" \
      > /etc/udev/rules.d/99-edgekit-scanner.rules
  fi
  run udevadm control --reload-rules
  run udevadm trigger --subsystem-match=tty
fi

# 5. the service
run install -m 0644 "$here/edgekit.service" /etc/systemd/system/edgekit.service
run systemctl daemon-reload
run systemctl enable edgekit.service
if (( start )); then
  run systemctl restart edgekit.service
  echo "edgekit: started; status: systemctl status edgekit, edgekit status, journalctl -u edgekit -o cat"
fi
