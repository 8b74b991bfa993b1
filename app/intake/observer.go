package intake

import (
	"errors"
	"time"

	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/store"
)

// ScanError is the outcome ScanFinished reports for a scan that ended
// without a verdict: the scanner was down, timed out or sent a malformed
// reply.
// Every other outcome is a scanner.Verdict.
const ScanError = "error"

// Observer receives the pipeline's decisions, for example to count them as
// metrics. The pipeline calls it synchronously from the goroutine that
// decided, so its methods must be safe for concurrent use and must not
// block.
type Observer interface {
	// UploadStarted and UploadEnded bracket the streaming of one body,
	// whatever its outcome.
	UploadStarted()
	UploadEnded()
	// UploadStored reports a file that was stored as clean, pending or
	// unscanned.
	UploadStored(file store.File)
	// UploadRejected reports an upload that was not stored: a rejection
	// such as *Rejection or a filetype error, or a failure such as a client
	// that hung up.
	UploadRejected(err error)
	// ScanFinished reports one scan of an upload, a pending file or a
	// rescan: its verdict ("clean", "infected", "unscannable") or
	// ScanError, and how long it took.
	ScanFinished(outcome string, elapsed time.Duration)
}

// SetObserver makes o hear about every later decision. Call it before the
// pipeline takes uploads; nil stops the reports.
func (p *Pipeline) SetObserver(o Observer) {
	p.observer = o
}

// observe returns the observer, or one that ignores everything.
func (p *Pipeline) observe() Observer {
	if p.observer == nil {
		return ignoreAll{}
	}
	return p.observer
}

type ignoreAll struct{}

func (ignoreAll) UploadStarted()                     {}
func (ignoreAll) UploadEnded()                       {}
func (ignoreAll) UploadStored(store.File)            {}
func (ignoreAll) UploadRejected(error)               {}
func (ignoreAll) ScanFinished(string, time.Duration) {}

// reportScan reports a finished scan job. A stream over clamd's
// StreamMaxLength counts as unscannable, as Commit treats it.
func (p *Pipeline) reportScan(job *scanJob) {
	p.observe().ScanFinished(scanOutcome(job.result, job.err), job.elapsed)
}

func scanOutcome(res scanner.Result, err error) string {
	switch {
	case errors.Is(err, scanner.ErrStreamLimit):
		return string(scanner.Unscannable)
	case err != nil:
		return ScanError
	}
	return string(res.Verdict)
}
