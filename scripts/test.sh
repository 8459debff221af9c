#!/usr/bin/env bash
# Install edgekit with its test dependencies into .venv and run the whole test suite.
# This is the README's test command and exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,tflite,trees]'

# The HTML reports are checked in a real headless browser. Debian's chromium is installed when
# we are root and it is missing; otherwise the browser tests say why they are skipped.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium for the browser tests (apt-get) ..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "warning: could not install chromium; browser tests will be skipped"
fi

# Compiled tree variants are cross-compiled for the Pi with Debian's aarch64 gcc, and the aarch64
# library is run under qemu-user; without them those tests say why they are skipped.
if { ! command -v aarch64-linux-gnu-gcc || ! command -v qemu-aarch64; } >/dev/null 2>&1 \
        && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing gcc-aarch64-linux-gnu and qemu-user for the compiled-trees tests (apt-get) ..."
    (apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user >/dev/null) \
        || echo "warning: could not install the aarch64 toolchain; aarch64 tree tests will be skipped"
fi

# The first run creates the pinned onnx2tf converter environment (~2.6 GB, a few minutes).
.venv/bin/python -m pytest "$@"
