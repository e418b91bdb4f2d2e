#!/usr/bin/env bash
# Whether PAUSE in a poll loop makes this VM exit to its host (perf/pause-probe.c): the loop without and with one
# PAUSE per poll, twice each, on CPU ${CPU:-1}; prints the four lines and a verdict. An exit per ~3000 PAUSEs or per
# ~2 us of spinning gives thousands of extra gaps per second with PAUSE; interrupts and preemption give the same
# number either way. race.sh records it in machine.txt. Usage: perf/pause-probe.sh   (SECS per run, default 1)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(mktemp /tmp/pause-probe.XXXXXX)
cc -O2 -o "$bin" "$here/pause-probe.c" || { echo "pause-probe: cc failed" >&2; rm -f "$bin"; exit 1; }
out=$(for n in 0 1 0 1; do taskset -c "${CPU:-1}" "$bin" "$n" "${SECS:-1}"; done)
rm -f "$bin"
echo "$out"
# Gaps per second with PAUSE and without (the smaller of each pair: load only adds gaps).
echo "$out" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  g = v["gaps_over_0.3us"]; p = v["pauses"]; if (!(p in m) || g < m[p]) m[p] = g }
  END { d = m[1] - m[0]; printf "pause-probe verdict: %s (fewest gaps per run without PAUSE %d, with %d)\n",
        (d > 2000 * '"${SECS:-1}"') ? "PAUSE exits to the host" : "no exits from PAUSE", m[0], m[1] }'
