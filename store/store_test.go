package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/store/storetest"
)

func TestOpenCreatesPrivateDatabase(t *testing.T) {
	_, dir := storetest.Open(t, nil)

	info, err := os.Stat(filepath.Join(dir, store.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("database mode = %o, want 600", perm)
	}
}

func TestMigrationsUpgradeOlderDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	old, err := store.OpenAtVersion(ctx, dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "x"}, store.AuditEvent{Action: "user_create"}); err != nil {
		t.Fatal(err)
	}
	old.Close()

	st, err := store.Open(ctx, dir, nil)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer st.Close()

	version, err := st.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if version < 2 {
		t.Errorf("schema version = %d, want at least 2", version)
	}
	if _, err := st.UserByName(ctx, "alice"); err != nil {
		t.Errorf("user from the old schema: %v", err)
	}

	// The scan columns added by migration 2 are usable.
	db, err := sql.Open("sqlite", filepath.Join(dir, store.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`SELECT scan_engine, scan_signatures, scanned_at, signature FROM files`); err != nil {
		t.Errorf("scan columns missing after upgrade: %v", err)
	}
}

func TestMigrationsApplyOnce(t *testing.T) {
	ctx := context.Background()
	_, dir := storetest.Open(t, nil)

	// Opening again must not re-run any migration (ALTER TABLE ADD COLUMN
	// would fail the second time).
	st, err := store.Open(ctx, dir, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	st.Close()
}

func TestCreateUserRejectsDuplicate(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.Open(t, nil)

	if _, err := st.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "x"}, store.AuditEvent{Action: "user_create"}); err != nil {
		t.Fatal(err)
	}
	_, err := st.CreateUser(ctx, store.User{Username: "ALICE", PasswordHash: "y"}, store.AuditEvent{Action: "user_create"})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("err = %v, want ErrConflict", err)
	}
}

func TestCreateFirstAdminOnlyOnce(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.Open(t, nil)

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.CreateFirstAdmin(ctx, store.User{Username: "admin" + string(rune('a'+i)), PasswordHash: "x"}, store.AuditEvent{Action: "setup"})
		}()
	}
	wg.Wait()

	created := 0
	for _, err := range errs {
		if err == nil {
			created++
		} else if !errors.Is(err, store.ErrConflict) {
			t.Errorf("unexpected error: %v", err)
		}
	}
	if created != 1 {
		t.Errorf("created %d first admins, want 1", created)
	}
}

func TestSessionExpires(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	st, _ := storetest.Open(t, clock.Now)

	u, err := st.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "x"}, store.AuditEvent{Action: "user_create"})
	if err != nil {
		t.Fatal(err)
	}
	hash := []byte("0123456789abcdef0123456789abcdef")
	sess := store.Session{TokenHash: hash, UserID: u.ID, CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(60e9)}
	if err := st.CreateSession(ctx, sess, store.AuditEvent{Action: "login"}); err != nil {
		t.Fatal(err)
	}

	if _, err := st.SessionUser(ctx, hash); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	clock.Advance(61e9)
	if _, err := st.SessionUser(ctx, hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session: err = %v, want ErrNotFound", err)
	}
}

func TestTokenUseIsRecordedOncePerMinute(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	st, dir := storetest.Open(t, clock.Now)

	u, err := st.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "x"}, store.AuditEvent{Action: "user_create"})
	if err != nil {
		t.Fatal(err)
	}
	hash := []byte("0123456789abcdef0123456789abcdef")
	if _, err := st.CreateAPIToken(ctx, store.APIToken{UserID: u.ID, Name: "ci", TokenHash: hash}, store.AuditEvent{Action: "token_create"}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, store.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lastUsed := func() string {
		t.Helper()
		var v sql.NullString
		if err := db.QueryRow(`SELECT last_used_at FROM api_tokens`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v.String
	}
	use := func() {
		t.Helper()
		got, err := st.TokenUser(ctx, hash)
		if err != nil || got.ID != u.ID {
			t.Fatalf("TokenUser = %v, %v; want alice", got.ID, err)
		}
	}

	use()
	first := lastUsed()
	if first == "" {
		t.Fatal("first use was not recorded")
	}

	clock.Advance(30 * time.Second)
	use()
	if got := lastUsed(); got != first {
		t.Errorf("use 30 s later rewrote last_used_at: %s, want %s kept", got, first)
	}

	clock.Advance(31 * time.Second)
	use()
	if got := lastUsed(); got <= first {
		t.Errorf("use 61 s later: last_used_at = %s, want later than %s", got, first)
	}

	if _, err := st.TokenUser(ctx, []byte("not a stored token hash 01234567")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown token: err = %v, want ErrNotFound", err)
	}
}

func TestConcurrentWritesDoNotFail(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.Open(t, nil)

	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.RecordAudit(ctx, store.AuditEvent{Actor: "t", Action: "test"})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent write: %v", err)
		}
	}
}
