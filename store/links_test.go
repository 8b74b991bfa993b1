package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/store/storetest"
)

// newOwnerWithFile creates a user and one clean file of theirs.
func newOwnerWithFile(t *testing.T, st *store.Store) (store.User, store.File) {
	t.Helper()
	ctx := context.Background()
	u, err := st.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "x"}, store.AuditEvent{Action: "user_create"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.CreateFile(ctx, store.File{
		ID: store.NewID(), OwnerID: u.ID, Name: "a.txt", Size: 3, SHA256: strings.Repeat("0", 64),
		ContentType: "text/plain", Status: store.StatusClean,
	}, store.AuditEvent{Action: "upload"})
	if err != nil {
		t.Fatal(err)
	}
	return u, f
}

func TestCountShareDownloadStopsAtLimit(t *testing.T) {
	clock := storetest.NewClock()
	st, _ := storetest.Open(t, clock.Now)
	ctx := context.Background()
	u, f := newOwnerWithFile(t, st)
	sh, err := st.CreateShare(ctx, store.Share{
		ID: store.NewID(), OwnerID: u.ID, TokenHash: []byte("hash"), UnlockKey: make([]byte, 32), MaxDownloads: 3,
		CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour), FileIDs: []string{f.ID},
	}, store.AuditEvent{Action: "share_create"})
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	counted, rejected := 0, 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := st.CountShareDownload(ctx, sh.ID, f.ID, "127.0.0.1", store.AuditEvent{Action: "share_download"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				counted++
			case errors.Is(err, store.ErrNotFound):
				rejected++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	if counted != 3 || rejected != 17 {
		t.Errorf("counted %d and rejected %d downloads, want 3 and 17", counted, rejected)
	}
	got, err := st.ShareForOwner(ctx, u.ID, sh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Downloads != 3 || got.State(clock.Now()) != store.LinkExhausted {
		t.Errorf("downloads = %d, state %q; want 3 and exhausted", got.Downloads, got.State(clock.Now()))
	}
}

func TestCountShareDownloadChecksFileStatus(t *testing.T) {
	clock := storetest.NewClock()
	st, _ := storetest.Open(t, clock.Now)
	ctx := context.Background()
	u, f := newOwnerWithFile(t, st)
	sh, err := st.CreateShare(ctx, store.Share{
		ID: store.NewID(), OwnerID: u.ID, TokenHash: []byte("hash"), UnlockKey: make([]byte, 32),
		CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour), FileIDs: []string{f.ID},
	}, store.AuditEvent{Action: "share_create"})
	if err != nil {
		t.Fatal(err)
	}

	if err := st.MarkInfected(ctx, f.ID, store.ScanInfo{Signature: "Test.Sig"}, store.AuditEvent{Action: "scan"}); err != nil {
		t.Fatal(err)
	}
	for _, fileID := range []string{f.ID, ""} {
		err := st.CountShareDownload(ctx, sh.ID, fileID, "127.0.0.1", store.AuditEvent{Action: "share_download"})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("download %q of an infected file: err = %v, want ErrNotFound", fileID, err)
		}
	}
}

func TestCreateShareRejectsOtherUsersFile(t *testing.T) {
	clock := storetest.NewClock()
	st, _ := storetest.Open(t, clock.Now)
	ctx := context.Background()
	_, f := newOwnerWithFile(t, st)
	bob, err := st.CreateUser(ctx, store.User{Username: "bob", PasswordHash: "x"}, store.AuditEvent{Action: "user_create"})
	if err != nil {
		t.Fatal(err)
	}

	_, err = st.CreateShare(ctx, store.Share{
		ID: store.NewID(), OwnerID: bob.ID, TokenHash: []byte("hash"), UnlockKey: make([]byte, 32),
		CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour), FileIDs: []string{f.ID},
	}, store.AuditEvent{Action: "share_create"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	shares, err := st.ListShares(ctx, bob.ID)
	if err != nil || len(shares) != 0 {
		t.Errorf("bob's shares = %v (%v), want none", shares, err)
	}
}

func TestReserveDropSlotConcurrent(t *testing.T) {
	clock := storetest.NewClock()
	st, _ := storetest.Open(t, clock.Now)
	ctx := context.Background()
	u, _ := newOwnerWithFile(t, st)
	d, err := st.CreateDrop(ctx, store.Drop{
		ID: store.NewID(), OwnerID: u.ID, TokenHash: []byte("hash"), UnlockKey: make([]byte, 32),
		MaxFiles: 5, MaxBytes: 1000, CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour),
	}, store.AuditEvent{Action: "drop_create"})
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var reservations []int64
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reserved, err := st.ReserveDropSlot(ctx, d.ID, 300)
			if err != nil && !errors.Is(err, store.ErrDropFull) && !errors.Is(err, store.ErrDropNoRoom) {
				t.Error(err)
			}
			if err == nil {
				mu.Lock()
				reservations = append(reservations, reserved)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	var total int64
	for _, r := range reservations {
		total += r
	}
	if len(reservations) != 4 || total != 1000 {
		t.Errorf("reservations = %v, want four (300, 300, 300, 100) that fill the 1000 bytes", reservations)
	}

	if err := st.ReleaseDropSlot(ctx, d.ID, 100); err != nil {
		t.Fatal(err)
	}
	got, err := st.DropForOwner(ctx, u.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Files != 3 || got.Bytes != 900 {
		t.Errorf("after one release: %d files, %d bytes; want 3 and 900", got.Files, got.Bytes)
	}
}

func TestReserveDropSlotExpiredOrRevoked(t *testing.T) {
	clock := storetest.NewClock()
	st, _ := storetest.Open(t, clock.Now)
	ctx := context.Background()
	u, _ := newOwnerWithFile(t, st)
	newDrop := func() store.Drop {
		d, err := st.CreateDrop(ctx, store.Drop{
			ID: store.NewID(), OwnerID: u.ID, TokenHash: []byte(store.NewID()), UnlockKey: make([]byte, 32),
			CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour),
		}, store.AuditEvent{Action: "drop_create"})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	revoked, expired := newDrop(), newDrop()

	if err := st.RevokeDrop(ctx, u.ID, revoked.ID, store.AuditEvent{Action: "drop_revoke"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReserveDropSlot(ctx, revoked.ID, 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked drop: err = %v, want ErrNotFound", err)
	}
	clock.Advance(time.Hour)
	if _, err := st.ReserveDropSlot(ctx, expired.ID, 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired drop: err = %v, want ErrNotFound", err)
	}
}
