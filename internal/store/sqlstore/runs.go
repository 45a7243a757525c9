package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// SaveRun implements store.RunStore.
func (d *DB) SaveRun(ctx context.Context, snapshotID int64, trigger string, r *assess.Report) (store.Run, error) {
	if r == nil {
		return store.Run{}, fmt.Errorf("storing run: nil report: %w", store.ErrInvalid)
	}
	run := store.Run{SnapshotID: snapshotID, Trigger: trigger, At: r.At.UTC().Truncate(time.Microsecond), Created: d.stamp(), Provider: r.Provider, KEV: r.KEV, Scores: r.Scores}
	for _, res := range r.Results {
		switch res.Status {
		case assess.StatusPass:
			run.Pass++
		case assess.StatusFail:
			run.Fail++
		default:
			run.Other++
		}
	}
	err := d.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, d.q(`INSERT INTO runs (snapshot_id, run_trigger, at, created, provider, kev, version, sources, pass, fail, other)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			snapshotID, trigger, Micros(run.At), Micros(run.Created), r.Provider, r.KEV, r.Version, jsonText(r.Sources), run.Pass, run.Fail, run.Other).Scan(&run.ID); err != nil {
			return err
		}
		for i, s := range r.Scores {
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO run_scores (run_id, pos, subject, name, score, pass, fail, other) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
				run.ID, i, s.Subject, s.Name, s.Score, s.Pass, s.Fail, s.Other); err != nil {
				return err
			}
		}
		const cols, chunk = 11, 200
		for start := 0; start < len(r.Results); start += chunk {
			end := min(start+chunk, len(r.Results))
			args := make([]any, 0, (end-start)*cols)
			for i := start; i < end; i++ {
				res := &r.Results[i]
				body, err := json.Marshal(res)
				if err != nil {
					return err
				}
				args = append(args, run.ID, i, res.Subject, res.Control, res.Object, string(res.Status), res.Severity, res.Title, res.Heading, res.Message, string(body))
			}
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO run_results (run_id, idx, subject, control, object, status, severity, title, heading, message, body) VALUES `+placeholders(end-start, cols)), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return store.Run{}, fmt.Errorf("storing run: %w", err)
	}
	return run, nil
}

const runCols = `id, snapshot_id, run_trigger, at, created, provider, kev, pass, fail, other`

// scanRun reads runCols, then extra (columns the query selects after them).
func scanRun(row interface{ Scan(...any) error }, r *store.Run, extra ...any) error {
	var at, created int64
	if err := row.Scan(append([]any{&r.ID, &r.SnapshotID, &r.Trigger, &at, &created, &r.Provider, &r.KEV, &r.Pass, &r.Fail, &r.Other}, extra...)...); err != nil {
		return err
	}
	r.At, r.Created = FromMicros(at), FromMicros(created)
	return nil
}

// scores loads a run's scores visible in the scope.
func (d *DB) scores(ctx context.Context, scope store.Scope, runID int64) ([]assess.Score, error) {
	cond, args := scopeCond(scope, "subject")
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT subject, name, score, pass, fail, other FROM run_scores WHERE run_id = ? AND `+cond+` ORDER BY pos`), append([]any{runID}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []assess.Score{}
	for rows.Next() {
		var s assess.Score
		if err := rows.Scan(&s.Subject, &s.Name, &s.Score, &s.Pass, &s.Fail, &s.Other); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// scopeRun limits a run's counts to the scope's tenant.
func scopeRun(scope store.Scope, r *store.Run) {
	if scope.AllTenants {
		return
	}
	r.Pass, r.Fail, r.Other = 0, 0, 0
	for _, s := range r.Scores {
		r.Pass, r.Fail, r.Other = s.Pass, s.Fail, s.Other
	}
}

// ListRuns implements store.RunStore.
func (d *DB) ListRuns(ctx context.Context, scope store.Scope, limit int) ([]store.Run, error) {
	if !scope.Valid() {
		return []store.Run{}, nil
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+runCols+` FROM runs ORDER BY id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	out := []store.Run{}
	for rows.Next() {
		var r store.Run
		if err := scanRun(rows, &r); err != nil {
			rows.Close()
			return nil, fmt.Errorf("listing runs: %w", err)
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	for i := range out {
		if out[i].Scores, err = d.scores(ctx, scope, out[i].ID); err != nil {
			return nil, fmt.Errorf("listing runs: %w", err)
		}
		scopeRun(scope, &out[i])
	}
	return out, nil
}

func (d *DB) resolveRun(ctx context.Context, id int64) (int64, error) {
	if id != 0 {
		return id, nil
	}
	err := d.r.QueryRowContext(ctx, `SELECT id FROM runs ORDER BY id DESC LIMIT 1`).Scan(&id)
	return id, noRows(err)
}

// GetRun implements store.RunStore.
func (d *DB) GetRun(ctx context.Context, scope store.Scope, id int64) (*store.Run, *assess.Report, error) {
	if !scope.Valid() {
		return nil, nil, fmt.Errorf("reading run %d: %w", id, store.ErrNotFound)
	}
	var run store.Run
	var version, sources string
	var row *sql.Row
	if id == 0 {
		row = d.r.QueryRowContext(ctx, `SELECT `+runCols+`, version, sources FROM runs ORDER BY id DESC LIMIT 1`)
	} else {
		row = d.r.QueryRowContext(ctx, d.q(`SELECT `+runCols+`, version, sources FROM runs WHERE id = ?`), id)
	}
	if err := scanRun(row, &run, &version, &sources); err != nil {
		return nil, nil, fmt.Errorf("reading run %d: %w", id, noRows(err))
	}
	var err error
	if run.Scores, err = d.scores(ctx, scope, run.ID); err != nil {
		return nil, nil, fmt.Errorf("reading run %d: %w", id, err)
	}
	scopeRun(scope, &run)
	rep := &assess.Report{Version: version, At: run.At, Provider: run.Provider, KEV: run.KEV, Scores: run.Scores}
	if scope.AllTenants {
		// Estate source paths are MSP-level: kept one file per customer,
		// they name every customer.
		_ = json.Unmarshal([]byte(sources), &rep.Sources)
	}
	if rep.Results, err = d.Results(ctx, scope, store.ResultFilter{RunID: run.ID}); err != nil {
		return nil, nil, fmt.Errorf("reading run %d: %w", id, err)
	}
	return &run, rep, nil
}

// Results implements store.RunStore.
func (d *DB) Results(ctx context.Context, scope store.Scope, f store.ResultFilter) ([]assess.Result, error) {
	if !scope.Valid() {
		return []assess.Result{}, nil
	}
	runID, err := d.resolveRun(ctx, f.RunID)
	if err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	cond, args := scopeCond(scope, "subject")
	var where strings.Builder
	where.WriteString("run_id = ? AND " + cond)
	args = append([]any{runID}, args...)
	for _, c := range []struct{ col, v string }{{"subject", f.Subject}, {"control", f.Control}, {"status", string(f.Status)}, {"severity", f.Severity}} {
		if c.v != "" {
			where.WriteString(" AND " + c.col + " = ?")
			args = append(args, c.v)
		}
	}
	cols := `body`
	if f.Brief {
		cols = `control, title, heading, severity, subject, object, status, message`
	}
	qs := `SELECT ` + cols + ` FROM run_results WHERE ` + where.String() + ` ORDER BY idx`
	if f.Limit > 0 {
		qs += ` LIMIT ? OFFSET ?`
		args = append(args, f.Limit, max(f.Offset, 0))
	}
	rows, err := d.r.QueryContext(ctx, d.q(qs), args...)
	if err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	defer rows.Close()
	out := []assess.Result{}
	for rows.Next() {
		var r assess.Result
		if f.Brief {
			var status string
			if err := rows.Scan(&r.Control, &r.Title, &r.Heading, &r.Severity, &r.Subject, &r.Object, &status, &r.Message); err != nil {
				return nil, err
			}
			r.Status = assess.Status(status)
			out = append(out, r)
			continue
		}
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return nil, fmt.Errorf("decoding result: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ScoreHistory implements store.RunStore.
func (d *DB) ScoreHistory(ctx context.Context, scope store.Scope, subject string, limit int) ([]store.ScorePoint, error) {
	out := []store.ScorePoint{}
	if !scope.Allows(subject) {
		return out, nil
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT r.id, r.at, s.subject, s.name, s.score, s.pass, s.fail, s.other
FROM run_scores s JOIN runs r ON r.id = s.run_id WHERE s.subject = ? ORDER BY r.id DESC LIMIT ?`), subject, limit)
	if err != nil {
		return nil, fmt.Errorf("reading score history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p store.ScorePoint
		var at int64
		if err := rows.Scan(&p.RunID, &at, &p.Subject, &p.Name, &p.Score.Score, &p.Pass, &p.Fail, &p.Other); err != nil {
			return nil, err
		}
		p.At = FromMicros(at)
		out = append(out, p)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, rows.Err()
}

type resultKey struct{ control, subject, object string }

type resultRow struct {
	status, severity, title string
}

func (d *DB) resultMap(ctx context.Context, scope store.Scope, runID int64) (map[resultKey]resultRow, []resultKey, error) {
	cond, args := scopeCond(scope, "subject")
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT control, subject, object, status, severity, title FROM run_results WHERE run_id = ? AND `+cond+` ORDER BY idx`), append([]any{runID}, args...)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	m := map[resultKey]resultRow{}
	var order []resultKey
	for rows.Next() {
		var k resultKey
		var r resultRow
		if err := rows.Scan(&k.control, &k.subject, &k.object, &r.status, &r.severity, &r.title); err != nil {
			return nil, nil, err
		}
		if _, dup := m[k]; !dup {
			order = append(order, k)
		}
		m[k] = r
	}
	return m, order, rows.Err()
}

// DiffRuns implements store.RunStore.
func (d *DB) DiffRuns(ctx context.Context, scope store.Scope, from, to int64) ([]store.ResultChange, error) {
	out := []store.ResultChange{}
	if !scope.Valid() {
		return out, nil
	}
	for _, id := range []int64{from, to} {
		var x int64
		if err := d.r.QueryRowContext(ctx, d.q(`SELECT id FROM runs WHERE id = ?`), id).Scan(&x); err != nil {
			return nil, fmt.Errorf("diffing runs: run %d: %w", id, noRows(err))
		}
	}
	a, aOrder, err := d.resultMap(ctx, scope, from)
	if err != nil {
		return nil, fmt.Errorf("diffing runs: %w", err)
	}
	b, bOrder, err := d.resultMap(ctx, scope, to)
	if err != nil {
		return nil, fmt.Errorf("diffing runs: %w", err)
	}
	for _, k := range bOrder {
		nb := b[k]
		na, ok := a[k]
		if ok && na.status == nb.status {
			continue
		}
		out = append(out, store.ResultChange{Control: k.control, Subject: k.subject, Object: k.object, Title: nb.title, Severity: nb.severity,
			From: assess.Status(na.status), To: assess.Status(nb.status)})
	}
	for _, k := range aOrder {
		if _, ok := b[k]; ok {
			continue
		}
		na := a[k]
		out = append(out, store.ResultChange{Control: k.control, Subject: k.subject, Object: k.object, Title: na.title, Severity: na.severity,
			From: assess.Status(na.status)})
	}
	return out, nil
}

// SaveBlast implements store.BlastStore.
func (d *DB) SaveBlast(ctx context.Context, b *store.BlastResult) error {
	b.Created = d.stamp()
	err := d.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, d.q(`INSERT INTO blasts (run_id, snapshot_id, created, body) VALUES (?, ?, ?, ?) RETURNING id`),
			b.RunID, b.SnapshotID, Micros(b.Created), string(b.JSON)).Scan(&b.ID); err != nil {
			return err
		}
		for i := range b.Ranking {
			r := &b.Ranking[i]
			if r.Rank == 0 {
				r.Rank = i + 1
			}
			if r.Tenants == nil {
				r.Tenants = []string{}
			}
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO blast_ranks (blast_id, rank, node, kind, name, score, tenant_count, privilege, tenants) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				b.ID, r.Rank, r.Node, r.Kind, r.Name, r.Score, r.TenantCount, r.Privilege, jsonText(r.Tenants)); err != nil {
				return err
			}
			seen := map[string]bool{}
			for _, t := range r.Tenants {
				if seen[t] {
					continue
				}
				seen[t] = true
				if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO blast_reach (blast_id, tenant, rank) VALUES (?, ?, ?)`), b.ID, t, r.Rank); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storing blast result: %w", err)
	}
	return nil
}

// GetBlast implements store.BlastStore.
func (d *DB) GetBlast(ctx context.Context, scope store.Scope, id int64) (*store.BlastResult, error) {
	if !scope.Valid() {
		return nil, fmt.Errorf("reading blast result: %w", store.ErrNotFound)
	}
	var b store.BlastResult
	var created int64
	var body string
	var row *sql.Row
	if id == 0 {
		row = d.r.QueryRowContext(ctx, `SELECT id, run_id, snapshot_id, created, body FROM blasts ORDER BY id DESC LIMIT 1`)
	} else {
		row = d.r.QueryRowContext(ctx, d.q(`SELECT id, run_id, snapshot_id, created, body FROM blasts WHERE id = ?`), id)
	}
	if err := row.Scan(&b.ID, &b.RunID, &b.SnapshotID, &created, &body); err != nil {
		return nil, fmt.Errorf("reading blast result %d: %w", id, noRows(err))
	}
	b.Created = FromMicros(created)
	var rows *sql.Rows
	var err error
	if scope.AllTenants {
		if body != "" {
			b.JSON = json.RawMessage(body)
		}
		rows, err = d.r.QueryContext(ctx, d.q(`SELECT rank, node, kind, name, score, tenant_count, privilege, tenants FROM blast_ranks WHERE blast_id = ? ORDER BY rank`), b.ID)
	} else {
		rows, err = d.r.QueryContext(ctx, d.q(`SELECT k.rank, k.node, k.kind, k.name, k.score, k.tenant_count, k.privilege, '[]' FROM blast_ranks k
JOIN blast_reach r ON r.blast_id = k.blast_id AND r.rank = k.rank WHERE k.blast_id = ? AND r.tenant = ? ORDER BY k.rank`), b.ID, scope.Tenant)
	}
	if err != nil {
		return nil, fmt.Errorf("reading blast ranking: %w", err)
	}
	defer rows.Close()
	b.Ranking = []store.BlastRank{}
	for rows.Next() {
		var r store.BlastRank
		var tenants string
		if err := rows.Scan(&r.Rank, &r.Node, &r.Kind, &r.Name, &r.Score, &r.TenantCount, &r.Privilege, &tenants); err != nil {
			return nil, err
		}
		if scope.AllTenants {
			_ = json.Unmarshal([]byte(tenants), &r.Tenants)
		} else {
			r.Tenants = []string{scope.Tenant}
		}
		b.Ranking = append(b.Ranking, r)
	}
	return &b, rows.Err()
}
