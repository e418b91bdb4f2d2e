#!/usr/bin/env python3
"""Calls of FUNCTION recorded in a callgrind output file.
Usage: callgrind-calls.py FILE FUNCTION   -> prints the count (0 if absent).
With --toggle-collect the edge from the (uncollected) caller is often not recorded; then the count is that of the
callee FUNCTION calls most often, which for a burst function is its entry helper, called once per call
(HotPath: the reverse P/Invoke transition). callgrind-ipp.sh counts instructions per packet; calls/packets shows
how many burst calls (most of them empty polls when the frontend is slower than the backend) each packet carried."""
import re, sys

path, fn = sys.argv[1], sys.argv[2]
names, edge_total, callee = {}, 0, {}
cur_fn, cfn = None, None
for line in open(path, errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line)
    if m:
        kind, fid, name = m.groups()
        if name is not None:
            names[fid] = name.strip()
        if kind == "fn":
            cur_fn, cfn = names.get(fid), None
        else:
            cfn = names.get(fid)
        continue
    if line.startswith("calls=") and cfn is not None:
        n = int(line[6:].split()[0])
        if cfn == fn:
            edge_total += n
        if cur_fn == fn:
            callee[cfn] = callee.get(cfn, 0) + n
        cfn = None
print(edge_total if edge_total else max(callee.values(), default=0))
