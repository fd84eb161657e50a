#!/usr/bin/env python3
"""Writes one truth record (corpora/truth/<dumped>__<restored>.json) from a real restore.

  truth-record.py OUT --dumped REL --restored REL [--restored-catalog PATH] --where host|guest
                  --images DIR --inspect INSPECT.json --restore-log LOG --lines FILE --criu VERSION
                  --status restored|failed --meta KEY=VALUE...

The decision and the trampolined exports come from CRIU's restore.log ("remap inplace" / "generate proxy",
one "vdso: jmp: OLD/OFF -> ..." line per trampoline; ../shared/docs/real-restores.md §2); the function
results from vdsoprobe's R lines written after the restore (tests/e2e/README.md). Written atomically.
"""
import argparse, json, os, re, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--dumped", required=True)
ap.add_argument("--restored", required=True)
ap.add_argument("--restored-id")
ap.add_argument("--restored-catalog")
ap.add_argument("--where", required=True, choices=["host", "guest"])
ap.add_argument("--images", required=True)
ap.add_argument("--inspect", required=True)
ap.add_argument("--restore-log", required=True)
ap.add_argument("--lines", required=True)
ap.add_argument("--criu", required=True)
ap.add_argument("--restorer", default="criu-4.2")
ap.add_argument("--status", required=True)
ap.add_argument("--meta", action="append", default=[])
a = ap.parse_args()

log = open(a.restore_log, errors="replace").read() if os.path.exists(a.restore_log) else ""
decision = "inplace" if "remap inplace" in log else "proxy" if "generate proxy" in log else "none"
offsets = [int(m, 16) for m in re.findall(r"vdso: jmp: 0x[0-9a-f]+/(0x[0-9a-f]+) -> ", log)]
mismatch = re.search(r"vdso: (\[\d+\].* differs: [^\n]*)", log)

ins = json.load(open(a.inspect))
proc = ins["image_sets"][0]["processes"][0]
names = {}
for s in proc["vdso"]["symbols"]:
    off = int(s["offset"], 16)
    if s["name"].startswith("__vdso_") or off not in names:
        names[off] = s["name"]
trampolined = sorted(names.get(o, hex(o)) for o in offsets)

fns = ["clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres", "getrandom"]
seen = {f: set() for f in fns}
nlines = 0


def xk_results(kv):
    """An xk fixture's T line (vDSO value taken before the system call it is compared with)."""
    n = lambda k: float(kv[k])
    near = lambda v, sys: v <= sys and sys - v < 0.5
    return {
        "clock_gettime": "ok" if near(n("mono"), n("sys_mono")) and near(n("rt"), n("sys_rt")) else "wrong",
        "gettimeofday": "ok" if near(n("tod"), n("sys_rt") + 1e-6) and n("tod") >= n("rt") - 1e-6 else "wrong",
        # time() reads the coarse clock, up to a tick behind rt: a second boundary may fall in between
        "time": "ok" if int(n("rt")) - 1 <= n("time") <= n("sys_rt") else "wrong",
        "getcpu": "ok" if kv.get("getcpu_rc") == "0" else "wrong",
        "clock_getres": "ok" if kv.get("res_ok") == "1" else "wrong",
    }


for line in open(a.lines, errors="replace") if os.path.exists(a.lines) else []:
    if not line.startswith(("R ", "T ")):
        continue
    kv = dict(t.split("=", 1) for t in line.split()[1:] if "=" in t)
    if line.startswith("T "):
        kv = xk_results(kv)
    nlines += 1
    for f in fns:
        if f in kv:
            seen[f].add(kv[f])
fns = [f for f in fns if seen[f]]
functions = {f: (seen[f].pop() if len(seen[f]) == 1 else "mixed:" + ",".join(sorted(seen[f]))) for f in fns} if nlines else {}

rec = {
    "schema": "vdsokit.truth/1",
    "dumped_on": {"release": a.dumped, "catalog_id": a.dumped + "/x86_64", "images": os.path.relpath(a.images, os.path.dirname(a.out))},
    "restored_on": {"release": a.restored, "catalog_id": a.restored_id or a.restored + "/x86_64", "where": a.where},
    "restorer": a.restorer,
    "criu": a.criu,
    "status": a.status,
    "decision": decision,
    "trampolined": trampolined,
    "first_mismatch": mismatch.group(1) if mismatch else None,
    "functions": functions,
    "result_lines": nlines,
    "provenance": dict(m.split("=", 1) for m in a.meta),
}
if a.restored_catalog:
    rec["restored_on"]["catalog"] = os.path.relpath(a.restored_catalog, os.path.dirname(a.out))
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(a.out) or ".", prefix=".truth-")
with os.fdopen(fd, "w") as f:
    json.dump(rec, f, indent=2)
    f.write("\n")
    f.flush()
    os.fsync(f.fileno())
os.replace(tmp, a.out)
print(f"truth: {os.path.basename(a.out)}: {a.status}, {decision}, trampolined {len(trampolined)}, "
      f"clock_getres {functions.get('clock_getres', '-')}, {nlines} lines")
