# Heading 8 — backups.
package firebreak.checks.backups

import data.firebreak.lib

none := count(input.backups) == 0

results contains lib.result("FB-BAK-001", "fail", "no backup recorded", []) if none

results contains lib.result(id, "not_applicable", "no backup recorded (see FB-BAK-001)", []) if {
	none
	some id in {"FB-BAK-002", "FB-BAK-003", "FB-BAK-004", "FB-BAK-005"}
}

# An unset RPO is not evaluable, not an assumed 24 hours.
late(b) := sprintf("last success %d hours ago, RPO %d hours", [b.hours_since_success, b.rpo_hours]) if {
	b.rpo_hours != null
	b.hours_since_success > b.rpo_hours
}

results contains lib.check(
	{"control": "FB-BAK-001", "noun": "backups", "fails": "older than their RPO", "need": "backups (last_success, rpo_hours)"},
	count(input.backups),
	[{"kind": "backup", "id": b.id, "detail": msg} | some b in input.backups; msg := late(b)],
	array.concat(
		[{"kind": "backup", "id": b.id, "detail": "no successful run recorded"} | some b in input.backups; b.hours_since_success == null],
		[{"kind": "backup", "id": b.id, "detail": "RPO not recorded"} | some b in input.backups; b.hours_since_success != null; b.rpo_hours == null],
	),
) if not none

# "Maintain offline backups": immutable storage still online is not an
# offline (air-gapped) copy.
offline_detail(b) := "immutable but online, no offline copy" if b.immutable == true
else := "offline=false, immutable=false" if b.immutable == false
else := "offline=false"

results contains lib.check(
	{"control": "FB-BAK-002", "noun": "backups", "fails": "no offline (air-gapped) copy", "need": "backups (offline)"},
	count(input.backups),
	[{"kind": "backup", "id": b.id, "detail": offline_detail(b)} | some b in input.backups; b.offline == false],
	[{"kind": "backup", "id": b.id, "detail": "offline unknown"} | some b in input.backups; b.offline == null],
) if not none

# "Encrypted with separate, offline encryption keys": both halves.
key_fault(b) := "not encrypted" if b.encrypted == false
else := "keys_separate=false" if b.keys_separate == false

results contains lib.check(
	{"control": "FB-BAK-003", "noun": "backups", "fails": "not encrypted with keys held separately offline", "need": "backups (encrypted, keys_separate)"},
	count(input.backups),
	[{"kind": "backup", "id": b.id, "detail": msg} | some b in input.backups; msg := key_fault(b)],
	[{"kind": "backup", "id": b.id, "detail": "encryption or key custody unknown"} | some b in input.backups; not key_fault(b); null in {b.encrypted, b.keys_separate}],
) if not none

untested(b) := "no restore test recorded" if b.days_since_restore_test == null
else := sprintf("last restore test %d days ago", [b.days_since_restore_test]) if b.days_since_restore_test > input.settings.restore_test_days

results contains lib.check(
	{"control": "FB-BAK-004", "noun": "backups", "fails": "restore not tested within {restore_test_days} days", "need": "backups (last_restore_test)"},
	count(input.backups),
	[{"kind": "backup", "id": b.id, "detail": msg} | some b in input.backups; msg := untested(b)],
	[],
) if not none

critical := [a | some a in input.assets; a.critical]

gold_backup := [b | some b in input.backups; b.gold_images == true]

# Gold images per critical system: each critical asset is judged; a
# backup job's gold_images flag speaks only when no critical system is
# recorded (it cannot say which systems it covers).
results contains lib.check(
	{"control": "FB-BAK-005", "noun": "critical systems", "fails": "no gold image", "need": "assets (gold_image)"},
	count(critical),
	[{"kind": "asset", "id": a.id, "detail": "%s: gold_image=false", "args": [a.hostname]} | some a in critical; a.gold_image == false],
	[{"kind": "asset", "id": a.id, "detail": "gold_image unknown"} | some a in critical; a.gold_image == null],
) if {
	not none
	count(critical) > 0
}

results contains r if {
	not none
	count(critical) == 0
	r := verdict_gold
}

verdict_gold := lib.result("FB-BAK-005", "pass", "gold images maintained (no critical system recorded)", [{"kind": "backup", "id": b.id, "detail": "gold_images=true"} | some b in gold_backup]) if count(gold_backup) > 0
else := lib.result("FB-BAK-005", "fail", "no gold images of critical systems maintained", ev) if {
	ev := [{"kind": "backup", "id": b.id, "detail": "gold_images=false"} | some b in input.backups; b.gold_images == false]
	count(ev) > 0
} else := lib.not_evaluable("FB-BAK-005", "gold images not recorded", "backups (gold_images) or assets (critical, gold_image)")
