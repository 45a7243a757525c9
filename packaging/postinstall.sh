#!/bin/sh
# Reload systemd so it sees the unit; the service is not started or enabled
# automatically: edit /etc/firebreak/firebreak.yaml, then
#   systemctl enable --now firebreak
set -e
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
