#!/usr/bin/env bash
# A C compiler, so that pip builds the fused engine's compiled step (setup.py): Debian's gcc.
# Without one the install still works and the fused engine runs its slower PyTorch form.
set -uo pipefail
command -v cc >/dev/null 2>&1 && exit 0
bash "$(dirname "$0")/apt-install.sh" gcc libc6-dev
command -v cc >/dev/null 2>&1 && exit 0
echo "no C compiler: run 'sudo apt-get install gcc' for the fast fused engine" >&2
exit 0  # its tests fail under CI=true and skip elsewhere
