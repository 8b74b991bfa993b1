package app

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/store"
)

// auditEvent builds an audit event for the current request.
func (s *Server) auditEvent(c echo.Context, actor, action, target, outcome, detail string) store.AuditEvent {
	return store.AuditEvent{
		At:         s.now(),
		Actor:      actor,
		ClientAddr: clientAddr(c),
		Action:     action,
		Target:     target,
		Outcome:    outcome,
		Detail:     detail,
	}
}

// audit records an event that changes nothing else (a refused sign-in, a
// rejected upload) in the database and the log. A failed audit write is
// logged, not returned: the answer to the client does not depend on it.
func (s *Server) audit(c echo.Context, actor, action, target, outcome, detail string) {
	ev := s.auditEvent(c, actor, action, target, outcome, detail)
	if err := s.store.RecordAudit(auditCtx(c), ev); err != nil {
		s.log.Error("record audit event", "action", action, "err", err)
	}
	s.logAudit(ev)
}

// logAudit writes an audit event as a structured log record.
func (s *Server) logAudit(ev store.AuditEvent) {
	level := s.log.Info
	if ev.Outcome == store.OutcomeFailure {
		level = s.log.Warn
	}
	level("audit", "action", ev.Action, "actor", ev.Actor, "client_addr", ev.ClientAddr,
		"target", ev.Target, "outcome", ev.Outcome, "detail", ev.Detail)
}

func retryAfterSeconds(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.Itoa(secs)
}
