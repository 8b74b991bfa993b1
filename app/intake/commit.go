package intake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/store"
)

// Commit stores a received file according to its scan:
//   - scanning off: stored as unscanned;
//   - clean verdict within ScanWait: stored as clean;
//   - infected or unscannable: discarded and refused with a *Rejection;
//   - scanner missing, failed or still busy after ScanWait: kept in
//     quarantine as pending until a later scan settles it.
//
// The bytes are fsynced and renamed into place before the row is inserted,
// so a crash never leaves a row without its file.
func (p *Pipeline) Commit(ctx context.Context, rec *Received) (store.File, error) {
	if rec.finished {
		return store.File{}, errors.New("commit: upload already committed or discarded")
	}

	if p.scanning == nil || p.scanning.Off() {
		return p.keep(ctx, rec, store.StatusUnscanned)
	}

	job := rec.scan
	if job == nil {
		job = p.scanning.startFile(ctx, rec.incoming.Path())
	}
	if job == nil {
		return p.keep(ctx, rec, store.StatusPending)
	}

	if !job.wait(p.cfg.ScanWait) {
		file, err := p.keep(ctx, rec, store.StatusPending)
		if err == nil {
			go p.settleLate(file, job)
		}
		return file, err
	}
	return p.storeVerdict(ctx, rec, job)
}

// storeVerdict acts on a verdict that arrived in time.
func (p *Pipeline) storeVerdict(ctx context.Context, rec *Received, job *scanJob) (store.File, error) {
	p.reportScan(job)
	rec.File.Scan = scanInfo(job, p.now)

	if job.err != nil {
		if errors.Is(job.err, scanner.ErrStreamLimit) {
			return store.File{}, p.refuse(ctx, rec, &Rejection{
				Kind: ErrUnscannable,
				Message: "The file is larger than the virus scanner can read in one stream, so it cannot be checked and was not stored. " +
					"Ask the operator to raise StreamMaxLength in clamd.conf, or upload a smaller file.",
			})
		}
		p.log.Warn("scan failed; file held as pending", "file_id", rec.File.ID, "err", job.err)
		return p.keep(ctx, rec, store.StatusPending)
	}

	switch job.result.Verdict {
	case scanner.Clean:
		return p.keepClean(ctx, rec)
	case scanner.Infected:
		return store.File{}, p.refuse(ctx, rec, &Rejection{
			Kind:      ErrInfected,
			Signature: job.result.Signature,
			Message:   fmt.Sprintf("The virus scanner found %s in this file. It was not stored.", job.result.Signature),
		})
	case scanner.Unscannable:
		return store.File{}, p.refuse(ctx, rec, &Rejection{
			Kind:      ErrUnscannable,
			Signature: job.result.Signature,
			Message:   unscannableMessage(job.result),
		})
	}
	return store.File{}, fmt.Errorf("scan of %s: unknown verdict %q", rec.File.ID, job.result.Verdict)
}

// keepClean stores a file with a clean verdict, unless the file is larger
// than the scanner was measured to judge: clamd replies "OK" for files over
// its MaxFileSize or MaxScanSize without reading them.
func (p *Pipeline) keepClean(ctx context.Context, rec *Received) (store.File, error) {
	ok, known := p.scanning.scannable(rec.File.Size)
	switch {
	case ok:
		return p.keep(ctx, rec, store.StatusClean)
	case !known:
		return p.keep(ctx, rec, store.StatusPending)
	}
	return store.File{}, p.refuse(ctx, rec, &Rejection{
		Kind:    ErrUnscannable,
		Message: overLimitMessage(p.scanning.Limit()),
	})
}

func overLimitMessage(limit int64) string {
	return fmt.Sprintf("The file is larger than the virus scanner was measured to check (%s), so it was not stored. "+
		"Upload a smaller file, or ask the operator to raise MaxFileSize, MaxScanSize and StreamMaxLength in clamd.conf.",
		config.FormatBytes(limit))
}

func unscannableMessage(res scanner.Result) string {
	reason := res.Reason
	if reason == "" {
		reason = "the virus scanner could not check its content (" + res.Signature + ")"
	}
	reason = strings.TrimSuffix(reason, ".")
	return "The file was not stored because " + lowerFirst(reason) + ". Upload it unencrypted, or in smaller parts."
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// keep moves the bytes into the vault (or quarantine, for pending files)
// and inserts the row with its audit event.
func (p *Pipeline) keep(ctx context.Context, rec *Received, status string) (store.File, error) {
	rec.finished = true
	rec.File.Status = status
	defer rec.quota.release() // a no-op once committed

	var err error
	if status == store.StatusPending {
		err = rec.incoming.CommitToQuarantine(rec.File.ID)
	} else {
		err = rec.incoming.Commit(rec.File.ID)
	}
	if err != nil {
		return store.File{}, fmt.Errorf("store upload %s: %w", rec.File.ID, err)
	}

	ev := store.AuditEvent{
		At: p.now(), Actor: rec.up.Actor, ClientAddr: rec.up.ClientAddr, Action: "upload",
		Outcome: store.OutcomeSuccess,
		Detail: fmt.Sprintf("stored %s as %s; size %d; sha256 %s; type %s",
			quoteForLog(rec.File.Name), status, rec.File.Size, rec.File.SHA256, rec.File.ContentType),
	}
	file, err := p.store.CreateFile(context.WithoutCancel(ctx), rec.File, ev)
	if err != nil {
		p.removeBytes(rec.File.ID, status)
		return store.File{}, err
	}
	rec.quota.commit(file.Size)
	p.observe().UploadStored(file)

	p.log.Info("upload stored", "file_id", file.ID, "owner_id", file.OwnerID, "status", status,
		"size_bytes", file.Size, "content_type", file.ContentType)
	return file, nil
}

func (p *Pipeline) removeBytes(id, status string) {
	var err error
	if status == store.StatusPending {
		err = p.vault.RemoveQuarantined(id)
	} else {
		err = p.vault.Remove(id)
	}
	if err != nil {
		p.log.Error("remove bytes of a file whose row failed", "file_id", id, "err", err)
	}
}

// refuse discards a file the scanner refused and records who uploaded what.
func (p *Pipeline) refuse(ctx context.Context, rec *Received, r *Rejection) error {
	p.observe().UploadRejected(r)
	p.auditRejection(ctx, rec.up, rec, r)
	rec.Discard()
	return r
}

// settleLate waits for a scan that outlived ScanWait and settles its
// pending file. A failed scan leaves the file pending for the retry worker.
func (p *Pipeline) settleLate(file store.File, job *scanJob) {
	<-job.done
	p.reportScan(job)
	if job.err != nil {
		p.log.Warn("background scan failed; file stays pending", "file_id", file.ID, "err", job.err)
		return
	}
	if err := p.Settle(context.Background(), file, job.result, scanInfo(job, p.now)); err != nil {
		p.log.Error("settle scanned file", "file_id", file.ID, "err", err)
	}
}

func scanInfo(job *scanJob, now func() time.Time) store.ScanInfo {
	return store.ScanInfo{
		Engine:     job.version.Engine,
		Signatures: job.version.Signatures,
		ScannedAt:  now(),
		Signature:  job.result.Signature,
	}
}
