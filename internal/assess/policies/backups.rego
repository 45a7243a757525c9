# Heading 8 — backups.
package firebreak.checks.backups

import data.firebreak.lib

none := count(input.backups) == 0

results contains lib.result("FB-BAK-001", "fail", "no backup recorded", []) if none

results contains lib.result(id, "not_applicable", "no backup recorded (see FB-BAK-001)", []) if {
	none
	some id in {"FB-BAK-002", "FB-BAK-003", "FB-BAK-004", "FB-BAK-005"}
}

rpo(b) := b.rpo_hours if b.rpo_hours != null
else := 24

late(b) := sprintf("last success %d hours ago, RPO %d hours", [b.hours_since_success, rpo(b)]) if b.hours_since_success > rpo(b)

results contains lib.check(
	{"control": "FB-BAK-001", "noun": "backups", "fails": "older than their RPO", "need": "backups (last_success)"},
	count(input.backups),
	[{"kind": "backup", "id": b.id, "detail": msg} | some b in input.backups; msg := late(b)],
	[{"kind": "backup", "id": b.id, "detail": "no successful run recorded"} | some b in input.backups; b.hours_since_success == null],
) if not none

isolated(b) if b.offline == true

isolated(b) if b.immutable == true

results contains lib.check(
	{"control": "FB-BAK-002", "noun": "backups", "fails": "neither offline nor immutable", "need": "backups (offline/immutable)"},
	count(input.backups),
	[{"kind": "backup", "id": b.id, "detail": "offline=false, immutable=false"} | some b in input.backups; b.offline == false; b.immutable == false],
	[{"kind": "backup", "id": b.id, "detail": "offline/immutable unknown"} | some b in input.backups; not isolated(b); not all_false(b)],
) if not none

all_false(b) if {
	b.offline == false
	b.immutable == false
}

results contains lib.check(
	{"control": "FB-BAK-003", "noun": "backups", "fails": "encryption keys not held separately offline", "need": "backups (keys_separate)"},
	count(input.backups),
	[{"kind": "backup", "id": b.id, "detail": "keys_separate=false"} | some b in input.backups; b.keys_separate == false],
	[{"kind": "backup", "id": b.id, "detail": "keys_separate unknown"} | some b in input.backups; b.keys_separate == null],
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

results contains lib.result("FB-BAK-005", "pass", "gold images maintained", [{"kind": "backup", "id": b.id, "detail": "gold_images=true"} | some b in gold_backup]) if {
	not none
	count(gold_backup) > 0
}

results contains lib.check(
	{"control": "FB-BAK-005", "noun": "critical systems", "fails": "no gold image", "need": "assets (gold_image)"},
	count(critical),
	[{"kind": "asset", "id": a.id, "detail": "%s: gold_image=false", "args": [a.hostname]} | some a in critical; a.gold_image == false],
	[{"kind": "asset", "id": a.id, "detail": "gold_image unknown"} | some a in critical; a.gold_image == null],
) if {
	not none
	count(gold_backup) == 0
	count(critical) > 0
}

results contains r if {
	not none
	count(gold_backup) == 0
	count(critical) == 0
	ev := [{"kind": "backup", "id": b.id, "detail": "gold_images=false"} | some b in input.backups; b.gold_images == false]
	r := verdict_gold(ev)
}

verdict_gold(ev) := lib.result("FB-BAK-005", "fail", "no gold images of critical systems maintained", ev) if count(ev) > 0
else := lib.not_evaluable("FB-BAK-005", "gold images not recorded", "backups (gold_images) or assets (critical, gold_image)")
