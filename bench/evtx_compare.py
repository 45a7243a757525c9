#!/usr/bin/python3
"""Compare firebreak's .evtx reader with python-evtx (Debian python3-evtx).

usage: bench/evtx_compare.py EVTXDUMP_BINARY FILE.evtx...

For every record, both readers' values are flattened to path=value lines the
same way (attributes as path components, <Data Name="X"> as EventData.X),
namespace declarations and empty values left out, and the multisets are
compared after normalising the known formatting differences: python-evtx
zero-pads hex and lower-cases GUIDs, prints times as "YYYY-MM-DD
HH:MM:SS.ffffff" through a float (so they are compared to 100 microseconds)
where Windows' XML view (and firebreak) print 7 fractional digits, and its XML
round trip turns CR LF into LF. Exits 1 on any other difference.
"""
import collections, re, subprocess, sys
import xml.etree.ElementTree as ET
import Evtx.Evtx as evtx

def walk(el, path, out):
    tag = el.tag.split('}')[-1]
    p = path + "." + tag if path else tag
    name = el.attrib.get('Name') if tag == 'Data' else None
    for k, v in el.attrib.items():
        if tag == 'Data' and k == 'Name':
            continue
        out.append("%s.%s=%s" % (p, k.split('}')[-1], esc(v)))
    txt = el.text or ''
    if name is not None:
        out.append("%s.%s=%s" % (path, name, esc(txt)))
    elif txt.strip():
        out.append("%s=%s" % (p, esc(txt)))
    for c in el:
        walk(c, p, out)

TIME = re.compile(r'(\d{4}-\d\d-\d\d)[t ](\d\d:\d\d:\d\d)(\.\d+)?z?$')

def esc(v):
    return v.replace('\\', '\\\\').replace('\n', '\\n').replace('\r', '\\r').replace('\t', '\\t')

def norm(line):
    k, _, v = line.partition('=')
    v = v.strip().lower()
    v = re.sub(r'0x0+([0-9a-f])', r'0x\1', v)
    m = TIME.match(v)
    if m:  # times are compared apart, with a tolerance (see times)
        frac = (m.group(3) or '.0')[1:]
        v = "%s %s.%s" % (m.group(1), m.group(2), frac.ljust(7, '0')[:7])
    # an XML parser turns CR LF into LF inside text
    return k.lower() + '=' + v.replace('\\r', '')

def ticks(v):
    m = TIME.match(v.partition('=')[2])
    return m and (m.group(1), m.group(2), int(m.group(3)[1:]) if m.group(3) else 0)

def times(a, b):
    """Drop the time values of a and b that pair up within 10 microseconds
    (python-evtx goes through a float and rounds either way)."""
    ta = sorted(k for k in a.elements() if ticks(k))
    tb = sorted(k for k in b.elements() if ticks(k))
    if len(ta) != len(tb):
        return
    for x, y in zip(ta, tb):
        (d1, s1, f1), (d2, s2, f2) = ticks(x), ticks(y)
        if x.partition('=')[0] == y.partition('=')[0] and d1 == d2 and s1 == s2 and abs(f1 - f2) <= 100:
            a[x] -= 1
            b[y] -= 1

def keep(line):
    k, _, v = line.partition('=')
    return 'xmlns' not in k and v.strip() != ''

def main():
    dump, files = sys.argv[1], sys.argv[2:]
    bad = 0
    total = 0
    for f in files:
        fb = subprocess.run([dump, f], capture_output=True, text=True, check=True).stdout.split('\n')
        fbc = collections.Counter(norm(l) for l in fb if '=' in l and keep(l))
        py = []
        with evtx.Evtx(f) as log:
            for rec in log.records():
                walk(ET.fromstring(rec.xml()), "", py)
        pyc = collections.Counter(norm(l) for l in py if keep(l))
        nfb, npy = sum(fbc.values()), sum(pyc.values())
        times(fbc, pyc)
        diff = (fbc - pyc) + (pyc - fbc)
        total += nfb
        print("%s: firebreak %d values, python-evtx %d, %d differ" % (f, nfb, npy, sum(diff.values())))
        for k in list(diff)[:5]:
            print("   ", k)
        bad += sum(diff.values())
    print("total %d values, %d differences" % (total, bad))
    sys.exit(1 if bad else 0)

main()
