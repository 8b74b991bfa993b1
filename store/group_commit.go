package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// maxGroup is the most transactions one group commit takes in. It bounds
// how long the last of them waits behind the others.
const maxGroup = 64

// groupCommitter runs the write transactions of concurrent requests inside
// one SQLite transaction, so that one fsync of the write-ahead log makes all
// of them durable (group commit). Each request's work runs inside a
// savepoint, so a request that fails is undone alone.
//
// With synchronous(FULL) every commit waits for an fsync, and the single
// writer connection makes commits queue one behind the other. On a disk
// where an fsync takes milliseconds, as on many home servers' hard drives
// and SD cards, that queue would cap concurrent uploads at a few hundred
// a second.
//
// NOTE: on the benchmark machine, where an fsync takes about 0.3 ms, the
// group commit made no measurable difference (docs/benchmarks.md). Its
// benefit on slow disks is an estimate, not a measurement.
type groupCommitter struct {
	db *sql.DB
	// requests is unbuffered, so a request that was sent has been received
	// by run, which sends its outcome before it checks quit again.
	requests chan *groupRequest
	quit     chan struct{}
	stopOnce sync.Once
	stopped  sync.WaitGroup
}

// groupRequest is one caller's transaction work and its outcome.
type groupRequest struct {
	ctx  context.Context
	work func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

// startGroupCommitter starts the goroutine that commits groups on db. Stop
// ends it.
func startGroupCommitter(db *sql.DB) *groupCommitter {
	g := &groupCommitter{db: db, requests: make(chan *groupRequest), quit: make(chan struct{})}
	g.stopped.Add(1)
	go g.run()
	return g
}

// Stop waits for the group in progress and ends the goroutine. Requests
// submitted after it fail with errStopped.
func (g *groupCommitter) Stop() {
	g.stopOnce.Do(func() { close(g.quit) })
	g.stopped.Wait()
}

var errStopped = errors.New("database writer stopped: the store is closed")

// submit runs work in the next group and returns its error, or the commit's
// error when work succeeded but the group could not be committed. work runs
// with ctx stripped of its cancellation, because cancelling a statement
// inside a shared transaction would roll back the other requests' work too.
func (g *groupCommitter) submit(ctx context.Context, work func(ctx context.Context, tx *sql.Tx) error) error {
	req := &groupRequest{ctx: context.WithoutCancel(ctx), work: work, done: make(chan error, 1)}
	select {
	case g.requests <- req:
	case <-g.quit:
		return errStopped
	case <-ctx.Done():
		return fmt.Errorf("wait for the database writer: %w", ctx.Err())
	}
	return <-req.done
}

func (g *groupCommitter) run() {
	defer g.stopped.Done()
	for {
		select {
		case first := <-g.requests:
			g.commit(g.gather(first))
		case <-g.quit:
			return
		}
	}
}

// gather takes first and every request already waiting, up to maxGroup. It
// never waits for more: under light load a group is one request, with no
// added latency.
func (g *groupCommitter) gather(first *groupRequest) []*groupRequest {
	group := []*groupRequest{first}
	for len(group) < maxGroup {
		select {
		case req := <-g.requests:
			group = append(group, req)
		default:
			return group
		}
	}
	return group
}

// commit runs every request of group in one transaction and reports each
// request's outcome to it.
func (g *groupCommitter) commit(group []*groupRequest) {
	results := make([]error, len(group))
	err := g.runGroup(group, results)
	for i, req := range group {
		if results[i] == nil {
			results[i] = err
		}
		req.done <- results[i]
	}
}

// runGroup fills results with each request's own error and returns the
// error that fails the whole group, if any.
func (g *groupCommitter) runGroup(group []*groupRequest, results []error) error {
	ctx := context.Background()
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback()

	for i, req := range group {
		if err := runInSavepoint(tx, req); err != nil {
			if errors.Is(err, errSavepoint) {
				return err
			}
			results[i] = err
		}
	}

	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// errSavepoint marks a failure of the savepoint statements themselves,
// after which the transaction cannot be trusted.
var errSavepoint = errors.New("savepoint failed")

// runInSavepoint runs one request's work and undoes it if it fails, leaving
// the rest of the transaction as it was. A panic in work fails that request
// instead of the server.
func runInSavepoint(tx *sql.Tx, req *groupRequest) (err error) {
	ctx := context.Background()
	if _, err := tx.ExecContext(ctx, `SAVEPOINT request`); err != nil {
		return fmt.Errorf("%w: open: %w", errSavepoint, err)
	}

	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("write transaction panicked: %v", p)
			}
		}()
		err = req.work(req.ctx, tx)
	}()

	if err != nil {
		if _, rbErr := tx.ExecContext(ctx, `ROLLBACK TO request`); rbErr != nil {
			return fmt.Errorf("%w: roll back after %w: %w", errSavepoint, err, rbErr)
		}
	}
	if _, relErr := tx.ExecContext(ctx, `RELEASE request`); relErr != nil {
		return fmt.Errorf("%w: release: %w", errSavepoint, relErr)
	}
	return err
}
