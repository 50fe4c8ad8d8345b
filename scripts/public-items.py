#!/usr/bin/env python3
"""Counts the library's public items: `pub` declarations (fn, struct, enum, const, type, trait,
mod, static, use; not pub(crate)/pub(super)) in files reachable through `pub mod` chains from
src/lib.rs. Methods in impls count; fields and enum variants do not; the doc-hidden
`obscura::bench` module (the `bench` feature) is counted apart.
Usage: python3 scripts/public-items.py [REPO] [-v]   (-v: the count per file)"""
import re, sys, os
args = [a for a in sys.argv[1:] if a != "-v"]
root = args[0] if args else "."
src = os.path.join(root, "src")
PUB = re.compile(r'^\s*pub (async |unsafe |const )*(fn|struct|enum|const|type|trait|mod|static|use) ')
MOD = re.compile(r'^\s*(#\[[^\]]*\]\s*)*(pub(\([^)]*\))? )?mod ([a-z_0-9]+);')
def walk(path, total, per):
    text = open(path).read().splitlines()
    n = sum(1 for l in text if PUB.match(l))
    per[os.path.relpath(path, root)] = n
    total[0] += n
    base = os.path.dirname(path) if os.path.basename(path) in ("lib.rs", "mod.rs") else path[:-3]
    for l in text:
        m = MOD.match(l)
        if m and m.group(2) == "pub ":
            name = m.group(4)
            for cand in (os.path.join(base, name + ".rs"), os.path.join(base, name, "mod.rs")):
                if os.path.exists(cand):
                    walk(cand, total, per)
total = [0]; per = {}
walk(os.path.join(src, "lib.rs"), total, per)
# the `bench` module's items (lib.rs, from `pub mod bench {` to its closing brace)
lib = open(os.path.join(src, "lib.rs")).read().splitlines()
bench = 0
inside = False
for l in lib:
    if l.startswith("pub mod bench {"):
        inside = True
    if inside:
        bench += 1 if PUB.match(l) else 0
        if l == "}":
            inside = False
if "-v" in sys.argv:
    for k, v in sorted(per.items()): print(f"{v:5} {k}")
print(f"{total[0] - bench} public items ({bench} more behind the bench feature)")
