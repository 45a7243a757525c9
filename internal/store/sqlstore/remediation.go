package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

const remediationCols = `item_key, rank, action, tenants, gain, proof, controls, owner, due, state, run_id, done_at, created, updated`

func scanRemediation(row interface{ Scan(...any) error }) (store.Remediation, error) {
	var r store.Remediation
	var tenants, controls string
	var due, done, created, updated int64
	if err := row.Scan(&r.Key, &r.Rank, &r.Action, &tenants, &r.Gain, &r.Proof, &controls, &r.Owner, &due, &r.State, &r.RunID, &done, &created, &updated); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(tenants), &r.Tenants); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(controls), &r.Controls); err != nil {
		return r, err
	}
	if due != 0 {
		r.Due = FromMicros(due)
	}
	if done != 0 {
		r.DoneAt = FromMicros(done)
	}
	r.Created, r.Updated = FromMicros(created), FromMicros(updated)
	return r, nil
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// SyncRemediation implements store.RemediationStore.
func (d *DB) SyncRemediation(ctx context.Context, runID int64, steps []store.Remediation, stillFailing map[string][]string, at time.Time) error {
	if err := d.check(); err != nil {
		return err
	}
	now := d.stamp()
	return d.tx(ctx, func(tx *sql.Tx) error {
		keys := map[string]bool{}
		for _, st := range steps {
			if st.Key == "" || keys[st.Key] {
				return fmt.Errorf("remediation step %q: %w", st.Key, store.ErrInvalid)
			}
			keys[st.Key] = true
			_, err := tx.ExecContext(ctx, d.q(`INSERT INTO remediation (`+remediationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, '', 0, ?, ?, 0, ?, ?)
ON CONFLICT (item_key) DO UPDATE SET rank = excluded.rank, action = excluded.action, tenants = excluded.tenants, gain = excluded.gain,
  proof = excluded.proof, controls = excluded.controls, run_id = excluded.run_id, updated = excluded.updated,
  state = CASE WHEN remediation.state = ? THEN ? ELSE remediation.state END,
  done_at = CASE WHEN remediation.state = ? THEN 0 ELSE remediation.done_at END`),
				st.Key, st.Rank, st.Action, jsonList(st.Tenants), st.Gain, st.Proof, jsonList(st.Controls), store.RemediationOpen, runID, Micros(now), Micros(now),
				store.RemediationDone, store.RemediationOpen, store.RemediationDone)
			if err != nil {
				return fmt.Errorf("storing remediation step %s: %w", st.Key, err)
			}
		}
		// Steps of an earlier plan that this one no longer lists: done,
		// unless the controls they fix still fail.
		rows, err := tx.QueryContext(ctx, d.q(`SELECT item_key FROM remediation WHERE state <> ?`), store.RemediationDone)
		if err != nil {
			return fmt.Errorf("listing remediation steps: %w", err)
		}
		var gone []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			if !keys[k] {
				gone = append(gone, k)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range gone {
			if cs, ok := stillFailing[k]; ok && len(cs) > 0 {
				if _, err := tx.ExecContext(ctx, d.q(`UPDATE remediation SET controls = ?, updated = ? WHERE item_key = ?`), jsonList(cs), Micros(now), k); err != nil {
					return fmt.Errorf("keeping remediation step %s: %w", k, err)
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, d.q(`UPDATE remediation SET state = ?, done_at = ?, updated = ? WHERE item_key = ?`),
				store.RemediationDone, Micros(at), Micros(now), k); err != nil {
				return fmt.Errorf("closing remediation step %s: %w", k, err)
			}
		}
		return nil
	})
}

// ListRemediation implements store.RemediationStore. Tenant scoping is
// applied to the decoded tenant lists (the queue is a few dozen rows).
func (d *DB) ListRemediation(ctx context.Context, scope store.Scope, f store.RemediationFilter) ([]store.Remediation, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if !scope.Valid() {
		return []store.Remediation{}, nil
	}
	q := `SELECT ` + remediationCols + ` FROM remediation`
	var args []any
	if f.Open {
		q += ` WHERE state <> ?`
		args = append(args, store.RemediationDone)
	}
	q += ` ORDER BY CASE WHEN state = 'done' THEN 1 ELSE 0 END, rank, item_key`
	all, err := queryAll(ctx, d, "listing remediation steps", q, args, scanRemediation)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, r := range all {
		if (!scope.AllTenants && !slices.Contains(r.Tenants, scope.Tenant)) || (f.Tenant != "" && !slices.Contains(r.Tenants, f.Tenant)) {
			continue
		}
		if !scope.AllTenants {
			r.Tenants = []string{scope.Tenant} // name no other customer
		}
		out = append(out, r)
	}
	return out, nil
}

// UpdateRemediation implements store.RemediationStore.
func (d *DB) UpdateRemediation(ctx context.Context, scope store.Scope, key, owner string, due time.Time, state string) (*store.Remediation, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if !scope.AllTenants {
		return nil, fmt.Errorf("remediation step %s: %w", key, store.ErrNotFound)
	}
	if state != store.RemediationOpen && state != store.RemediationInProgress && state != store.RemediationDone {
		return nil, fmt.Errorf("remediation state %q: %w", state, store.ErrInvalid)
	}
	now := d.stamp()
	var dueM, doneM int64
	if !due.IsZero() {
		dueM = Micros(due)
	}
	if state == store.RemediationDone {
		doneM = Micros(now)
	}
	res, err := d.w.ExecContext(ctx, d.q(`UPDATE remediation SET owner = ?, due = ?, state = ?, done_at = ?, updated = ? WHERE item_key = ?`), owner, dueM, state, doneM, Micros(now), key)
	if err != nil {
		return nil, fmt.Errorf("updating remediation step %s: %w", key, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("remediation step %s: %w", key, store.ErrNotFound)
	}
	r, err := scanRemediation(d.w.QueryRowContext(ctx, d.q(`SELECT `+remediationCols+` FROM remediation WHERE item_key = ?`), key))
	if err != nil {
		return nil, fmt.Errorf("reading remediation step %s: %w", key, err)
	}
	return &r, nil
}
