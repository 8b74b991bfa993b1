package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vaultdrop/vaultdrop/store"
)

// janitorInterval is how often the janitor runs after its first run at
// start.
const janitorInterval = 10 * time.Minute

// deadLinkGrace is how long an expired or revoked link stays listed for its
// owner before the janitor deletes it.
const deadLinkGrace = 30 * 24 * time.Hour

// retentionBatch bounds the files one run deletes for --retention, so a
// first run on a large vault does not hold the writer for long. The rest
// are deleted by the next runs.
const retentionBatch = 1000

// JanitorReport counts what one janitor run deleted.
type JanitorReport struct {
	ExpiredFiles int   // files older than --retention
	Shares       int64 // share links dead for longer than deadLinkGrace
	Drops        int64 // drop links dead for longer than deadLinkGrace that never received a file
	Sessions     int64 // expired sign-ins
}

// runJanitor runs the janitor at start and then every janitorInterval
// until ctx ends. Unfinished resumable uploads are not its work: they
// expire on their own schedule.
func (s *Server) runJanitor(ctx context.Context) {
	ticker := time.NewTicker(janitorInterval)
	defer ticker.Stop()
	for {
		if _, err := s.RunJanitorOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("janitor run failed; it runs again later", "err", err, "next_run_in", janitorInterval.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// RunJanitorOnce deletes, once, files past --retention, links dead for 30
// days (drop links only when no file came through them) and expired
// sessions, and logs the counts. It tries every kind even when one fails
// and returns the errors together.
func (s *Server) RunJanitorOnce(ctx context.Context) (JanitorReport, error) {
	var report JanitorReport
	var errs []error
	now := s.now()

	if s.cfg.Retention > 0 {
		n, err := s.deleteExpiredFiles(ctx, now.Add(-s.cfg.Retention))
		report.ExpiredFiles = n
		errs = append(errs, err)
	}

	var err error
	report.Shares, err = s.store.DeleteDeadShares(ctx, now.Add(-deadLinkGrace))
	errs = append(errs, err)
	report.Drops, err = s.store.DeleteDeadDrops(ctx, now.Add(-deadLinkGrace))
	errs = append(errs, err)
	report.Sessions, err = s.store.DeleteExpiredSessions(ctx)
	errs = append(errs, err)

	level := slog.LevelDebug
	if report != (JanitorReport{}) {
		level = slog.LevelInfo
	}
	s.log.Log(ctx, level, "janitor finished", "expired_files", report.ExpiredFiles,
		"dead_share_links", report.Shares, "dead_drop_links", report.Drops, "expired_sessions", report.Sessions)
	return report, errors.Join(errs...)
}

// deleteExpiredFiles deletes up to retentionBatch files created before
// cutoff: each row with its audit event first, then its bytes, as a
// user's delete does.
func (s *Server) deleteExpiredFiles(ctx context.Context, cutoff time.Time) (int, error) {
	files, err := s.store.FilesCreatedBefore(ctx, cutoff, retentionBatch)
	if err != nil {
		return 0, err
	}

	deleted := 0
	for _, f := range files {
		ev := store.AuditEvent{
			At: s.now(), Actor: "system", ClientAddr: "local", Action: "delete", Outcome: store.OutcomeSuccess,
			Detail: fmt.Sprintf("retention: %q uploaded %s is older than --retention %s", f.Name,
				f.CreatedAt.UTC().Format(time.RFC3339), s.cfg.Retention),
		}
		err := s.store.DeleteFile(ctx, f.ID, ev)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted by its owner meanwhile
		}
		if err != nil {
			return deleted, err
		}
		s.removeBytes(f.ID)
		deleted++
	}
	return deleted, nil
}

// removeBytes deletes a deleted file's bytes from the vault and quarantine.
// A failure leaves an orphan that the next start sets aside, so it is
// logged and not returned.
func (s *Server) removeBytes(id string) {
	if err := s.vault.Remove(id); err != nil {
		s.log.Error("remove deleted file's bytes", "file_id", id, "err", err)
	}
	if err := s.vault.RemoveQuarantined(id); err != nil {
		s.log.Error("remove deleted file's quarantined bytes", "file_id", id, "err", err)
	}
}
