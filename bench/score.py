#!/usr/bin/env python3
"""Score detections against a firebreak gen-logs truth file.

usage: score.py TRUTH.jsonl firebreak INCIDENTS.json
       score.py TRUTH.jsonl ips FILE          (one flagged IP per line: fail2ban ids, crowdsec alerts)

Attacker keys: the source address for brute force, slow brute force, spray,
cross-tenant spray, stuffing and success after spray; the tenant for a
distributed spray; the user (operator) for MFA fatigue and RMM fan-out. Everything flagged that is not an
attacker key (a benign typo user's address, a NAT'd office, anything else) is
a false positive.
"""
import collections
import json
import sys

# kind -> the rule expected to report it
EXPECTED = {
    "brute_force": ("ssh_bruteforce", "auth_bruteforce"),
    "slow_brute_force": ("ssh_slow_bruteforce", "auth_slow_bruteforce"),
    "spray": ("password_spray_source", "password_spray_velocity"),
    "credential_stuffing": "credential_stuffing",
    "distributed_spray": "distributed_spray",
    "cross_tenant_spray": "cross_tenant_spray",
    "success_after_spray": ("success_after_spray", "success_after_bruteforce"),
    "mfa_fatigue": "mfa_fatigue",
    "rmm_fanout": ("rmm_fanout_operator", "rmm_fanout_console"),
}


def actor_key(a):
    if a["kind"] == "distributed_spray":
        return ("tenant", a["tenant"])
    if a["kind"] in ("mfa_fatigue", "rmm_fanout"):
        return ("user", a["user"])
    return ("ip", a["source_ip"])


def flat(inc):
    """An incident as detect --format json writes it (an ECS alert document,
    or the older flat form) -> rule_name, key, tenant."""
    if "rule_name" in inc:
        return inc
    fb = inc.get("firebreak") or {}
    return {"rule_name": (inc.get("rule") or {}).get("name", ""), "key": fb.get("key") or {},
            "tenant": (inc.get("organization") or {}).get("id", "")}


def incident_key(inc):
    k = inc.get("key") or {}
    if "source.ip" in k:
        return ("ip", k["source.ip"])
    if "user.name" in k:
        return ("user", k["user.name"])
    if not k and inc.get("tenant"):
        return ("tenant", inc["tenant"])
    return ("other", json.dumps(k, sort_keys=True))


def crowdsec_window(path):
    """Seconds between CrowdSec's "Starting processing data" and
    "Acquisition is finished" log lines."""
    import datetime
    import re
    start = end = None
    for line in open(path, errors="replace"):
        m = re.search(r'time="(\d\d-\d\d-\d{4} \d\d:\d\d:\d\d)"', line)
        if not m:
            continue
        t = datetime.datetime.strptime(m.group(1), "%d-%m-%Y %H:%M:%S")
        if "Starting processing data" in line and start is None:
            start = t
        if "Acquisition is finished" in line:
            end = t
    print((end - start).total_seconds() if start and end else 0)


def main():
    if sys.argv[1] == "crowdsec-window":
        crowdsec_window(sys.argv[2])
        return
    truth_path, mode, path = sys.argv[1:4]
    actors = [json.loads(l) for l in open(truth_path) if l.strip()]
    attackers = {}
    for a in actors:
        if a["attacker"]:
            attackers[actor_key(a)] = a
    out = {"attackers": len(attackers)}
    if mode == "firebreak":
        doc = json.load(open(path))
        incs = [flat(i) for i in doc["incidents"]]
        flagged = {incident_key(i) for i in incs}
        per = collections.Counter((i["rule_name"], incident_key(i), i.get("tenant", "")) for i in incs)
        dups = sum(1 for c in per.values() if c > 1)
        by_rule_key = {(i["rule_name"], incident_key(i)) for i in incs}
        def expected(kind):
            e = EXPECTED.get(kind, ())
            return e if isinstance(e, tuple) else (e,)
        missed_rule = [f'{a["kind"]} {k}' for k, a in attackers.items()
                       if not any((r, k) in by_rule_key for r in expected(a["kind"]))]
        alerts = sum(i.get("alerts", 0) for i in incs)
        out.update(incidents=len(incs), duplicate_incidents=dups, alerts=alerts,
                   expected_rule_missed=missed_rule)
    else:
        flagged = {("ip", l.strip()) for l in open(path) if l.strip()}
    tp = flagged & attackers.keys()
    fp = flagged - attackers.keys()
    fn = attackers.keys() - flagged
    out.update(flagged=len(flagged), true_positives=len(tp), false_positives=len(fp), false_negatives=len(fn),
               precision=round(len(tp) / len(flagged), 4) if flagged else 0.0,
               recall=round(len(tp) / len(attackers), 4) if attackers else 0.0,
               fp_sample=sorted(map(str, fp))[:5], fn_sample=sorted(f"{attackers[k]['kind']} {k}" for k in fn)[:5])
    if mode == "firebreak" and tp:
        out["alerts_per_attacker"] = round(out["alerts"] / len(tp), 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
