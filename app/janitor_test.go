package app_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
)

// manualClock is a clock the test moves forward by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func TestJanitorDeletesFilesPastRetention(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	e := newEnv(t, envOptions{now: clock.Now, configure: func(c *config.Config) { c.Retention = 48 * time.Hour }})

	resp, body := e.upload(e.AliceToken, "old.txt", []byte("old file\n"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: status = %d: %s", resp.StatusCode, body)
	}
	old := decodeFile(t, body)
	clock.Advance(24 * time.Hour)
	resp, body = e.upload(e.AliceToken, "new.txt", []byte("new file\n"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: status = %d: %s", resp.StatusCode, body)
	}
	recent := decodeFile(t, body)
	clock.Advance(25 * time.Hour)

	report, err := e.Server.RunJanitorOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if report.ExpiredFiles != 1 {
		t.Errorf("expired files = %d, want 1", report.ExpiredFiles)
	}
	if resp, _ := e.request(http.MethodGet, "/api/v1/files/"+old.ID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("file past retention: status = %d, want 404", resp.StatusCode)
	}
	if _, err := e.Vault.Open(old.ID); err == nil {
		t.Error("the bytes of the file past retention are still in the vault")
	}
	resp, body = e.request(http.MethodGet, "/api/v1/files/"+recent.ID+"/content", e.AliceToken, nil, nil)
	if resp.StatusCode != http.StatusOK || string(body) != "new file\n" {
		t.Errorf("file within retention: status = %d, body %q", resp.StatusCode, body)
	}
	assertAuditDetail(t, e, "delete", "retention")
}

// assertAuditDetail checks that a recent audit event of action mentions
// want in its detail.
func assertAuditDetail(t *testing.T, e *testEnv, action, want string) {
	t.Helper()
	events, err := e.Store.AuditEvents(context.Background(), 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Action == action && strings.Contains(ev.Detail, want) {
			return
		}
	}
	t.Errorf("no %s audit event mentions %q", action, want)
}

func TestJanitorKeepsFilesWithoutRetention(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	e := newEnv(t, envOptions{now: clock.Now})
	if resp, body := e.upload(e.AliceToken, "kept.txt", []byte("kept\n")); resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: status = %d: %s", resp.StatusCode, body)
	}
	clock.Advance(10 * 365 * 24 * time.Hour)

	report, err := e.Server.RunJanitorOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if report.ExpiredFiles != 0 {
		t.Errorf("expired files = %d, want 0 without --retention", report.ExpiredFiles)
	}
	if n, _ := e.Store.CountFiles(context.Background()); n != 1 {
		t.Errorf("file rows = %d, want 1", n)
	}
}

func TestJanitorDeletesDeadLinksAndSessions(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	e := newEnv(t, envOptions{now: clock.Now})
	ctx := context.Background()
	e.login(e.browser(), "bob", bobPassword)

	resp, body := e.upload(e.AliceToken, "shared.txt", []byte("shared\n"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: status = %d: %s", resp.StatusCode, body)
	}
	file := decodeFile(t, body)

	start := clock.Now()
	deadShare := e.addShare(file.ID, start.Add(time.Hour))
	liveShare := e.addShare(file.ID, start.Add(300*24*time.Hour))
	emptyDrop := e.addDrop(start.Add(time.Hour))
	usedDrop := e.addDrop(start.Add(time.Hour))
	e.attachToDrop(usedDrop, file.ID)

	clock.Advance(32 * 24 * time.Hour)
	report, err := e.Server.RunJanitorOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if report.Shares != 1 || report.Drops != 1 || report.Sessions != 1 {
		t.Errorf("report = %+v, want 1 share, 1 drop, 1 session", report)
	}
	if _, err := e.Store.ShareForOwner(ctx, e.Alice.ID, deadShare); err == nil {
		t.Error("the share expired 31 days ago is still there")
	}
	if _, err := e.Store.ShareForOwner(ctx, e.Alice.ID, liveShare); err != nil {
		t.Errorf("the active share is gone: %v", err)
	}
	if _, err := e.Store.DropByID(ctx, emptyDrop); err == nil {
		t.Error("the expired drop that received nothing is still there")
	}
	if _, err := e.Store.DropByID(ctx, usedDrop); err != nil {
		t.Errorf("the expired drop that received a file is gone, with who sent it: %v", err)
	}
	if _, err := e.Store.FileByID(ctx, file.ID); err != nil {
		t.Errorf("the shared file is gone: %v", err)
	}
}

func (e *testEnv) addShare(fileID string, expires time.Time) string {
	e.t.Helper()
	sh := store.Share{
		ID: store.NewID(), OwnerID: e.Alice.ID, TokenHash: randomBytes(e.t, 32), UnlockKey: randomBytes(e.t, 32),
		CreatedAt: expires.Add(-time.Hour), ExpiresAt: expires, FileIDs: []string{fileID},
	}
	if _, err := e.Store.CreateShare(context.Background(), sh, store.AuditEvent{Action: "share_create"}); err != nil {
		e.t.Fatal(err)
	}
	return sh.ID
}

func (e *testEnv) addDrop(expires time.Time) string {
	e.t.Helper()
	d := store.Drop{
		ID: store.NewID(), OwnerID: e.Alice.ID, TokenHash: randomBytes(e.t, 32), UnlockKey: randomBytes(e.t, 32),
		Label: "test drop", CreatedAt: expires.Add(-time.Hour), ExpiresAt: expires,
	}
	if _, err := e.Store.CreateDrop(context.Background(), d, store.AuditEvent{Action: "drop_create"}); err != nil {
		e.t.Fatal(err)
	}
	return d.ID
}

// attachToDrop records fileID as arrived through the drop, as a finished
// drop upload does.
func (e *testEnv) attachToDrop(dropID, fileID string) {
	e.t.Helper()
	ctx := context.Background()
	reserved, err := e.Store.ReserveDropSlot(ctx, dropID, 1<<20)
	if err != nil {
		e.t.Fatal(err)
	}
	up := store.DropUpload{FileID: fileID, DropID: dropID, VisitorHash: randomBytes(e.t, 32), UploaderName: "a visitor"}
	if err := e.Store.AttachDropUpload(ctx, up, reserved, 7, store.AuditEvent{Action: "drop_upload"}); err != nil {
		e.t.Fatal(err)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
