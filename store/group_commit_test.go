package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func openGroupTestStore(t *testing.T) *Store {
	t.Helper()
	st, err := Open(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// auditWork returns work that records one audit event with action, then
// fails with fail when it is not nil, after its insert.
func auditWork(st *Store, action string, fail error) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		if err := st.insertAudit(ctx, tx, AuditEvent{Action: action}); err != nil {
			return err
		}
		return fail
	}
}

func auditActions(t *testing.T, st *Store) map[string]bool {
	t.Helper()
	events, err := st.AuditEvents(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for _, ev := range events {
		actions[ev.Action] = true
	}
	return actions
}

func newGroupRequest(work func(context.Context, *sql.Tx) error) *groupRequest {
	return &groupRequest{ctx: context.Background(), work: work, done: make(chan error, 1)}
}

func TestGroupFailureUndoesOnlyItsRequest(t *testing.T) {
	st := openGroupTestStore(t)
	errWork := errors.New("work failed")
	group := []*groupRequest{
		newGroupRequest(auditWork(st, "first", nil)),
		newGroupRequest(auditWork(st, "failing", errWork)),
		newGroupRequest(func(context.Context, *sql.Tx) error { panic("work panicked") }),
		newGroupRequest(auditWork(st, "last", nil)),
	}

	st.group.commit(group)

	if err := <-group[0].done; err != nil {
		t.Errorf("first request: %v, want nil", err)
	}
	if err := <-group[1].done; !errors.Is(err, errWork) {
		t.Errorf("failing request: %v, want its own error", err)
	}
	if err := <-group[2].done; err == nil {
		t.Error("panicking request: nil error, want the panic as an error")
	}
	if err := <-group[3].done; err != nil {
		t.Errorf("last request: %v, want nil", err)
	}

	actions := auditActions(t, st)
	if !actions["first"] || !actions["last"] {
		t.Errorf("stored actions %v, want first and last", actions)
	}
	if actions["failing"] {
		t.Error("the failing request's insert was committed")
	}
}

func TestGroupCommitsConcurrentFiles(t *testing.T) {
	st := openGroupTestStore(t)
	ctx := context.Background()
	owner, err := st.CreateUser(ctx, User{Username: "alice", PasswordHash: "x"}, AuditEvent{Action: "user_create"})
	if err != nil {
		t.Fatal(err)
	}

	const uploads = 40
	var wg sync.WaitGroup
	errs := make(chan error, uploads)
	for i := range uploads {
		wg.Go(func() {
			f := File{ID: NewID(), OwnerID: owner.ID, Name: fmt.Sprintf("f%d.txt", i), Size: 1,
				SHA256: strings.Repeat("0", 64), ContentType: "text/plain", Status: StatusUnscanned}
			_, err := st.CreateFile(ctx, f, AuditEvent{Action: "upload"})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)

	for err := range errs {
		if err != nil {
			t.Errorf("CreateFile: %v", err)
		}
	}
	n, err := st.CountFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != uploads {
		t.Errorf("%d file rows, want %d", n, uploads)
	}
}

func TestGroupSubmitAfterStopFails(t *testing.T) {
	st := openGroupTestStore(t)
	st.group.Stop()

	err := st.group.submit(context.Background(), auditWork(st, "late", nil))
	if !errors.Is(err, errStopped) {
		t.Errorf("submit after Stop: %v, want errStopped", err)
	}
}
