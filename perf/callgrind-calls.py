#!/usr/bin/env python3
"""Calls of FUNCTION recorded in a callgrind output file.
Usage: callgrind-calls.py FILE FUNCTION   -> prints the count (0 if absent).
Best source, when the run had --dump-instr=yes (race.sh and idle-poll.sh pass it through VALGRIND_OPTS; it does not
change the counts): the executions of the function's first instruction, i.e. its entries. Otherwise the caller
edge, and when --toggle-collect dropped that edge, the count of the callee FUNCTION calls most often.
callgrind-ipp.sh counts instructions per packet; calls/packets shows how many burst calls (most of them empty polls
when the frontend is slower than the backend) each packet carried."""
import re, sys

path, fn = sys.argv[1], sys.argv[2]
names = {}
edge_total, callee = 0, {}
entry = {}            # address -> self Ir, for FUNCTION's own instructions
cur_fn, cfn, addr, after_calls = None, None, 0, False
npos = 1   # "positions: instr line" puts two position columns before the costs
tok_re = re.compile(r"^(0x[0-9a-fA-F]+|[+-]\d+|\*|\d+)$")
for line in open(path, errors="replace"):
    line = line.rstrip("\n")
    if line.startswith("positions:"):
        npos = len(line.split()[1:])
        continue
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
    if line.startswith("calls="):
        n = int(line[6:].split()[0])
        if cfn == fn:
            edge_total += n
        if cur_fn == fn and cfn is not None:
            callee[cfn] = callee.get(cfn, 0) + n
        after_calls = True
        continue
    parts = line.split()
    if len(parts) > npos and all(tok_re.match(t) for t in parts):
        tok = parts[0]
        if tok.startswith("0x"):
            addr = int(tok, 16)
        elif tok[0] in "+-":
            addr += int(tok)
        elif tok != "*":
            addr = int(tok)
        if after_calls:
            after_calls = False   # the inclusive cost of the call just named, not this function's own
            continue
        if cur_fn == fn:
            entry[addr] = entry.get(addr, 0) + int(parts[npos])
        continue
has_instr = npos >= 2 or any(k > 0xFFFFF for k in entry)   # instruction addresses, not line numbers
if has_instr:
    print(entry[min(entry)])
else:
    print(edge_total if edge_total else max(callee.values(), default=0))
