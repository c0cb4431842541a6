#!/usr/bin/env bash
# Headless Chromium for the report's browser test: Debian's package (Playwright's own browser
# download cannot work offline). Installs it with apt-get when root or passwordless sudo.
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
sudo=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo -n"
fi
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; then
  echo "Installing Debian's chromium for the report test ..."
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q chromium >/dev/null 2>&1 ||
    { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q chromium >/dev/null 2>&1; }
fi
command -v chromium >/dev/null 2>&1 && exit 0
echo "chromium is missing: run 'sudo apt-get install chromium' (the report test needs it)" >&2
exit 0  # the test itself fails under CI=true and skips elsewhere
