package intake

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/vaultdrop/vaultdrop/scanner"
)

// Scanning is the scanning policy and the scanner in use. Off means the
// operator turned scanning off on purpose, so files are stored unscanned.
// Otherwise every file needs a clean verdict, and while no scanner is
// available files wait in quarantine as pending.
type Scanning struct {
	off   bool
	stall time.Duration // maximum wait for the scanner to take one chunk

	mu      sync.RWMutex
	current scanner.Scanner
	version scanner.Version
	limit   int64 // largest size the scanner is known to judge; LimitUnknown until probed
}

// LimitUnknown is the scannable limit before the first probe has ended.
// Until then only files up to UnprobedMax are judged at once; larger ones
// wait as pending.
const (
	LimitUnknown = -1
	UnprobedMax  = 1 << 20
)

// NewScanning returns the policy. current may be nil when scanning is
// required but no scanner has been found yet. The scannable limit starts
// unknown; SetLimit records a probe's result.
func NewScanning(off bool, current scanner.Scanner, version scanner.Version, stall time.Duration) *Scanning {
	return &Scanning{off: off, current: current, version: version, stall: stall, limit: LimitUnknown}
}

// SetLimit records the largest file size the current scanner was measured
// to judge.
func (s *Scanning) SetLimit(limit int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = limit
}

// Limit returns the measured scannable limit, or LimitUnknown.
func (s *Scanning) Limit() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.limit
}

// Off reports whether the operator turned scanning off.
func (s *Scanning) Off() bool { return s.off }

// Set replaces the scanner in use, for example when one appears after the
// server started without one.
func (s *Scanning) Set(sc scanner.Scanner, v scanner.Version) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current, s.version = sc, v
	s.limit = LimitUnknown // a new scanner has limits of its own
}

// scannable reports whether a clean verdict on size bytes can be trusted,
// and whether that result is final (false while the limit is unknown).
func (s *Scanning) scannable(size int64) (ok, known bool) {
	limit := s.Limit()
	if limit == LimitUnknown {
		return size <= UnprobedMax, false
	}
	return size <= limit, true
}

// Current returns the scanner in use and its version, or nil.
func (s *Scanning) Current() (scanner.Scanner, scanner.Version) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.current, s.version
}

// start begins a streaming scan that the upload's chunks are fed into. It
// returns nil when scanning is off, when no scanner is available, or when
// the scanner prefers a whole file on disk (clamscan); Commit starts those.
func (s *Scanning) start(ctx context.Context) *scanJob {
	if s == nil || s.off {
		return nil
	}
	sc, version := s.Current()
	if sc == nil {
		return nil
	}
	if _, ok := sc.(scanner.FileScanner); ok {
		return nil
	}

	pr, pw := io.Pipe()
	job := newScanJob(ctx, sc, version)
	job.pipe, job.stall = pw, s.stall
	go func() {
		res, err := sc.Scan(job.ctx, pr)
		// Closing the reader releases a feed that is blocked in Write, so
		// a scanner that gave up early never stalls the upload.
		pr.CloseWithError(errScanEnded)
		job.finish(res, err)
	}()
	return job
}

// startFile scans a file that is already complete on disk.
func (s *Scanning) startFile(ctx context.Context, path string) *scanJob {
	sc, version := s.Current()
	fs, ok := sc.(scanner.FileScanner)
	if !ok {
		return nil
	}

	job := newScanJob(ctx, sc, version)
	go func() {
		res, err := fs.ScanFile(job.ctx, path)
		job.finish(res, err)
	}()
	return job
}

var (
	errScanEnded      = errors.New("scan ended before the upload did")
	errScannerStalled = errors.New("scanner stopped reading the stream")
)

// scanJob is one scan running beside an upload.
type scanJob struct {
	ctx     context.Context
	cancel  context.CancelFunc
	version scanner.Version

	pipe    *io.PipeWriter // nil for file scans
	stall   time.Duration
	dropped bool // the scanner stopped reading; the verdict will be an error

	done    chan struct{}
	result  scanner.Result
	err     error
	started time.Time
	elapsed time.Duration // from start to verdict, set with result
}

func newScanJob(ctx context.Context, sc scanner.Scanner, version scanner.Version) *scanJob {
	// The scan outlives the request when the verdict is late: Commit then
	// returns a pending file and the scan settles it in the background.
	jobCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &scanJob{ctx: jobCtx, cancel: cancel, version: version, done: make(chan struct{}), started: time.Now()}
}

// feed passes one chunk to the scanner. It never fails the upload: a
// scanner that stops reading, or takes longer than the stall limit for one
// chunk, is dropped, and its error verdict later makes the file pending.
func (j *scanJob) feed(chunk []byte) {
	if j == nil || j.pipe == nil || j.dropped {
		return
	}

	timer := time.AfterFunc(j.stall, func() { j.pipe.CloseWithError(errScannerStalled) })
	_, err := j.pipe.Write(chunk)
	timer.Stop()
	if err != nil {
		j.dropped = true
	}
}

// finishInput closes the stream, so the scanner sends its verdict.
func (j *scanJob) finishInput() {
	if j != nil && j.pipe != nil {
		j.pipe.Close()
	}
}

// abandon stops a scan whose upload was refused or discarded.
func (j *scanJob) abandon() {
	if j == nil {
		return
	}
	if j.pipe != nil {
		j.pipe.CloseWithError(errScanEnded)
	}
	j.cancel()
}

func (j *scanJob) finish(res scanner.Result, err error) {
	j.result, j.err = res, err
	j.elapsed = time.Since(j.started)
	j.cancel()
	close(j.done)
}

// wait waits up to d for the verdict and reports whether it arrived.
func (j *scanJob) wait(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-j.done:
		return true
	case <-timer.C:
		return false
	}
}
