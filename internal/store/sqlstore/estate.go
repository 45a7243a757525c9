package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/store"
)

const snapCols = `id, hash, source, created, tenants, objects`

func scanSnapMeta(row interface{ Scan(...any) error }, m *store.SnapshotMeta) error {
	var created int64
	if err := row.Scan(&m.ID, &m.Hash, &m.Source, &created, &m.Tenants, &m.Objects); err != nil {
		return err
	}
	m.Created = FromMicros(created)
	return nil
}

// PutSnapshot implements store.EstateStore.
func (d *DB) PutSnapshot(ctx context.Context, e *estate.Estate, source string) (store.SnapshotMeta, bool, error) {
	if e == nil {
		return store.SnapshotMeta{}, false, fmt.Errorf("storing snapshot: nil estate: %w", store.ErrInvalid)
	}
	objs := store.EstateObjects(e)
	hash := store.EstateHash(objs)
	body, err := json.Marshal(e)
	if err != nil {
		return store.SnapshotMeta{}, false, fmt.Errorf("storing snapshot: %w", err)
	}
	var meta store.SnapshotMeta
	created := false
	err = d.tx(ctx, func(tx *sql.Tx) error {
		err := scanSnapMeta(tx.QueryRowContext(ctx, `SELECT `+snapCols+` FROM snapshots ORDER BY id DESC LIMIT 1`), &meta)
		if err == nil && meta.Hash == hash {
			return nil
		}
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		meta = store.SnapshotMeta{Hash: hash, Source: source, Created: d.stamp(), Tenants: len(e.Tenants), Objects: len(objs)}
		if err := tx.QueryRowContext(ctx, d.q(`INSERT INTO snapshots (hash, source, created, tenants, objects, estate) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			hash, source, Micros(meta.Created), meta.Tenants, meta.Objects, string(body)).Scan(&meta.ID); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, t := range e.Tenants {
			if seen[t.ID] {
				continue
			}
			seen[t.ID] = true
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO snapshot_tenants (snapshot_id, id, name, criticality, sector, endpoints) VALUES (?, ?, ?, ?, ?, ?)`),
				meta.ID, t.ID, t.Name, string(t.Criticality), t.Sector, t.Endpoints); err != nil {
				return err
			}
		}
		created = true
		return nil
	})
	if err != nil {
		return store.SnapshotMeta{}, false, fmt.Errorf("storing snapshot: %w", err)
	}
	return meta, created, nil
}

// snapCache holds the most recently decoded snapshot: the dashboard reads
// the latest estate on most pages, and decoding a large one costs tens of
// milliseconds. Cached estates are shared and must be treated as read-only.
type snapCache struct {
	mu   sync.Mutex
	snap *store.Snapshot
}

func (d *DB) loadSnapshot(ctx context.Context, id int64) (*store.Snapshot, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if id == 0 {
		if err := d.r.QueryRowContext(ctx, `SELECT id FROM snapshots ORDER BY id DESC LIMIT 1`).Scan(&id); err != nil {
			return nil, noRows(err)
		}
	}
	d.snaps.mu.Lock()
	if c := d.snaps.snap; c != nil && c.ID == id {
		d.snaps.mu.Unlock()
		cp := *c
		e := *c.Estate
		cp.Estate = &e
		return &cp, nil
	}
	d.snaps.mu.Unlock()
	var s store.Snapshot
	var created int64
	var body string
	if err := d.r.QueryRowContext(ctx, d.q(`SELECT `+snapCols+`, estate FROM snapshots WHERE id = ?`), id).
		Scan(&s.ID, &s.Hash, &s.Source, &created, &s.Tenants, &s.Objects, &body); err != nil {
		return nil, noRows(err)
	}
	s.Created = FromMicros(created)
	s.Estate = new(estate.Estate)
	if err := json.Unmarshal([]byte(body), s.Estate); err != nil {
		return nil, fmt.Errorf("decoding snapshot %d: %w", s.ID, err)
	}
	d.snaps.mu.Lock()
	d.snaps.snap = &s
	d.snaps.mu.Unlock()
	cp := s
	e := *s.Estate
	cp.Estate = &e
	return &cp, nil
}

// GetSnapshot implements store.EstateStore.
func (d *DB) GetSnapshot(ctx context.Context, scope store.Scope, id int64) (*store.Snapshot, error) {
	if !scope.Valid() {
		return nil, fmt.Errorf("reading snapshot %d: %w", id, store.ErrNotFound)
	}
	s, err := d.loadSnapshot(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot %d: %w", id, err)
	}
	if !scope.AllTenants {
		s.Estate = store.FilterEstate(scope, s.Estate)
		s.Tenants = len(s.Estate.Tenants)
		s.Objects = store.CountObjects(s.Estate)
	}
	return s, nil
}

// ListSnapshots implements store.EstateStore.
func (d *DB) ListSnapshots(ctx context.Context, limit int) ([]store.SnapshotMeta, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+snapCols+` FROM snapshots ORDER BY id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("listing snapshots: %w", err)
	}
	defer rows.Close()
	var out []store.SnapshotMeta
	for rows.Next() {
		var m store.SnapshotMeta
		if err := scanSnapMeta(rows, &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// DiffSnapshots implements store.EstateStore.
func (d *DB) DiffSnapshots(ctx context.Context, scope store.Scope, from, to int64) (*store.SnapshotDiff, error) {
	if !scope.Valid() {
		return nil, fmt.Errorf("diffing snapshots: %w", store.ErrNotFound)
	}
	a, err := d.loadSnapshot(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("diffing snapshots: snapshot %d: %w", from, err)
	}
	b, err := d.loadSnapshot(ctx, to)
	if err != nil {
		return nil, fmt.Errorf("diffing snapshots: snapshot %d: %w", to, err)
	}
	return &store.SnapshotDiff{From: a.ID, To: b.ID, Changes: store.DiffObjects(scope, store.EstateObjects(a.Estate), store.EstateObjects(b.Estate))}, nil
}

// ListTenants implements store.EstateStore.
func (d *DB) ListTenants(ctx context.Context, scope store.Scope) ([]store.Tenant, error) {
	cond, args := scopeCond(scope, "id")
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT id, name, criticality, sector, endpoints FROM snapshot_tenants
WHERE snapshot_id = (SELECT COALESCE(MAX(id), 0) FROM snapshots) AND `+cond+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	defer rows.Close()
	out := []store.Tenant{}
	for rows.Next() {
		var t store.Tenant
		if err := rows.Scan(&t.ID, &t.Name, &t.Criticality, &t.Sector, &t.Endpoints); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
