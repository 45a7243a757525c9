#!/bin/sh
# Reload systemd so it sees the unit. A first install does not start or
# enable the service: edit /etc/firebreak/firebreak.yaml, then
#   systemctl enable --now firebreak
# An upgrade restarts it if it was running, so it runs the new binary
# (deb: "configure <old-version>"; rpm: $1 = 2 or more).
set -e
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  upgrade=no
  case "$1" in
    configure) [ -n "${2:-}" ] && upgrade=yes ;;
    [2-9]*) upgrade=yes ;;
  esac
  if [ "$upgrade" = yes ]; then
    systemctl try-restart firebreak.service >/dev/null 2>&1 || true
  fi
fi
