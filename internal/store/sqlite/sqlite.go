// Package sqlite is firebreak's embedded store: SQLite (modernc.org/sqlite,
// pure Go) in WAL mode under the data directory, with one writer connection
// and a pool of read-only readers.
//
// Durability: the writer runs with synchronous=FULL, so a transaction's WAL
// frames are fsynced before COMMIT returns; AppendEvents returns only after
// its commit, so an acknowledged event survives a process kill and a power
// loss. Concurrent AppendEvents calls are group-committed (one transaction,
// one fsync for all batches waiting), which is what makes FULL affordable.
//
// Imported by the server and the CLI.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/migrations"
	"github.com/firebreak-msp/firebreak/internal/store/sqlstore"
)

// FileName is the database file inside the data directory.
const FileName = "firebreak.db"

// KeyFileName holds the secret-encryption key (64 hex digits) when none is
// configured. Back it up with the database: without it TOTP seeds and
// notification secrets cannot be decrypted.
const KeyFileName = "secret.key"

// privateFiles creates the database file 0600 if it is missing and makes
// it and its WAL and shared-memory files 0600 if they exist, whatever the
// umask and the directory's mode: SQLite creates the -wal and -shm files
// with the database file's permissions, so every file of the store is
// readable by its owner only.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	err = f.Chmod(0o600)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Chmod(path+suffix, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Open opens (creating if needed) the store in dir with default options.
func Open(ctx context.Context, dir string) (store.Store, error) {
	return OpenWith(ctx, dir, store.Options{})
}

// OpenWith opens the store in dir, applying pending migrations.
func OpenWith(ctx context.Context, dir string, opts store.Options) (store.Store, error) {
	if dir == "" {
		return nil, errors.New("opening sqlite store: empty data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening sqlite store: %w", err)
	}
	key := opts.SecretKey
	if len(key) == 0 {
		var err error
		if key, err = loadOrCreateKey(filepath.Join(dir, KeyFileName)); err != nil {
			return nil, fmt.Errorf("opening sqlite store: %w", err)
		}
	}
	box, err := store.NewSecretBox(key)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite store: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if err := privateFiles(path); err != nil {
		return nil, fmt.Errorf("opening sqlite store: %w", err)
	}
	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)"
	// A background connection checkpoints (see checkpointer), so copying WAL
	// pages into the database file stays off the serial write path. The
	// writer checkpoints itself only past walWriterFrames, a safety net far
	// above what the checkpointer leaves: a WAL that grew while a backup
	// pinned its snapshot is then copied back by the checkpointer while
	// ingest goes on, not inline in the first commit after the backup
	// (which stalled ingest for seconds). journal_size_limit trims the file
	// back to walRestartFrames once the WAL restarts.
	w, err := sql.Open("sqlite", "file:"+path+"?"+common+"&_pragma=synchronous(FULL)&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)"+
		fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)&_pragma=journal_size_limit(%d)&_txlock=immediate", walWriterFrames, walRestartFrames*4096))
	if err != nil {
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	now := opts.Now
	if now == nil {
		now = defaultNow
	}
	if _, err := migrations.Apply(ctx, w, "sqlite", "", now()); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	// Let the planner gather statistics it lacks (cheap; recommended at open).
	_, _ = w.ExecContext(ctx, `PRAGMA optimize=0x10002`)
	r, err := sql.Open("sqlite", "file:"+path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	// Readers are cheap in WAL mode; enough of them that slow reads (a whole
	// run's results) do not queue quick ones behind them.
	n := max(16, 4*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	ew, err := newEventWriter(ctx, w)
	if err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	cp, err := newCheckpointer(path, common, opts)
	if err != nil {
		ew.close()
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	d := sqlstore.New(sqlstore.Config{
		Dialect:      "sqlite",
		W:            w,
		R:            r,
		AppendEvents: ew.append,
		Box:          box,
		Options:      opts,
		OnClose: func() error {
			ew.close()
			cp.close()
			_, _ = w.Exec(`PRAGMA optimize`)
			return errors.Join(r.Close(), w.Close())
		},
	})
	return d, nil
}

func loadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k := []byte(strings.TrimSpace(string(b)))
		if len(k) < 16 {
			return nil, fmt.Errorf("secret key %s: too short", path)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading secret key: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	k := []byte(hex.EncodeToString(raw)) // the same format the server uses with PostgreSQL
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadOrCreateKey(path)
		}
		return nil, fmt.Errorf("creating secret key: %w", err)
	}
	if _, err := f.Write(append(k, '\n')); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("writing secret key: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return k, f.Close()
}

// eventWriter group-commits event batches on the single writer connection.
// The writer goroutine owns nextID and the prepared statements; it exits
// when quit is closed, after answering every request it received.
type eventWriter struct {
	db      *sql.DB
	reqs    chan *appendReq
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once
	nextID  int64
	stmts   map[int]*sql.Stmt // multi-row INSERTs by row count (chunkSizes), prepared once
	loaded  bool              // the last group held more than one request
}

type appendReq struct {
	recs []store.EventRecord
	args []any // recs' INSERT values, eventsCols per row, encoded by the caller
	done chan error
}

const (
	maxGroup   = 50000                // rows per group commit
	lingerRows = 20000                // under load, wait for this many rows…
	lingerTime = 5 * time.Millisecond // …or this long before committing
	eventsCols = 21
)

// chunkSizes are the row counts of the prepared multi-row INSERTs, largest
// first; a batch is written as a greedy sum of them (1000 = 3·256 + 3·64 +
// 2·16 + 2·4), so no statement is ever parsed on the hot path.
var chunkSizes = []int{256, 64, 16, 4, 1}

func newEventWriter(ctx context.Context, db *sql.DB) (*eventWriter, error) {
	w := &eventWriter{db: db, reqs: make(chan *appendReq, 1024), quit: make(chan struct{}), stopped: make(chan struct{})}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM events`).Scan(&w.nextID); err != nil {
		return nil, err
	}
	w.stmts = map[int]*sql.Stmt{}
	for _, n := range chunkSizes {
		st, err := db.PrepareContext(ctx, insertEvents(n))
		if err != nil {
			return nil, err
		}
		w.stmts[n] = st
	}
	go w.run()
	return w, nil
}

func (w *eventWriter) append(ctx context.Context, batch []store.EventRecord) error {
	// Encode the rows here, in the caller's goroutine, so the single writer
	// only binds and inserts (the ID column is filled in by the writer).
	args := make([]any, 0, len(batch)*eventsCols)
	for i := range batch {
		args = sqlstore.EventRow(args, &batch[i])
	}
	req := &appendReq{recs: batch, args: args, done: make(chan error, 1)}
	select {
	case w.reqs <- req:
	case <-w.quit:
		return store.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: the writer may
	// already be writing the batch (and its IDs), and the caller must learn
	// whether it was stored. A group commit takes well under a second.
	select {
	case err := <-req.done:
		return err
	case <-w.stopped:
		select {
		case err := <-req.done:
			return err
		default:
			return store.ErrClosed
		}
	}
}

func (w *eventWriter) close() {
	w.once.Do(func() { close(w.quit) })
	<-w.stopped
	for _, st := range w.stmts {
		_ = st.Close()
	}
}

func (w *eventWriter) run() {
	defer close(w.stopped)
	for {
		select {
		case req := <-w.reqs:
			w.group(req)
		case <-w.quit:
			for {
				select {
				case req := <-w.reqs:
					w.group(req)
				default:
					return
				}
			}
		}
	}
}

// group collects every waiting request (up to maxGroup rows) and commits
// them in one transaction.
func (w *eventWriter) group(first *appendReq) {
	reqs := []*appendReq{first}
	n := len(first.recs)
collect:
	for n < maxGroup {
		select {
		case r := <-w.reqs:
			reqs = append(reqs, r)
			n += len(r.recs)
		default:
			break collect
		}
	}
	// Under load (the last group held several requests), linger briefly
	// for more: every commit rewrites each index page it touched, so fewer,
	// larger commits write fewer WAL frames per event.
	if w.loaded && n < lingerRows {
		t := time.NewTimer(lingerTime)
	linger:
		for n < lingerRows {
			select {
			case r := <-w.reqs:
				reqs = append(reqs, r)
				n += len(r.recs)
			case <-t.C:
				break linger
			}
		}
		t.Stop()
	}
	w.loaded = len(reqs) > 1
	err := w.write(reqs)
	for _, r := range reqs {
		r.done <- err
	}
}

func insertEvents(rows int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", eventsCols), ",") + ")"
	return "INSERT INTO events (" + strings.Join(sqlstore.EventColumns, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(one+",", rows), ",")
}

func (w *eventWriter) write(reqs []*appendReq) (err error) {
	ctx := context.Background() // a caller's cancellation must not abort others' batches
	start := w.nextID
	id := start
	for _, r := range reqs {
		for i := range r.recs {
			r.recs[i].ID = id
			id++
		}
	}
	defer func() {
		if err != nil {
			for _, r := range reqs {
				for i := range r.recs {
					r.recs[i].ID = 0
				}
			}
			_ = w.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM events`).Scan(&w.nextID)
		}
	}()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	txStmts := map[int]*sql.Stmt{}
	for _, r := range reqs {
		for i := range r.recs {
			r.args[i*eventsCols] = r.recs[i].ID
		}
		// Each request in greedy chunks of the prepared statements; the
		// values are already laid out, so a chunk is a subslice.
		for off := 0; off < len(r.recs); {
			n := chunkSizes[len(chunkSizes)-1]
			for _, c := range chunkSizes {
				if c <= len(r.recs)-off {
					n = c
					break
				}
			}
			st := txStmts[n]
			if st == nil {
				st = tx.StmtContext(ctx, w.stmts[n])
				txStmts[n] = st
			}
			if _, err := st.ExecContext(ctx, r.args[off*eventsCols:(off+n)*eventsCols]...); err != nil {
				return err
			}
			off += n
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.nextID = id
	return nil
}

// checkpointer copies committed WAL frames into the database file from its
// own connection, every 200 ms, so the WAL stays small without the writer
// doing it. It owns its connection; close stops it and runs a final
// TRUNCATE checkpoint.
type checkpointer struct {
	db   *sql.DB
	quit chan struct{}
	done chan struct{}
	log  *slog.Logger
}

// walRestartFrames is the WAL size kept on disk after a restart: about
// 64 MiB of 4 KiB pages. walWriterFrames (1 GiB) is where the writer stops
// relying on the checkpointer and checkpoints inline.
const (
	walRestartFrames = 16384
	walWriterFrames  = 262144
)

func newCheckpointer(path, common string, opts store.Options) (*checkpointer, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?"+common+"&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, quit: make(chan struct{}), done: make(chan struct{}), log: opts.Logger}
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
			// PASSIVE never waits for readers or the writer.
			var busy, frames, done int
			err := c.db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &done)
			if err != nil && c.log != nil {
				c.log.Debug("sqlite checkpoint", "err", err)
			}
		}
	}
}

func (c *checkpointer) close() {
	close(c.quit)
	<-c.done
	_, _ = c.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	_ = c.db.Close()
}
