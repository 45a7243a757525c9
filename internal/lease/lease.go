// Package lease coordinates firebreak processes through PostgreSQL session
// advisory locks held on one dedicated connection: a leader lease for the
// singletons (scheduler, drift, retention, connectors) and ownership of the
// event stream's partitions among detectors. A lock lives as long as its
// connection: a process that dies (kill -9, lost network) loses its locks
// when PostgreSQL closes the session, and another process takes over.
package lease

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultSpace is the advisory-lock namespace (the classid half of every
// key, "FBRE"); deployments sharing one PostgreSQL server across databases
// share it too, so tests pick their own.
const DefaultSpace = int64(0x46425245)

// Offsets of the keys within a space.
const (
	keyLeader     = 1
	keyMemberBase = 0x1000 // + slot: a live detector
	keyPartBase   = 0x2000 // + partition: its owner
	// MaxMembers bounds the detectors counted (slots).
	MaxMembers = 256
)

// Locker holds advisory locks on one connection.
type Locker struct {
	mu    sync.Mutex
	conn  *pgx.Conn
	held  map[int64]bool
	space int64
}

// Open connects to url (postgres://…) for locks only, in DefaultSpace.
func Open(ctx context.Context, url string) (*Locker, error) { return OpenIn(ctx, url, DefaultSpace) }

// OpenIn is Open in another namespace (tests).
func OpenIn(ctx context.Context, url string, space int64) (*Locker, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("lease: connecting to PostgreSQL: %w", err)
	}
	if space == 0 {
		space = DefaultSpace
	}
	return &Locker{conn: conn, held: map[int64]bool{}, space: space}, nil
}

func (l *Locker) key(off int64) int64 { return l.space<<32 | off }

// PartitionKey is the lock of partition p.
func (l *Locker) PartitionKey(p int) int64 { return l.key(keyPartBase + int64(p)) }

// SoloKey is held by the one process that detects on the database's
// current schema without a bus (an all-roles serve on PostgreSQL): a
// second such process would see only its own events. The key is the
// schema's name hashed, in the namespace after the detectors' two (so
// deployments in other schemas of the database do not collide).
func (l *Locker) SoloKey(ctx context.Context) (int64, error) { return l.schemaKey(ctx, 2) }

// SplitKey is held shared by every process of a split deployment (a bus
// configured) on the database's current schema, and taken exclusively by
// a process that detects without a bus: neither starts while the other
// kind runs (a bus-less process would ingest events no detector sees and
// detect apart). In the namespace after the solo key's.
func (l *Locker) SplitKey(ctx context.Context) (int64, error) { return l.schemaKey(ctx, 3) }

// schemaKey is the current schema's name hashed, in namespace space+off.
func (l *Locker) schemaKey(ctx context.Context, off int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var name string
	if err := l.conn.QueryRow(ctx, "SELECT current_schema()").Scan(&name); err != nil {
		return 0, fmt.Errorf("lease: reading the schema: %w", err)
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return (l.space+off)<<32 | int64(h.Sum32()), nil
}

// LeaderKey is the leader lease's lock.
func (l *Locker) LeaderKey() int64 { return l.key(keyLeader) }

// Close releases every lock (the session ends).
func (l *Locker) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn.Close(context.Background())
}

// TryLockShared takes key shared if no session holds it exclusively
// (TryLock); any number of sessions hold it shared at once.
func (l *Locker) TryLockShared(ctx context.Context, key int64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ok bool
	if err := l.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock_shared($1)", key).Scan(&ok); err != nil {
		return false, err
	}
	return ok, nil
}

// TryLock takes key if no session holds it.
func (l *Locker) TryLock(ctx context.Context, key int64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[key] {
		return true, nil
	}
	var ok bool
	if err := l.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		return false, err
	}
	if ok {
		l.held[key] = true
	}
	return ok, nil
}

// Unlock releases key.
func (l *Locker) Unlock(ctx context.Context, key int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held[key] {
		return nil
	}
	delete(l.held, key)
	_, err := l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key)
	return err
}

// Alive checks the session (and so the locks) is still there.
func (l *Locker) Alive(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.conn.Exec(ctx, "SELECT 1")
	return err
}

// HeldAmong counts the keys of [from, from+n) some session holds.
func (l *Locker) HeldAmong(ctx context.Context, from int64, n int) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var c int
	// A bigint advisory key is classid (high 32 bits), objid (low 32), objsubid 1.
	err := l.conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted
		AND classid::bigint = $1 AND objid::bigint >= $2 AND objid::bigint < $3`,
		from>>32, from&0xffffffff, (from&0xffffffff)+int64(n)).Scan(&c)
	return c, err
}

// Join takes the first free member slot: the process counts among the
// live detectors until its session ends.
func (l *Locker) Join(ctx context.Context) (int, error) {
	for i := range MaxMembers {
		ok, err := l.TryLock(ctx, l.key(keyMemberBase+int64(i)))
		if err != nil {
			return 0, err
		}
		if ok {
			return i, nil
		}
	}
	return 0, errors.New("lease: more than 256 detectors")
}

// Members counts the live detectors.
func (l *Locker) Members(ctx context.Context) (int, error) {
	return l.HeldAmong(ctx, l.key(keyMemberBase), MaxMembers)
}

// RunAsLeader runs fn while this process holds the leader lease (one
// process among all replicas), trying to take it every retry. fn's context
// ends when ctx ends or the lease is lost (the session broke); fn is then
// started again when the lease is retaken. onChange is told whether this
// process leads (nil: not told).
func RunAsLeader(ctx context.Context, url string, retry time.Duration, log *slog.Logger, onChange func(bool), fn func(ctx context.Context)) {
	RunAsLeaderIn(ctx, url, DefaultSpace, retry, log, onChange, fn)
}

// RunAsLeaderIn is RunAsLeader in another lock namespace (tests).
func RunAsLeaderIn(ctx context.Context, url string, space int64, retry time.Duration, log *slog.Logger, onChange func(bool), fn func(ctx context.Context)) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tell := func(v bool) {
		if onChange != nil {
			onChange(v)
		}
	}
	for ctx.Err() == nil {
		l, err := OpenIn(ctx, url, space)
		if err == nil {
			var ok bool
			if ok, err = l.TryLock(ctx, l.LeaderKey()); err == nil && ok {
				log.Info("leader lease taken: running the scheduler, drift checks, retention and connectors")
				tell(true)
				lctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { fn(lctx); close(done) }()
				t := time.NewTicker(retry)
			watch:
				for {
					select {
					case <-done:
						break watch
					case <-t.C:
						if err := l.Alive(ctx); err != nil {
							log.Warn("leader lease lost", "err", err)
							break watch
						}
					}
				}
				t.Stop()
				cancel()
				<-done
				tell(false)
			}
			_ = l.Close()
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("leader lease", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}
