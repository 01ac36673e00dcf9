"""File-level import cycles in each crate's src/ (docs/architecture.md, "Dependencies point
one way"): an edge A -> B when a `use` in file A names a path that resolves into file B's
module; an inline `#[cfg(test)] mod tests` is left out (its `super` is its own file); paths
into other crates are ignored. Prints each crate's files, edges and cycles (strongly
connected components); exits 1 when there is a cycle.

A parent's `pub use child::Name` that only re-exports (the parent's own code never names
`Name`) is its public face, like its `mod child;` declaration, not a use of the child: it
adds no edge. Where the parent's code names it too, the edge counts.

    python3 .ci/import_cycles.py reference/src simulator/src spec-tests/src
"""
import os, re, sys
from collections import defaultdict

def files_of(src):
    mods = {}
    for root, _, fs in os.walk(src):
        for f in fs:
            if not f.endswith('.rs'): continue
            p = os.path.join(root, f)
            rel = os.path.relpath(p, src)[:-3].split(os.sep)
            if rel[-1] in ('mod', 'lib', 'main'): rel = rel[:-1]
            if rel and rel[0] == 'bin': continue
            mods[tuple(rel)] = p
    return mods

def path_attrs(text, modpath, mods, p):
    # `#[path = "x.rs"] mod name;` -> register
    for m in re.finditer(r'#\[path = "([^"]+)"\]\s*mod (\w+);', text):
        target = os.path.normpath(os.path.join(os.path.dirname(p), m.group(1)))
        mods[modpath + (m.group(2),)] = target

def use_paths(text):
    """Each path a `use` names, with whether that `use` is a `pub use` (a re-export)."""
    text = re.sub(r'//[^\n]*', '', text)
    out = []
    for m in re.finditer(r'(\bpub(?:\([^)]*\))?\s+)?\buse\s+([^;]+);', text):
        clause = re.sub(r'\s+as\s+\w+', '', m.group(2))
        for path in expand(clause.replace('\n', ' ').replace(' ', '')):
            out.append((path, m.group(1) is not None))
    return out

def names_outside_uses(text, name):
    """Whether `name` appears in `text` outside its `use` statements."""
    text = re.sub(r'//[^\n]*', '', text)
    text = re.sub(r'\buse\s+[^;]+;', '', text)
    text = re.sub(r'\bmod\s+\w+;', '', text)
    return re.search(r'\b' + re.escape(name) + r'\b', text) is not None

def expand(t):
    # a::b::{c, d::{e}} -> [a::b::c, a::b::d::e]
    i = t.find('{')
    if i < 0:
        return [t.split(' as ')[0]]
    prefix = t[:i]
    inner = t[i+1:t.rfind('}')]
    parts, depth, cur = [], 0, ''
    for ch in inner:
        if ch == ',' and depth == 0:
            parts.append(cur); cur = ''
            continue
        depth += ch == '{'
        depth -= ch == '}'
        cur += ch
    if cur: parts.append(cur)
    res = []
    for p in parts:
        for e in expand(p):
            res.append(prefix + e if e != 'self' else prefix.rstrip(':'))
    return res

def resolve(path, modpath, mods):
    segs = [s for s in path.split('::') if s]
    if not segs: return None
    if segs[0] == 'crate': base, segs = (), segs[1:]
    elif segs[0] == 'super':
        base = modpath
        while segs and segs[0] == 'super':
            base = base[:-1]; segs = segs[1:]
    elif segs[0] == 'self': base, segs = modpath, segs[1:]
    elif modpath + (segs[0],) in mods: base = modpath
    else: return None  # an external crate
    best = base if base in mods else None
    cur = base
    for s in segs:
        cur = cur + (s,)
        if cur in mods: best = cur
        else: break
    return best

def main(src):
    mods = files_of(src)
    for mp, p in list(mods.items()):
        path_attrs(open(p).read(), mp, mods, p)
    edges = defaultdict(set)
    for mp, p in mods.items():
        text = open(p).read()
        # An inline `mod tests { use super::*; }` imports from this very file: not an edge.
        cut = re.search(r'#\[cfg\(test\)\]\s*mod \w+ \{', text)
        if cut:
            text = text[:cut.start()]
        for u, reexport in use_paths(text):
            t = resolve(u, mp, mods)
            if t is None or t == mp or mods[t] == p:
                continue
            below = t[:len(mp)] == mp
            if reexport and below and not names_outside_uses(text, u.split('::')[-1]):
                continue
            edges[p].add(mods[t])
    # Tarjan
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def strong(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: comps.append(comp)
    for v in list(mods.values()):
        if v not in index: strong(v)
    print(f'{src}: {len(mods)} files, {sum(len(e) for e in edges.values())} import edges, {len(comps)} cycles')
    for c in comps:
        print('  cycle:', ' <-> '.join(sorted(c)))
    return len(comps)

found = 0
for s in sys.argv[1:]:
    found += main(s)
sys.exit(1 if found else 0)
