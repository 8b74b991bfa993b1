package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/store"
)

// Settle gives a pending file its verdict: clean bytes move into the
// served vault, infected or unscannable bytes are deleted. The status and
// its audit event change in one transaction.
func (p *Pipeline) Settle(ctx context.Context, file store.File, res scanner.Result, info store.ScanInfo) error {
	ev := store.AuditEvent{At: p.now(), Actor: "system", Action: "scan", Outcome: store.OutcomeSuccess}

	switch res.Verdict {
	case scanner.Clean:
		// Bytes first, row second: a crash in between leaves a pending row
		// whose bytes are already in the vault, and the next settle finds
		// them there (Release tolerates the repeat).
		if err := p.vault.Release(file.ID); err != nil {
			return err
		}
		ev.Detail = "scan finished: clean"
		return ignoreGone(p.store.SettleFile(ctx, file.ID, store.StatusClean, info, ev))

	case scanner.Infected, scanner.Unscannable:
		status := store.StatusInfected
		if res.Verdict == scanner.Unscannable {
			status = store.StatusUnscannable
		}
		ev.Outcome = store.OutcomeFailure
		ev.Detail = fmt.Sprintf("scan finished: %s (%s); uploaded by user %s as %s; size %d; sha256 %s",
			status, res.Signature, file.OwnerID, quoteForLog(file.Name), file.Size, file.SHA256)
		if err := ignoreGone(p.store.SettleFile(ctx, file.ID, status, info, ev)); err != nil {
			return err
		}
		p.log.Warn("pending file refused by the scanner", "file_id", file.ID, "verdict", status, "signature", res.Signature)
		return p.vault.RemoveQuarantined(file.ID)
	}
	return fmt.Errorf("settle %s: unknown verdict %q", file.ID, res.Verdict)
}

// ignoreGone treats a file deleted while its scan ran as settled.
func ignoreGone(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// RetryPending scans every pending file once more with the current
// scanner. It returns how many are still pending.
func (p *Pipeline) RetryPending(ctx context.Context) (int, error) {
	sc, version := p.scanning.Current()
	files, err := p.store.FilesByStatus(ctx, store.StatusPending)
	if err != nil {
		return 0, err
	}
	if sc == nil {
		return len(files), nil
	}

	left := 0
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return left, err
		}
		if !p.retryOne(ctx, sc, version, f) {
			left++
		}
	}
	return left, nil
}

// retryOne scans one pending file and reports whether it was settled.
// A file over the scanner's measured limit is settled as unscannable; one
// over UnprobedMax waits while the limit is unknown.
func (p *Pipeline) retryOne(ctx context.Context, sc scanner.Scanner, version scanner.Version, f store.File) bool {
	ok, known := p.scanning.scannable(f.Size)
	if !ok && !known {
		return false
	}
	if !ok {
		res := scanner.Result{Verdict: scanner.Unscannable, Signature: "size over the scanner's limit", Reason: overLimitMessage(p.scanning.Limit())}
		info := store.ScanInfo{Engine: version.Engine, Signatures: version.Signatures, ScannedAt: p.now(), Signature: res.Signature}
		return p.Settle(ctx, f, res, info) == nil
	}

	scanCtx, cancel := context.WithTimeout(ctx, p.cfg.ScanTimeout)
	defer cancel()

	started := time.Now()
	res, err := p.scanStored(scanCtx, sc, f.ID)
	p.observe().ScanFinished(scanOutcome(res, err), time.Since(started))
	if err != nil {
		p.log.Warn("retry scan failed; file stays pending", "file_id", f.ID, "err", err)
		return false
	}

	info := store.ScanInfo{Engine: version.Engine, Signatures: version.Signatures, ScannedAt: p.now(), Signature: res.Signature}
	if err := p.Settle(ctx, f, res, info); err != nil {
		p.log.Error("settle pending file", "file_id", f.ID, "err", err)
		return false
	}
	p.log.Info("pending file settled", "file_id", f.ID, "verdict", res.Verdict)
	return true
}

// scanStored scans the bytes of a pending file: normally in quarantine,
// or in the vault when a crash interrupted an earlier settle.
func (p *Pipeline) scanStored(ctx context.Context, sc scanner.Scanner, id string) (scanner.Result, error) {
	f, err := p.vault.OpenQuarantined(id)
	if errors.Is(err, store.ErrNotFound) {
		f, err = p.vault.Open(id)
	}
	if err != nil {
		return scanner.Result{}, err
	}
	defer f.Close()

	return ScanOpenFile(ctx, sc, f)
}

// ScanOpenFile scans an open file, by path for scanners that prefer one.
func ScanOpenFile(ctx context.Context, sc scanner.Scanner, f *os.File) (scanner.Result, error) {
	if fs, ok := sc.(scanner.FileScanner); ok {
		return fs.ScanFile(ctx, f.Name())
	}
	return sc.Scan(ctx, io.Reader(f))
}

// RunRetries retries pending files until ctx ends: soon after a failure,
// backing off to every 30 seconds, so a file turns clean within a minute
// of the scanner coming back. wake makes it retry at once.
func (p *Pipeline) RunRetries(ctx context.Context, wake <-chan struct{}) {
	const first, most = 5 * time.Second, 30 * time.Second
	delay := first
	for {
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-wake:
			timer.Stop()
		case <-timer.C:
		}

		left, err := p.RetryPending(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Error("retry pending scans", "err", err)
		}
		if left > 0 {
			delay = min(delay*2, most)
		} else {
			delay = most
		}
	}
}
