package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/store"
)

// killRounds is how many times the fault-injection test kills the server:
// VAULTDROP_TEST_KILL_ROUNDS, or 20 so that the whole suite stays fast.
func killRounds(t *testing.T) int {
	text := os.Getenv("VAULTDROP_TEST_KILL_ROUNDS")
	if text == "" {
		return 20
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 {
		t.Fatalf("VAULTDROP_TEST_KILL_ROUNDS=%q: want a positive number of rounds", text)
	}
	return n
}

// killSeed is the random seed of the test: VAULTDROP_TEST_KILL_SEED to
// repeat a failed run, or a new one that the test logs.
func killSeed(t *testing.T) uint64 {
	if text := os.Getenv("VAULTDROP_TEST_KILL_SEED"); text != "" {
		seed, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			t.Fatalf("VAULTDROP_TEST_KILL_SEED=%q: want a number", text)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// acknowledged records the uploads the server responded 201 to, with the
// SHA-256 of the bytes sent.
type acknowledged struct {
	mu    sync.Mutex
	files map[string]string // file id to SHA-256
	fresh []string          // ids acknowledged since the last check
}

func (a *acknowledged) add(id, sum string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[id] = sum
	a.fresh = append(a.fresh, id)
}

// takeFresh returns the ids acknowledged since the last call.
func (a *acknowledged) takeFresh() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := a.fresh
	a.fresh = nil
	return ids
}

func TestSIGKILLLosesNoAcknowledgedUpload(t *testing.T) {
	rounds, seed := killRounds(t), killSeed(t)
	t.Logf("%d rounds, seed %d (set VAULTDROP_TEST_KILL_SEED=%d to repeat)", rounds, seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))

	dir := t.TempDir()
	token := account(t, dir)
	acked := &acknowledged{files: map[string]string{}}

	for round := 0; round < rounds; round++ {
		s := startServer(t, dir, "--api-rate", "0")
		checkAcknowledged(t, s.URL, token, acked, acked.takeFresh(), round)

		// Four clients upload while the server is killed 20 to 400 ms into
		// the round, at a random point of some upload.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(clientSeed uint64) {
				defer wg.Done()
				uploadUntilStopped(s.URL, token, rand.New(rand.NewPCG(clientSeed, 7)), acked, stop)
			}(rng.Uint64())
		}
		time.Sleep(time.Duration(20+rng.IntN(380)) * time.Millisecond)

		if err := s.cmd.Process.Kill(); err != nil {
			t.Fatalf("round %d: kill: %v", round, err)
		}
		s.cmd.Wait()
		close(stop)
		wg.Wait()

		checkDatabase(t, dir, round)
	}

	s := startServer(t, dir, "--api-rate", "0")
	checkAcknowledged(t, s.URL, token, acked, acked.takeFresh(), rounds)
	checkEveryListedFile(t, s.URL, token, acked)
	if out, stderr, err := command(t, "", "verify", "--data-dir", dir); err != nil {
		t.Errorf("verify after %d kills: %v\n%s%s", rounds, err, out, stderr)
	}
	acked.mu.Lock()
	t.Logf("%d uploads acknowledged over %d kills", len(acked.files), rounds)
	acked.mu.Unlock()
}

// uploadUntilStopped uploads text files of up to 2 MiB in a loop and
// records every 201. Errors are expected: the server is killed mid-way.
func uploadUntilStopped(baseURL, token string, rng *rand.Rand, acked *acknowledged, stop <-chan struct{}) {
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		content := randomText(rng, 1+rng.IntN(2<<20))
		status, f, err := put(client, baseURL, token, fmt.Sprintf("k%d.txt", i), content)
		if err != nil {
			// The connection died with the server; wait for the round to end.
			<-stop
			return
		}
		if status == http.StatusCreated {
			acked.add(f.ID, sha256Hex(content))
		}
	}
}

// checkAcknowledged downloads each of ids and compares it with what was
// acknowledged.
func checkAcknowledged(t *testing.T, baseURL, token string, acked *acknowledged, ids []string, round int) {
	t.Helper()
	for _, id := range ids {
		status, body := download(t, baseURL, token, id)
		acked.mu.Lock()
		want := acked.files[id]
		acked.mu.Unlock()
		if status != http.StatusOK || sha256Hex(body) != want {
			t.Errorf("after kill %d: acknowledged file %s: status %d, sha256 %s, want 200 and %s", round, id, status, sha256Hex(body), want)
		}
	}
}

// checkEveryListedFile downloads every file the server lists and checks it
// against the SHA-256 in its row and, when acknowledged, the one sent: no
// half-written file may be visible. A file the server stored but whose 201
// the kill cut off is complete too.
func checkEveryListedFile(t *testing.T, baseURL, token string, acked *acknowledged) {
	t.Helper()
	listed := map[string]bool{}
	for _, f := range listFiles(t, baseURL, token) {
		listed[f.ID] = true
		status, body := download(t, baseURL, token, f.ID)
		if status != http.StatusOK {
			t.Errorf("listed file %s (%s): status %d, want 200", f.ID, f.Status, status)
			continue
		}
		if got := sha256Hex(body); got != f.SHA256 || int64(len(body)) != f.Size {
			t.Errorf("listed file %s: %d bytes with sha256 %s, row says %d bytes and %s", f.ID, len(body), got, f.Size, f.SHA256)
		}
	}

	acked.mu.Lock()
	defer acked.mu.Unlock()
	for id := range acked.files {
		if !listed[id] {
			t.Errorf("acknowledged file %s is not listed", id)
		}
	}
}

// checkDatabase runs PRAGMA integrity_check on the database of a killed
// server.
func checkDatabase(t *testing.T, dir string, round int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, nil)
	if err != nil {
		t.Fatalf("after kill %d: open database: %v", round, err)
	}
	defer st.Close()
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Fatalf("after kill %d: %v", round, err)
	}
}
