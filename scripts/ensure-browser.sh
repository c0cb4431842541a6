#!/usr/bin/env bash
# Headless Chromium for the report's browser test: Debian's package (Playwright's own browser
# download cannot work offline).
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
bash "$(dirname "$0")/apt-install.sh" chromium
command -v chromium >/dev/null 2>&1 && exit 0
echo "chromium is missing: run 'sudo apt-get install chromium' (the report test needs it)" >&2
exit 0  # the test itself fails under CI=true and skips elsewhere
