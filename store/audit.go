package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// AuditEvent records who did what. Detail is free text for people and
// never holds a password or a token.
type AuditEvent struct {
	ID         int64
	At         time.Time
	Actor      string // username, "anonymous" or "system"
	ClientAddr string
	Action     string // "login", "upload", "download", ...
	Target     string // "user:alice", "file:ID", ...
	Outcome    string
	Detail     string
}

// RecordAudit inserts an event on its own, for actions that change nothing
// else in the database (a failed sign-in, a rejected upload).
func (s *Store) RecordAudit(ctx context.Context, ev AuditEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return s.insertAudit(ctx, tx, ev)
	})
}

func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, ev AuditEvent) error {
	if ev.At.IsZero() {
		ev.At = s.now()
	}
	if ev.Outcome == "" {
		ev.Outcome = OutcomeSuccess
	}

	_, err := tx.ExecContext(ctx, `
INSERT INTO audit_events (at, actor, client_addr, action, target, outcome, detail)
VALUES (?, ?, ?, ?, ?, ?, ?)`,
		formatTime(ev.At), ev.Actor, ev.ClientAddr, ev.Action, ev.Target, ev.Outcome, ev.Detail)
	if err != nil {
		return fmt.Errorf("insert audit event %s: %w", ev.Action, err)
	}
	return nil
}

// AuditEvents returns the newest events first, at most limit of them.
func (s *Store) AuditEvents(ctx context.Context, limit int) ([]AuditEvent, error) {
	rows, err := s.read.QueryContext(ctx, `
SELECT id, at, actor, client_addr, action, target, outcome, detail
FROM audit_events
ORDER BY id DESC
LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()

	var events []AuditEvent
	for rows.Next() {
		var ev AuditEvent
		var at string
		if err := rows.Scan(&ev.ID, &at, &ev.Actor, &ev.ClientAddr, &ev.Action, &ev.Target, &ev.Outcome, &ev.Detail); err != nil {
			return nil, fmt.Errorf("scan audit event: %w", err)
		}
		if ev.At, err = parseTime(at); err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	return events, rows.Err()
}
