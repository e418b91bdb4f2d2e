#!/usr/bin/env bash
# Live migration with HotPath's backend and with DPDK's (issue 15): tests/qemu/run.sh's migrate-precopy and
# migrate-postcopy boots (a QEMU 7.2 TCG busybox guest pinging every 20 ms through its vhost-user NIC while the
# source QEMU migrates it over a Unix socket to a destination QEMU; memfd guest memory) run with
# HPQ_MIGRATE_BACKEND=hotpath (two hp-fwd --mode icmpecho --idle-sleep 200, the destination with --postcopy for
# postcopy) and =dpdk (two testpmd --forward-mode=icmpecho on net_vhost0, postcopy-support=1 on both for postcopy,
# --no-mlockall, forwarding lcores busy-polling on CPU 1), the backend alternating round by round: hotpath, dpdk,
# hotpath, dpdk... Each run's query-migrate reply (source QEMU, status completed) gives total-time, downtime,
# transferred and postcopy-requests; the guest's ping across the migration gives sent/answered; /proc gives the two
# backends' CPU seconds over the whole boot. Prints a markdown table (median and min-max over the completed runs,
# per backend and kind), also written to OUT (default perf/results/migrate-<time>.md) with the conditions and the
# QEMU command lines; each run's run.sh output stays in the raw folder it names.
# Usage: perf/migrate.sh          (env ROUNDS=3, BANDWIDTH=8388608 B/s for HPQ_MIGRATE_BANDWIDTH)
# Needs what tests/qemu/run.sh needs, plus dpdk-testpmd and 256 free 2 MiB hugepages (testpmd --in-memory -m 256
# twice). One QEMU scenario at a time; about 1 minute per round and backend.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3} BANDWIDTH=${BANDWIDTH:-8388608}
backends="hotpath dpdk" kinds="precopy postcopy"
stamp=$(date -u +%Y%m%d-%H%M)
out=${OUT:-$root/perf/results/migrate-$stamp.md}
raw=$(mktemp -d /tmp/migrate-perf.XXXXXX)
mkdir -p "$(dirname "$out")"
command -v dpdk-testpmd > /dev/null || { echo "migrate.sh: dpdk-testpmd missing (scripts/interop/install-peers.sh)" >&2; exit 1; }
"$root/build.sh" > "$raw/build.log" 2>&1 || { tail "$raw/build.log"; exit 1; }
json_field() { sed -n "s/.*\"$2\": *\"\{0,1\}\([^,}\"]*\).*/\1/p" "$1" | head -1; }  # FILE KEY
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }                  # LINE KEY
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "migrate: $ROUNDS rounds, max-bandwidth $BANDWIDTH B/s, raw results in $raw; load average $(load)" >&2
load0=$(load) t0=$SECONDS

# One run of both kinds with BACKEND (round R): one line per kind in $raw/runs:
# backend kind round status total_ms downtime_ms transferred_bytes postcopy_requests pings_sent pings_answered cpu_s
for r in $(seq "$ROUNDS"); do
  for b in $backends; do
    echo "migrate: round $r/$ROUNDS, $b (load average $(load))" >&2
    HPQ_KEEP=1 HPQ_MIGRATE_BACKEND=$b HPQ_MIGRATE_BANDWIDTH=$BANDWIDTH HPQ_BOOTS="migrate-precopy migrate-postcopy" \
      "$root/tests/qemu/run.sh" > "$raw/$b-$r.out" 2>&1
    kept=$(sed -n 's/^qemu: kept //p' "$raw/$b-$r.out")
    for k in $kinds; do
      d=$kept/migrate-$k st=failed
      grep -q "^PASS  migrate-$k/query-migrate:" "$raw/$b-$r.out" && st=completed
      grep -q "^FAIL  migrate-$k/" "$raw/$b-$r.out" && [ $st = completed ] && st=completed-with-failed-checks
      j=$d/migrate.json m=$(grep -a '^HPQ-DATA migrate ' "$d/console.txt" 2> /dev/null | tail -1)
      cpu=$(cat "$d"/fwd.*.cpu 2> /dev/null | awk '{ s += $1; n++ } END { if (n) print s }')
      echo "$b $k $r $st $(json_field "$j" total-time) $(json_field "$j" downtime) $(json_field "$j" transferred)" \
        "$(json_field "$j" postcopy-requests) $(field "$m" sent) $(field "$m" received) ${cpu:--}" >> "$raw/runs"
      echo "migrate:   $k: $(tail -1 "$raw/runs" | cut -d' ' -f4-)" >&2
      if [ -d "$d" ]; then  # what BENCHMARKS.md quotes (command lines) and what a failure needs (logs), not the vmlinux
        mkdir -p "$raw/$b-$r-$k"
        cp "$d"/{qemu.cmd,migrate.json,migrate.states,host.log,console.txt} "$raw/$b-$r-$k/" 2> /dev/null
        [ $st = completed ] || cp "$d"/fwd.*.log "$d"/qmp-*.log "$raw/$b-$r-$k/" 2> /dev/null
      fi
    done
    [ -n "$kept" ] && rm -rf "$kept"
  done
done

# median (lower of the middle two for an even count) and min-max of column COL over the completed runs
stat() { # BACKEND KIND COL [DIVISOR FORMAT]
  awk -v b="$1" -v k="$2" -v c="$3" -v div="${4:-1}" '$1 == b && $2 == k && $4 ~ /^completed/ && $c != "" && $c != "-" { print $c / div }' "$raw/runs" |
    sort -g | awk -v f="${5:-%g}" '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit }
      m = a[int((NR + 1) / 2)]; if (NR == 1) printf f "\n", m; else printf f " (" f "-" f ")\n", m, a[1], a[NR] }'
}
{
  echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD), $ROUNDS rounds" \
    "(backend alternating: $(for r in $(seq "$ROUNDS"); do printf '%s ' $backends; done | sed 's/ $//'), both kinds per run)," \
    "$((SECONDS - t0)) s; $(nproc) CPUs, load average $load0 at the start and $(load) at the end;" \
    "$(qemu-system-x86_64 --version | head -1), DPDK $(dpkg-query -W -f '${Version}' dpdk 2> /dev/null), Linux $(uname -r)."
  echo "max-bandwidth $BANDWIDTH B/s, downtime-limit 2000 ms (run.sh's migrate_qmp); medians, min-max in brackets."
  echo "Guest: QEMU TCG, 1 vCPU, 256 MiB memfd (share=on), pinging every 20 ms through the NIC during the migration."
  echo "hotpath: 2 x hp-fwd --mode icmpecho --idle-sleep 200 (an idle queue is polled every 200 us), not pinned; the"
  echo "destination with --postcopy for postcopy. dpdk: 2 x dpdk-testpmd -l 0,1 --main-lcore 0 --in-memory -m 256"
  echo "--forward-mode=icmpecho --no-mlockall (postcopy-support=1 on both for postcopy): EAL pins both instances'"
  echo "forwarding lcores to CPU 1, where they busy-poll; not niced. Backends' CPU s: both instances over the whole boot."
  echo
  echo "| backend | kind | completed | total-time ms | downtime ms | transferred MiB | postcopy-requests | pings answered/sent across | backends' CPU s |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for k in $kinds; do
    for b in $backends; do
      n=$(awk -v b=$b -v k=$k '$1 == b && $2 == k' "$raw/runs" | wc -l)
      ok=$(awk -v b=$b -v k=$k '$1 == b && $2 == k && $4 ~ /^completed/' "$raw/runs" | wc -l)
      bad=$(awk -v b=$b -v k=$k '$1 == b && $2 == k && $4 == "completed-with-failed-checks"' "$raw/runs" | wc -l)
      [ "$bad" = 0 ] || ok="$ok ($bad with a failed check)"
      pings=$(awk -v b=$b -v k=$k '$1 == b && $2 == k && $4 ~ /^completed/ { printf "%s%s/%s", s, $10, $9; s = ", " }' "$raw/runs")
      echo "| $b | $k | $ok/$n | $(stat $b $k 5) | $(stat $b $k 6) | $(stat $b $k 7 1048576 %.1f) | $(stat $b $k 8) | ${pings:--} | $(stat $b $k 11) |"
    done
  done
  echo
  echo "completed: query-migrate said completed (its figures are in the columns); \"with a failed check\": run.sh failed"
  echo "another check of that run (a guest ping step; see its raw output)."
  echo
  echo "Per run (backend kind round status total_ms downtime_ms transferred_bytes postcopy_requests pings_sent pings_answered cpu_s):"
  echo '```'
  cat "$raw/runs"
  echo '```'
  for k in $kinds; do
    f=$(ls -d "$raw"/*-1-$k 2> /dev/null | head -1)
    [ -n "$f" ] && { echo; echo "QEMU command lines ($k, round 1):"; echo '```'; cat "$f/qemu.cmd"; echo '```'; }
  done
} > "$out"
cat "$out"
echo "migrate: table in $out; raw results in $raw" >&2
