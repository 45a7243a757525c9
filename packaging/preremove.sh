#!/bin/sh
# Stop the service before its binary goes on removal; data in
# /var/lib/firebreak stays. On an upgrade (deb: "upgrade"; rpm: $1 = 1) it
# keeps running and postinstall restarts it on the new binary.
set -e
case "${1:-}" in
  upgrade | 1) exit 0 ;;
esac
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl stop firebreak.service >/dev/null 2>&1 || true
fi
