#!/bin/sh
# Stop the service before its binary goes; data in /var/lib/firebreak stays.
set -e
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl stop firebreak.service >/dev/null 2>&1 || true
fi
