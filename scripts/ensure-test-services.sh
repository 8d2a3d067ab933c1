#!/usr/bin/env bash
# Make sure the services the test suite talks to are up, that Debian's Chromium is there for
# the browser tests, PrusaSlicer for slicing and OctoPrint (in its own venv) for the print-farm
# tests. Idempotent; does nothing when all is already in place.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && exec 3>&- ; }

if ! port_open 5432 && command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! port_open 1883 && command -v mosquitto >/dev/null 2>&1; then
  echo "starting Mosquitto"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
fi
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium install failed"
fi
if ! command -v prusa-slicer >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's prusa-slicer for the print-farm tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prusa-slicer >/dev/null) || echo "prusa-slicer install failed"
fi
bash "$(dirname "${BASH_SOURCE[0]}")/setup-octoprint.sh" >/dev/null || echo "OctoPrint setup failed"
# The network tests start their own nats-server processes (never the machine's own NATS).
if ! command -v nats-server >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's nats-server for the network tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null) || echo "nats-server install failed"
fi
for i in $(seq 1 20); do port_open 5432 && port_open 1883 && break; sleep 0.5; done
exit 0
