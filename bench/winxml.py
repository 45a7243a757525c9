#!/usr/bin/env python3
"""Render a Winlogbeat JSON lines file as Windows event XML, one <Event> per
line as `wevtutil qe Security /f:xml` prints it, for timing the XML reader
against the JSON one on the same records (bench/sshd.sh). Not part of the
product.

usage: bench/winxml.py IN.json OUT.xml
"""
import json
import sys
from xml.sax.saxutils import escape, quoteattr

HEAD = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<Provider Name={prov} Guid='{{54849625-5478-4994-a5ba-3e3b0328c30d}}'/><EventID>{id}</EventID>"
        "<Version>0</Version><Level>0</Level><Task>12544</Task><Opcode>0</Opcode>"
        "<Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime='{ts}'/>"
        "<EventRecordID>{rec}</EventRecordID><Correlation/><Execution ProcessID='636' ThreadID='1120'/>"
        "<Channel>{ch}</Channel><Computer>{host}</Computer><Security/></System><EventData>")

with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
    for n, line in enumerate(src, 1):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        w = r.get("winlog", {})
        ts = r["@timestamp"].replace("Z", "0000Z") if r["@timestamp"].endswith("Z") else r["@timestamp"]
        out.write(HEAD.format(prov=quoteattr(w.get("provider_name", "Microsoft-Windows-Security-Auditing")),
                              id=w.get("event_id", r.get("event", {}).get("code")), ts=ts, rec=n,
                              ch=escape(w.get("channel", "Security")), host=escape(w.get("computer_name", ""))))
        for k, v in (w.get("event_data") or {}).items():
            out.write("<Data Name=%s>%s</Data>" % (quoteattr(k), escape(str(v))))
        out.write("</EventData></Event>\r\n")
