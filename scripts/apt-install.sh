#!/usr/bin/env bash
# apt-install.sh PACKAGE... : install Debian packages when apt-get can run as root or through
# passwordless sudo (the project's set-up steps use it); exit status 1 when it could not.
set -uo pipefail
command -v apt-get >/dev/null 2>&1 || exit 1
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || exit 1
  sudo="sudo -n"
fi
echo "Installing Debian's $* ..."
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q "$@" >/dev/null 2>&1 ||
  { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q "$@" >/dev/null 2>&1; }
