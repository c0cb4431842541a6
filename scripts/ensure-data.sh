#!/usr/bin/env bash
# Make sure Fashion-MNIST is present and verified, trying in order: a copy softmaxreg already
# finds (SOFTMAXREG_DATA, the cache, /usr/share/datasets), Debian's dataset-fashion-mnist
# package (when apt-get can run as root or through passwordless sudo), a download.
set -uo pipefail
softmaxreg="$1"

if "$softmaxreg" data --quiet 2>/dev/null; then
  "$softmaxreg" data
  exit 0
fi

if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; fi
  fi
  if [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; then
    echo "Installing Debian's dataset-fashion-mnist ..."
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 ||
      { $sudo apt-get update -q >/dev/null 2>&1 &&
        $sudo apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; } ||
      echo "apt-get could not install dataset-fashion-mnist; trying a download"
  fi
fi

if ! "$softmaxreg" data --quiet 2>/dev/null; then
  "$softmaxreg" data --fetch --quiet 2>/dev/null || true
fi
# Prints where the data was found, or one line that says what to do (exit status 2).
exec "$softmaxreg" data
