#!/bin/sh
# Usage: require-system-packages.sh COMMAND:DEBIAN_PACKAGE ...
# Installs the Debian packages whose commands are missing (as root, with apt-get), or stops with a
# message saying what to install on machines where it cannot.
set -eu
missing=""
for pair in "$@"; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  exit 0
fi
echo "This project needs these system packages:$missing" >&2
echo "Install them with your package manager (on Debian/Ubuntu: sudo apt-get install$missing), then run make again." >&2
exit 1
