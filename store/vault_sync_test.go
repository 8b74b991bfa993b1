package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestIncomingEarlySyncThenCommit writes past several early-fsync windows
// and commits: the stored file holds every byte, and Commit waited for the
// background fsyncs (run with -race to see an unsynchronised one).
func TestIncomingEarlySyncThenCommit(t *testing.T) {
	v, err := OpenVault(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	in, err := v.CreateIncoming()
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("early sync\n"), 100_000)
	var want int64
	for want < 3*earlySyncWindow {
		n, err := in.Write(chunk)
		if err != nil {
			t.Fatal(err)
		}
		want += int64(n)
	}
	if in.synced == 0 {
		t.Fatalf("no early fsync started after %d bytes", want)
	}

	id := NewID()
	if err := in.Commit(id); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	info, err := os.Stat(filepath.Join(v.Dir(), id[:2], id))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != want {
		t.Errorf("stored %d bytes, want %d", info.Size(), want)
	}
}

// TestIncomingDiscardDuringEarlySync discards a file right after an early
// fsync started: nothing is left in vault/incoming.
func TestIncomingDiscardDuringEarlySync(t *testing.T) {
	v, err := OpenVault(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	in, err := v.CreateIncoming()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Write(make([]byte, earlySyncWindow)); err != nil {
		t.Fatal(err)
	}
	if err := in.Discard(); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	if n, err := v.CountIncoming(); err != nil || n != 0 {
		t.Errorf("vault/incoming holds %d files (%v), want 0", n, err)
	}
}
