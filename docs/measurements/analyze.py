# SPDX-License-Identifier: MIT
import sys, os, subprocess, collections, re
sys.path.insert(0, "/tmp/study")
from walk import R, walk_all
py = sys.argv[1]; root = sys.argv[2]; limit=int(sys.argv[3]) if len(sys.argv)>3 else 10**9
NAMECH = re.compile(rb"^[A-Za-z0-9_]*\Z")
stats = collections.Counter()
files=[]
for d,_,fs in os.walk(root):
    for f in fs:
        if f.endswith(".py"): files.append(os.path.join(d,f))
files.sort(); files=files[:limit]
for f in files:
    p = subprocess.run([py, "-I", "-S", "/tmp/study/fresh.py", f], capture_output=True)
    if p.returncode: continue
    r = R(p.stdout); root_o = r.obj("root")
    for o in walk_all(root_o):
        if o.t in "stuaAzZ" and o.t != "s":
            interned = o.t in "tAZ"
            ctxs = set()
            for c in o.ctx:
                base = c.split("/")[0]
                ctxs.add(base + ("(nested)" if "/" in c else ""))
            if o.t in "aAzZ":
                cls = "namechars" if NAMECH.match(o.val) else "other"
                if len(o.val)==1: cls="1char"
                if len(o.val)==0: cls="empty"
            else:
                cls = "nonascii1" if len(o.val.decode('utf-8','surrogatepass'))==1 else "nonascii"
            stats[(tuple(sorted(ctxs)), cls, interned)] += 1
for k,v in sorted(stats.items(), key=lambda kv:(kv[0][0],kv[0][1],kv[0][2])):
    print(v, k)
