# SPDX-License-Identifier: MIT
"""Parse marshal v4/v5 into objects with identity (refs resolved), record string contexts."""
import struct, sys
CODE_FIELDS = "iiiiiooooooooioo"
NAMES = ["argcount","posonly","kwonly","stacksize","flags","code","consts","names","localsplusnames","localspluskinds","filename","name","qualname","firstlineno","linetable","exceptiontable"]
class Obj:
    __slots__=("t","flag","val","kids","id","ctx")
    def __init__(s,t,flag): s.t=t; s.flag=flag; s.val=None; s.kids=[]; s.ctx=set()
class R:
    def __init__(s,d): s.d=d; s.p=0; s.refs=[]
    def b(s): v=s.d[s.p]; s.p+=1; return v
    def i32(s): v=struct.unpack_from("<i",s.d,s.p)[0]; s.p+=4; return v
    def take(s,n): v=s.d[s.p:s.p+n]; s.p+=n; return v
    def obj(s, ctx):
        c=s.b(); flag=c&0x80; t=chr(c&0x7f)
        if t in "0NFTS.": return Obj(t,0)
        if t=="r":
            o=s.refs[s.i32()]; o.ctx.add(ctx); return o
        o=Obj(t,flag); o.ctx.add(ctx)
        if flag: s.refs.append(o)
        if t=="i": o.val=s.i32()
        elif t in "Ig": o.val=s.take(8)
        elif t=="y": o.val=s.take(16)
        elif t=="l": n=s.i32(); o.val=s.take(2*abs(n))
        elif t in "stuaA": n=s.i32(); o.val=s.take(n)
        elif t in "zZ": n=s.b(); o.val=s.take(n)
        elif t==")":
            for _ in range(s.b()): o.kids.append(s.obj(ctx+"/tuple"))
        elif t in "([<>":
            for _ in range(s.i32()): o.kids.append(s.obj(ctx+"/"+t))
        elif t==":":
            for _ in range(3): o.kids.append(s.obj(ctx+"/slice"))
        elif t=="{":
            while True:
                k=s.obj(ctx+"/dk")
                if k.t=="0": break
                o.kids.append(k); o.kids.append(s.obj(ctx+"/dv"))
        elif t=="c":
            for i,f in enumerate(CODE_FIELDS):
                if f=="i": s.i32()
                else: o.kids.append(s.obj(NAMES[i]))
        else: raise ValueError(t)
        return o
def walk_all(root):
    seen=set(); out=[]
    st=[root]
    while st:
        o=st.pop()
        if id(o) in seen: continue
        seen.add(id(o)); out.append(o); st.extend(o.kids)
    return out
