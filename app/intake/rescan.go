package intake

import (
	"context"
	"fmt"
	"time"

	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/store"
)

// RescanSummary counts what a rescan did.
type RescanSummary struct {
	Scanned  int
	Clean    int
	Infected int
	Skipped  int // judged by the current signatures already
	Failed   int // the scan failed; the file keeps its status
}

// Rescan scans stored clean files again with the current scanner: all of
// them, or only those judged by an older signature version than the
// scanner's. A file now found infected is moved to quarantine and marked
// infected in one step with its audit event, so it stops being served at
// once.
func (p *Pipeline) Rescan(ctx context.Context, all bool, progress func(store.File, scanner.Result, error)) (RescanSummary, error) {
	var sum RescanSummary
	sc, version := p.scanning.Current()
	if sc == nil {
		return sum, fmt.Errorf("rescan: %w", scanner.ErrUnavailable)
	}

	files, err := p.store.FilesByStatus(ctx, store.StatusClean)
	if err != nil {
		return sum, err
	}
	for _, f := range files {
		if !all && !olderSignatures(f.Scan, version) {
			sum.Skipped++
			continue
		}
		res, err := p.rescanOne(ctx, sc, version, f)
		if progress != nil {
			progress(f, res, err)
		}
		sum.Scanned++
		switch {
		case err != nil:
			sum.Failed++
		case res.Verdict == scanner.Clean:
			sum.Clean++
		default:
			sum.Infected++
		}
	}
	return sum, ctx.Err()
}

// olderSignatures reports whether a verdict predates the scanner's current
// signatures. A verdict without a signature version (a local database, or
// a file never scanned) is older than any numbered one.
func olderSignatures(scan store.ScanInfo, current scanner.Version) bool {
	if scan.Engine == "" {
		return true
	}
	return scan.Signatures < current.Signatures
}

func (p *Pipeline) rescanOne(ctx context.Context, sc scanner.Scanner, version scanner.Version, f store.File) (scanner.Result, error) {
	scanCtx, cancel := context.WithTimeout(ctx, p.cfg.ScanTimeout)
	defer cancel()

	stored, err := p.vault.Open(f.ID)
	if err != nil {
		return scanner.Result{}, err
	}
	started := time.Now()
	res, err := ScanOpenFile(scanCtx, sc, stored)
	p.observe().ScanFinished(scanOutcome(res, err), time.Since(started))
	stored.Close()
	if err != nil {
		return res, err
	}

	info := store.ScanInfo{Engine: version.Engine, Signatures: version.Signatures, ScannedAt: p.now(), Signature: res.Signature}
	if res.Verdict == scanner.Clean {
		return res, p.store.RecordScan(ctx, f.ID, info)
	}
	return res, p.quarantineInfected(ctx, f, res, info)
}

// quarantineInfected marks a stored file infected and moves its bytes out
// of the served vault. The row changes first, so the file stops being
// served even if the move fails.
func (p *Pipeline) quarantineInfected(ctx context.Context, f store.File, res scanner.Result, info store.ScanInfo) error {
	ev := store.AuditEvent{
		At: p.now(), Actor: "system", Action: "rescan", Outcome: store.OutcomeFailure,
		Detail: fmt.Sprintf("rescan found %s (%s) in %s owned by user %s; size %d; sha256 %s; moved to quarantine",
			res.Signature, res.Verdict, quoteForLog(f.Name), f.OwnerID, f.Size, f.SHA256),
	}
	if err := p.store.MarkInfected(ctx, f.ID, info, ev); err != nil {
		return err
	}
	p.log.Warn("rescan found a stored file infected; moved to quarantine", "file_id", f.ID, "signature", res.Signature)
	return p.vault.Quarantine(f.ID)
}
