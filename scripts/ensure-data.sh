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

bash "$(dirname "$0")/apt-install.sh" dataset-fashion-mnist ||
  echo "apt-get could not install dataset-fashion-mnist; trying a download"

if ! "$softmaxreg" data --quiet 2>/dev/null; then
  "$softmaxreg" data --fetch --quiet 2>/dev/null || true
fi
# Prints where the data was found, or one line that says what to do (exit status 2).
exec "$softmaxreg" data
