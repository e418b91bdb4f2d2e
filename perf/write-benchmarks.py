#!/usr/bin/env python3
"""Writes BENCHMARKS.md at the repository root from a perf/race.sh results folder (ipp.txt, pps.txt, machine.txt),
the newest BenchmarkDotNet quick run under perf/results/ (or --bdn DIR), perf/benchmarks-notes.md (the summary) and
perf/ipp-history.md (the optimisation log) and the measured sections kept by hand (perf/loops.md, dirty-log.md,
rx-modes.md, migration.md, iotlb.md, async-ipp.md).
Usage: write-benchmarks.py RACE_DIR [--bdn BDN_RESULTS_DIR]"""
import glob, os, re, statistics, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = sys.argv[1:]
race = args[0]
bdn = None
if "--bdn" in args:
    bdn = args[args.index("--bdn") + 1]
else:
    runs = sorted(glob.glob(os.path.join(root, "perf/results/bdn-quick-*/results")))
    bdn = runs[-1] if runs else None

REFERENCE = {("dequeue", "64", "0"): 290, ("enqueue", "64", "0"): 382, ("dequeue", "64", "1"): 192,
             ("enqueue", "64", "1"): 162, ("dequeue", "1518", "0"): 556}
RING = {"0": "split", "1": "packed"}


def kv(line):
    return dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))


def read(name):
    p = os.path.join(race, name)
    return open(p).read().splitlines() if os.path.exists(p) else []


out = ["# HotPath benchmarks", ""]
machine = read("machine.txt")
out += ["Measured by `perf/race.sh` (HotPath's `hp-fwd` against DPDK 22.11's `testpmd --vdev net_vhost0`, both driven by",
        "the same DPDK virtio-user frontend, `../shared/interop/`) and `perf/run.sh --quick` (BenchmarkDotNet).", ""]
mi = dict(l.split("=", 1) for l in machine if "=" in l)
out += [f'Run of {mi.get("date", "?")}, commit {mi.get("commit", "?")} (`{os.path.relpath(mi.get("hp_fwd", "?"), root)}`, '
        f'libhotpath for x86-x64-v3); {mi.get("cpus", "?")} vCPUs ({mi.get("cpu", "?")}; {mi.get("isa", "").strip()}), '
        f'Linux {mi.get("kernel", "?")}, Debian 12, DPDK 22.11, valgrind 3.19'
        + (f'; PAUSE in a poll loop: {mi["pause_probe"]} (`perf/pause-probe.sh`).' if mi.get("pause_probe") else "."),
        "Two cores shared with other engineers' builds and tests: packets per second swing up to 3x between runs, so",
        "they are given only as HotPath/DPDK ratios of back-to-back A/B rounds. Callgrind instruction counts are the",
        "stable figure.", ""]

notes = os.path.join(root, "perf/benchmarks-notes.md")
if os.path.exists(notes):
    out += open(notes).read().rstrip().splitlines() + [""]

ipp = [kv(l) for l in read("ipp.txt") if l.startswith("ipp ")]
if ipp:
    out += ["## Instructions per packet (callgrind, inside the burst function)", "",
            "Instructions counted inside `hp_vhost_*_burst` / `rte_vhost_*_burst` (inclusive) divided by the packets the",
            "frontend counted. *calls/pkt* is burst calls per packet: every call beyond one per 32 packets is a poll that",
            "found the ring (nearly) empty because the frontend, starved of CPU, fell behind; those polls are part of",
            "the figure for both backends.", "",
            "| workload | ring | len | HotPath ipp | DPDK ipp | HotPath/DPDK | HotPath calls/pkt | DPDK calls/pkt | DPDK ipp (interop README) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    keys = []
    for r in ipp:
        k = (r["workload"], r["len"], r["packed"])
        if k not in keys:
            keys.append(k)
    for k in keys:
        def pick(b):
            return next((r for r in ipp if (r["workload"], r["len"], r["packed"]) == k and r["backend"] == b), None)
        h, d = pick("hotpath"), pick("dpdk")
        hi = float(h["ipp"]) if h else None
        di = float(d["ipp"]) if d else None
        def cpp(r):
            return f'{int(r["calls"]) / float(r["packets"]):.2f}' if r and r.get("calls") and float(r["packets"]) > 0 else "-"
        ratio = f"{hi / di:.2f}" if hi and di else "-"
        ref = REFERENCE.get(k, "-")
        out.append(f"| {k[0]} | {RING[k[2]]} | {k[1]} | {hi if hi else '-'} | {di if di else '-'} | {ratio} | {cpp(h)} | {cpp(d)} | {ref} |")
    out.append("")

polls = [kv(l) for l in read("poll.txt") if l.startswith("poll ")]
if ipp and polls:
    def idle(backend, wl, packed):
        r = next((p for p in polls if p["backend"] == backend and p["workload"] == wl and p["packed"] == packed), None)
        # DPDK's packed idle runs are not idle polls (from one run to the next 62 thousand calls at 798
        # instructions, or 382 thousand at 1777): only its split figures are used.
        if backend == "dpdk" and packed == "1":
            return None
        return float(r["ipc"]) if r and int(r["calls"]) >= 50000 else None
    out += ["## Per call and per packet", "",
            "`perf/idle-poll.sh` counts instructions per burst call that finds nothing (the frontend never fills the",
            "ring): the fixed cost of a call, independent of the machine's load. With it the figure above splits into",
            "*per-packet work* = ipp - calls/pkt x idle call, and *ipp at full bursts* = per-packet work + idle call / 32,",
            "the figure a backend that is always the bottleneck would show. The model charges every call the idle cost,",
            "so it is an estimate (about +-5 instructions between runs of one build). DPDK's packed idle runs do not",
            "measure an idle poll (see perf/race.sh), so its packed rows keep only the raw figure, which at 0.05-0.25",
            "calls per packet is close to its full-burst figure anyway.", "",
            "| workload | ring | len | backend | ipp | calls/pkt | idle call | per-packet work | ipp at full bursts |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in ipp:
        c = idle(r["backend"], r["workload"], r["packed"])
        if not r.get("calls") or float(r["packets"]) <= 0:
            continue
        k = int(r["calls"]) / float(r["packets"])
        if not c:
            out.append(f'| {r["workload"]} | {RING[r["packed"]]} | {r["len"]} | {r["backend"]} | {r["ipp"]} | {k:.2f} | - | - | - |')
            continue
        w = float(r["ipp"]) - k * c
        out.append(f'| {r["workload"]} | {RING[r["packed"]]} | {r["len"]} | {r["backend"]} | {r["ipp"]} | {k:.2f} | {c:.1f} | {w:.1f} | {w + c / 32:.1f} |')
    out.append("")

pps = [l for l in read("pps.txt") if l.startswith("pps ")]
if pps:
    out += ["## Packets per second, HotPath/DPDK (A/B rounds through compare.sh)", "",
            "Each round runs DPDK's backend then HotPath's for the same seconds against a fresh frontend; the ratio is",
            "HotPath's rate over DPDK's in that round. Frontend metric: tx_pps for dequeue, rx_pps for enqueue and loop.", "",
            "*median* is the median of the per-round ratios; *compare.sh* is that script's own figure, the ratio of",
            "the two medians of the rates.", "",
            "| workload | ring | len | ratio per round | median | min-max | compare.sh | HotPath Mpps (median) | DPDK Mpps (median) |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for l in pps:
        r = kv(l)
        wl, ln, pk = r["config"].split(":")
        rounds = [float(x) for x in r["rounds"].strip('"').split()]
        med = statistics.median(rounds) if rounds else 0
        spread = f"{min(rounds):.2f}-{max(rounds):.2f}" if rounds else "-"
        tp, dp = int(r.get("test_pps", 0)) / 1e6, int(r.get("dpdk_pps", 0)) / 1e6
        out.append(f"| {wl} | {RING[pk]} | {ln} | {' '.join(f'{x:.2f}' for x in rounds)} | {med:.2f} | {spread} | {float(r.get('ratio', 0)):.2f} | {tp:.2f} | {dp:.2f} |")
    out.append("")

hist = os.path.join(root, "perf/ipp-history.md")
if os.path.exists(hist):
    out += open(hist).read().rstrip().splitlines() + [""]

# Sections kept by hand, each measured by its own script: the loops (perf/loop-check.sh), dirty logging
# (BenchmarkDotNet), hp-fwd --rx-mode (perf/rx-modes.sh), live migration (perf/migrate.sh), the vIOMMU's IOTLB
# (perf/iotlb-ipp.sh), vhost-crypto (the QEMU boot crypto and CryptoBenchmarks), the async copy path
# (perf/async-ipp.sh, perf/async-pps.sh).
for name in ("loops.md", "dirty-log.md", "rx-modes.md", "migration.md", "iotlb.md", "crypto.md", "async-ipp.md"):
    part = os.path.join(root, "perf", name)
    if os.path.exists(part):
        out += open(part).read().rstrip().splitlines() + [""]

if bdn and os.path.isdir(bdn):
    out += ["## BenchmarkDotNet (in-process rigs, `perf/run.sh --quick`)", "",
            "ShortRun job (3 warm-ups, 3 iterations): indicative timings on a noisy machine; Mean is per packet (per",
            "mbuf, object or translation), and each operation includes the HotPath frontend's own work (posting,",
            "publishing, reaping / receiving). **Allocated** is the point: `-` means 0 bytes per operation.",
            "These run the managed engine under the JIT (.NET 10, in-process rigs), not libhotpath.so; the run shown",
            "is of the commit above (with IotlbBenchmarks' packed rows, added after it).",
            f"Reports: `{os.path.relpath(bdn, root)}` (not committed; rerun to regenerate).", ""]
    for md in sorted(glob.glob(os.path.join(bdn, "*-report-github.md"))):
        name = os.path.basename(md).split(".")[-2].replace("-report-github", "")
        rows = [l.replace("**", "") for l in open(md).read().splitlines() if l.startswith("|")]
        out += [f"### {name}", ""] + rows + [""]

out += ["## Commands", "", "```sh",
        "./build.sh                      # artifacts/bin/hp-fwd, artifacts/lib/libhotpath.so",
        "ROUNDS=3 PPS_SECS=8 IPP_SECS=15 perf/race.sh   # this file's run: ipp, idle polls, pps rounds, BENCHMARKS.md",
        "# what race.sh runs per configuration (it also renices the valgrind process to 19 and adds",
        "# VALGRIND_OPTS=--dump-instr=yes to count calls; neither changes the definition of the figure):",
        "DOTNET_GCRegionRange=40000000 SECS=15 ../shared/interop/callgrind-ipp.sh dequeue 64 0 hp_vhost_dequeue_burst -- \\",
        "  artifacts/bin/hp-fwd --socket {SOCK} --mode {MODE} --pkt-len {LEN} --seconds {SECS} --stats-interval 0",
        "SECS=15 ../shared/interop/callgrind-ipp.sh dequeue 64 0                 # DPDK's backend",
        "SECS=6 perf/idle-poll.sh dequeue 0 hotpath                               # and: ... dpdk",
        "SECS=8 ../shared/interop/compare.sh dequeue 64 0 3 -- taskset -c 1 artifacts/bin/hp-fwd --socket {SOCK} \\",
        "  --mode {MODE} --pkt-len {LEN} --seconds {SECS} --stats-interval 0",
        "perf/run.sh --quick             # BenchmarkDotNet suites, ShortRun",
        "perf/alloc-gate.sh              # allocation gate (also run by test.sh), ~20 s",
        "perf/profile.sh dequeue 64 0    # callgrind profile by function (symbol-only debug file)",
        "perf/rx-modes.sh                # hp-fwd --rx-mode poll/interrupt/adaptive side by side (~6 min)",
        "perf/iotlb-ipp.sh               # callgrind ipp with the IOTLB off and on (hp-frontend --iommu), ~4 min",
        "HPQ_CRYPTO_BENCH=3 HPQ_BOOTS=crypto tests/qemu/run.sh   # vhost-crypto from a guest (AF_ALG), ~20 s",
        "perf/run.sh --quick '*CryptoBenchmarks*'                  # vhost-crypto backend cost per request, ~4 min",
        "ROUNDS=3 perf/migrate.sh        # live migration with HotPath and with DPDK's backend (QEMU)",
        "```", ""]
open(os.path.join(root, "BENCHMARKS.md"), "w").write("\n".join(out))
print("wrote", os.path.join(root, "BENCHMARKS.md"))
