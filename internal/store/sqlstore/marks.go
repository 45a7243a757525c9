package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

var _ store.DeploymentMarks = (*DB)(nil)

// SetMark implements store.DeploymentMarks: the first value and time of
// name stand (later calls change nothing).
func (d *DB) SetMark(ctx context.Context, name, value string, now time.Time) error {
	if err := d.check(); err != nil {
		return err
	}
	_, err := d.w.ExecContext(ctx, d.q(`INSERT INTO deployment_marks (name, value, at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`), name, value, Micros(now))
	if err != nil {
		return fmt.Errorf("deployment mark %s: %w", name, err)
	}
	return nil
}

// Mark implements store.DeploymentMarks.
func (d *DB) Mark(ctx context.Context, name string) (store.DeploymentMark, bool, error) {
	if err := d.check(); err != nil {
		return store.DeploymentMark{}, false, err
	}
	var m store.DeploymentMark
	var at int64
	err := d.r.QueryRowContext(ctx, d.q(`SELECT value, at FROM deployment_marks WHERE name = ?`), name).Scan(&m.Value, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("deployment mark %s: %w", name, err)
	}
	m.Name, m.At = name, FromMicros(at)
	return m, true, nil
}

// ClearMark implements store.DeploymentMarks.
func (d *DB) ClearMark(ctx context.Context, name string) error {
	if err := d.check(); err != nil {
		return err
	}
	if _, err := d.w.ExecContext(ctx, d.q(`DELETE FROM deployment_marks WHERE name = ?`), name); err != nil {
		return fmt.Errorf("deployment mark %s: %w", name, err)
	}
	return nil
}
