#!/usr/bin/env bash
# ensure-command.sh COMMAND "WHAT FOR" PACKAGE... : make sure COMMAND exists, installing the
# Debian PACKAGEs when it does not (scripts/apt-install.sh). Never fails the build: what needs
# the command fails under CI=true and skips (or runs slower) elsewhere, and this says why.
set -uo pipefail
command="$1" purpose="$2"
shift 2
command -v "$command" >/dev/null 2>&1 && exit 0
bash "$(dirname "$0")/apt-install.sh" "$@"
command -v "$command" >/dev/null 2>&1 && exit 0
echo "$command is missing: run 'sudo apt-get install $*' ($purpose)" >&2
exit 0
