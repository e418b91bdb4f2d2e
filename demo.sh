#!/usr/bin/env bash
# Builds everything (./build.sh), then runs the demo: hp-fwd (libhotpath.so) as the vhost-user backend and
# hp-frontend (HotPath's own virtio frontend) as the guest side, in three directions for 64 B and 1518 B frames.
# Usage: ./demo.sh [SECONDS_PER_RUN]
set -euo pipefail
cd "$(dirname "$0")"
./build.sh
exec artifacts/bin/hp-fwd --demo --seconds "${1:-3}"
