#!/usr/bin/env python3
# Classes the samples of `perf script` (a run of firebreak detect recorded with
# `perf record -F 4000 -g`) into the stages of docs/performance.md's sshd
# tables: a sample goes to the first stage, in table order, one of whose
# functions is on its stack. Prints each stage's share of the samples.
#
# usage: perf script -i perf.data | python3 bench/perfstages.py
import sys, re, collections
samples=[];cur=[]
for line in sys.stdin:
    line=line.rstrip('\n')
    if not line.strip():
        if cur: samples.append(cur); cur=[]
        continue
    if line[0] not in ' \t': cur=[]; continue
    parts=line.strip().split(None,1)
    if len(parts)<2: continue
    sym=parts[1].rsplit(' (',1)[0]; sym=re.sub(r'\+0x[0-9a-f]+$','',sym)
    cur.append(sym.replace('github.com/firebreak-msp/firebreak/internal/',''))
if cur: samples.append(cur)
rules=[
 ('package initialisation (doInit1)', ['runtime.doInit1']),
 ('estate load (YAML)', ['estate.Load']),
 ('rule pack', ['detect.Builtin','detect.ParseRules','detect.NewEngine','main.loadDetectRules']),
 ('read(2) (lineReader.fill)', ['ingest.(*lineReader).fill']),
 ('ignorable sshd lines (syslogParser.ignorable)', ['ingest.(*syslogParser).ignorable']),
 ('block prefilter (skipSyslog)', ['ingest.(*lineReader).skipSyslog']),
 ('parse: sshd failedAccepted', ['ingest.(*sshdParser).failedAccepted']),
 ('parse: rest (linuxAuth, header, host interning)', ['ingest.(*syslogParser).parse']),
 ('tenant per host', ['ingest.(*Reader).assignTenant']),
 ('line split of the passing lines', ['ingest.(*Reader).record']),
 ('rest of Reader.Next', ['ingest.(*Reader).Next']),
 ('engine: accountsSeen.observe', ['detect.(*accountsSeen).observe']),
 ('engine: recoveryTracker.observe', ['detect.(*recoveryTracker).observe']),
 ('engine: judgePending', ['detect.(*Engine).judgePending']),
 ('engine: fire', ['detect.(*Engine).fire']),
 ('engine: conditions and candidates', ['detect.(*andNode).eval','detect.(*Engine).candidates','detect.(*orNode).eval','detect.(*notNode).eval','detect.(*selNode).eval','detect.(*memoSel).eval']),
 ('engine: rest', ['detect.(*Engine).Process']),
 ('JSON document', ['main.writeDetectJSON']),
 ('background GC', ['runtime.gcBgMarkWorker']),
]
c=collections.Counter()
for s in samples:
    for name,keys in rules:
        if any(k in s for k in keys):
            c[name]+=1; break
    else:
        c['outside main / other']+=1
n=len(samples)
print('samples',n)
for name,_ in rules+[('outside main / other',None)]:
    print(f'| {name} | {100*c[name]/n:.1f}% |')
