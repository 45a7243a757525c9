package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

const incCols = `id, tenant, tenants, rule, title, severity, status, assignee, notes, first_ts, last_ts, count, level, techniques, key_json, detail, created, updated, status_by, status_at`

// incColsBrief is incCols without the notes and the detail (IncidentFilter.Brief).
const incColsBrief = `id, tenant, tenants, rule, title, severity, status, assignee, '' AS notes, first_ts, last_ts, count, level, techniques, key_json, '' AS detail, created, updated, status_by, status_at`

// updatedAfter sets updated to its argument (given twice), or one
// microsecond after the stored value when the clock has not passed it:
// every write of an incident increases updated, which makes it a version
// (store.Incident.Updated).
const updatedAfter = `updated = CASE WHEN ? > updated THEN ? ELSE updated + 1 END`

func scanIncident(row interface{ Scan(...any) error }) (*store.Incident, error) {
	var inc store.Incident
	var tenants, notes, techniques, key, detail string
	var first, last, created, updated, statusAt int64
	if err := row.Scan(&inc.ID, &inc.Tenant, &tenants, &inc.Rule, &inc.Title, &inc.Severity, &inc.Status, &inc.Assignee, &notes,
		&first, &last, &inc.Count, &inc.Level, &techniques, &key, &detail, &created, &updated, &inc.StatusBy, &statusAt); err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(tenants), &inc.Tenants)
	_ = json.Unmarshal([]byte(notes), &inc.Notes)
	_ = json.Unmarshal([]byte(techniques), &inc.Techniques)
	_ = json.Unmarshal([]byte(key), &inc.Key)
	if detail != "" {
		inc.Detail = json.RawMessage(detail)
	}
	inc.First, inc.Last, inc.Created, inc.Updated, inc.StatusAt = FromMicros(first), FromMicros(last), FromMicros(created), FromMicros(updated), FromMicros(statusAt)
	return &inc, nil
}

// incidentScope is the visibility condition of incidents for a scope.
func incidentScope(s store.Scope, tenant string) (string, []any) {
	t := tenant
	if !s.AllTenants {
		if tenant != "" && tenant != s.Tenant {
			return "1=0", nil
		}
		t = s.Tenant
	}
	if !s.Valid() {
		return "1=0", nil
	}
	if t == "" {
		return "1=1", nil
	}
	return "EXISTS (SELECT 1 FROM incident_tenants it WHERE it.incident_id = incidents.id AND it.tenant = ?)", []any{t}
}

// redactIncident hides other tenants from a tenant scope. Of an incident
// that spans other tenants the tenant sees what happened to it, not the
// samples (other tenants' events) nor the MSP's notes (which may name them).
func redactIncident(s store.Scope, inc *store.Incident) {
	if s.AllTenants {
		return
	}
	others := inc.Tenant != s.Tenant
	for _, t := range inc.Tenants {
		if t != s.Tenant {
			others = true
		}
	}
	inc.Tenants = []string{s.Tenant}
	if others {
		inc.Tenant = s.Tenant
		inc.Detail = nil
		inc.Notes = nil
	}
}

func validStatus(s string) bool {
	return s == store.StatusOpen || s == store.StatusAcknowledged || s == store.StatusResolved
}

// UpsertIncident implements store.IncidentStore.
func (d *DB) UpsertIncident(ctx context.Context, in *store.Incident) (*store.Incident, bool, error) {
	if in == nil || in.ID == "" {
		return nil, false, fmt.Errorf("storing incident: empty id: %w", store.ErrInvalid)
	}
	status := in.Status
	if status == "" {
		status = store.StatusOpen
	}
	if !validStatus(status) {
		return nil, false, fmt.Errorf("storing incident %s: status %q: %w", in.ID, status, store.ErrInvalid)
	}
	now := d.stamp()
	tenants := slices.Clone(in.Tenants)
	if tenants == nil {
		tenants = []string{}
	}
	involved := slices.Clone(tenants)
	if in.Tenant != "" && in.Tenant != "msp" {
		involved = append(involved, in.Tenant)
	}
	slices.Sort(involved)
	involved = slices.Compact(involved)
	key := "{}"
	if in.Key != nil {
		key = jsonText(in.Key)
	}
	techniques := in.Techniques
	if techniques == nil {
		techniques = []string{}
	}
	notes := in.Notes
	if notes == nil {
		notes = []store.Note{}
	}
	var out *store.Incident
	created := false
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var x string
		err := tx.QueryRowContext(ctx, d.q(`SELECT id FROM incidents WHERE id = ?`+d.forUpdate()), in.ID).Scan(&x)
		if err == sql.ErrNoRows {
			created = true
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO incidents (`+incCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, tenants = excluded.tenants, rule = excluded.rule, title = excluded.title,
  severity = excluded.severity, last_ts = excluded.last_ts, count = excluded.count, level = excluded.level,
  techniques = excluded.techniques, key_json = excluded.key_json, detail = excluded.detail,
  updated = CASE WHEN excluded.updated > incidents.updated THEN excluded.updated ELSE incidents.updated + 1 END,
  first_ts = CASE WHEN excluded.first_ts <> 0 AND (incidents.first_ts = 0 OR excluded.first_ts < incidents.first_ts) THEN excluded.first_ts ELSE incidents.first_ts END,
  status = CASE WHEN incidents.status = 'resolved' AND excluded.last_ts > incidents.last_ts THEN 'open' ELSE incidents.status END`),
			in.ID, in.Tenant, jsonText(tenants), in.Rule, in.Title, in.Severity, status, in.Assignee, jsonText(notes),
			Micros(in.First.UTC().Truncate(time.Microsecond)), Micros(in.Last.UTC().Truncate(time.Microsecond)), in.Count, in.Level,
			jsonText(techniques), key, string(store.CompactJSON(in.Detail)), Micros(now), Micros(now), "", 0); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM incident_tenants WHERE incident_id = ?`), in.ID); err != nil {
			return err
		}
		for _, t := range involved {
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO incident_tenants (tenant, incident_id) VALUES (?, ?)`), t, in.ID); err != nil {
				return err
			}
		}
		out, err = scanIncident(tx.QueryRowContext(ctx, d.q(`SELECT `+incCols+` FROM incidents WHERE id = ?`), in.ID))
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("storing incident %s: %w", in.ID, err)
	}
	return out, created, nil
}

// GetIncident implements store.IncidentStore.
func (d *DB) GetIncident(ctx context.Context, scope store.Scope, id string) (*store.Incident, error) {
	cond, args := incidentScope(scope, "")
	inc, err := scanIncident(d.r.QueryRowContext(ctx, d.q(`SELECT `+incCols+` FROM incidents WHERE id = ? AND `+cond), append([]any{id}, args...)...))
	if err != nil {
		return nil, fmt.Errorf("reading incident %s: %w", id, noRows(err))
	}
	redactIncident(scope, inc)
	return inc, nil
}

// ListIncidents implements store.IncidentStore.
func (d *DB) ListIncidents(ctx context.Context, scope store.Scope, f store.IncidentFilter) ([]store.Incident, error) {
	cond, args := incidentScope(scope, f.Tenant)
	where := []string{cond}
	for _, c := range []struct{ col, v string }{{"status", f.Status}, {"severity", f.Severity}, {"rule", f.Rule}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "last_ts >= ?")
		args = append(args, Micros(f.Since))
	}
	if len(f.IDs) > 0 {
		where = append(where, "id IN (?"+strings.Repeat(", ?", len(f.IDs)-1)+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit, max(f.Offset, 0))
	cols := incCols
	if f.Brief {
		cols = incColsBrief
	}
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+cols+` FROM incidents WHERE `+strings.Join(where, " AND ")+` ORDER BY last_ts DESC, id LIMIT ? OFFSET ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	defer rows.Close()
	out := []store.Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("listing incidents: %w", err)
		}
		redactIncident(scope, inc)
		out = append(out, *inc)
	}
	return out, rows.Err()
}

// changeIncident runs set (an UPDATE assignment list) on an incident visible
// in the scope and returns the result.
func (d *DB) changeIncident(ctx context.Context, scope store.Scope, id, what, set string, setArgs ...any) (*store.Incident, error) {
	cond, args := incidentScope(scope, "")
	err := d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE incidents SET `+set+` WHERE id = ? AND `+cond), append(append(setArgs, id), args...)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s incident %s: %w", what, id, err)
	}
	return d.GetIncident(ctx, scope, id)
}

// SetIncidentStatus implements store.IncidentStore.
func (d *DB) SetIncidentStatus(ctx context.Context, scope store.Scope, id, status, by string) (*store.Incident, error) {
	if !validStatus(status) {
		return nil, fmt.Errorf("changing incident %s: status %q: %w", id, status, store.ErrInvalid)
	}
	now := Micros(d.stamp())
	return d.changeIncident(ctx, scope, id, "changing status of", `status = ?, status_by = ?, status_at = ?, `+updatedAfter, status, by, now, now, now)
}

// AssignIncident implements store.IncidentStore.
func (d *DB) AssignIncident(ctx context.Context, scope store.Scope, id, assignee string) (*store.Incident, error) {
	return d.changeIncident(ctx, scope, id, "assigning", `assignee = ?, `+updatedAfter, assignee, Micros(d.stamp()), Micros(d.stamp()))
}

// AddIncidentNote implements store.IncidentStore.
func (d *DB) AddIncidentNote(ctx context.Context, scope store.Scope, id string, n store.Note) (*store.Incident, error) {
	if strings.TrimSpace(n.Text) == "" {
		return nil, fmt.Errorf("adding note to incident %s: empty text: %w", id, store.ErrInvalid)
	}
	if n.At.IsZero() {
		n.At = d.stamp()
	}
	n.At = n.At.UTC().Truncate(time.Microsecond)
	cond, args := incidentScope(scope, "")
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var notes string
		if err := tx.QueryRowContext(ctx, d.q(`SELECT notes FROM incidents WHERE id = ? AND `+cond+d.forUpdate()), append([]any{id}, args...)...).Scan(&notes); err != nil {
			return noRows(err)
		}
		var list []store.Note
		_ = json.Unmarshal([]byte(notes), &list)
		now := Micros(d.stamp())
		list = append(list, n)
		_, err := tx.ExecContext(ctx, d.q(`UPDATE incidents SET notes = ?, `+updatedAfter+` WHERE id = ?`), jsonText(list), now, now, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("adding note to incident %s: %w", id, err)
	}
	return d.GetIncident(ctx, scope, id)
}
