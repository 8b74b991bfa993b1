package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/vaultdrop/vaultdrop/app/config"
)

// withQuota sets --user-quota and lifts the upload caps, so tests can run
// many uploads of one user at once.
func withQuota(quota config.Size) func(*config.Config) {
	return func(c *config.Config) {
		c.UserQuota = quota
		c.MaxUploadsPerUser, c.MaxUploadsPerClient, c.MaxUploads = 0, 0, 0
	}
}

// plainText returns n bytes of plain text, which every type policy accepts as
// .txt.
func plainText(n int) []byte {
	return bytes.Repeat([]byte("quota test line\n"), n/16+1)[:n]
}

// putFile uploads content as the raw body of a PUT, so its size is
// declared in Content-Length.
func (e *testEnv) putFile(token, name string, content []byte) (*http.Response, []byte) {
	e.t.Helper()
	return e.request(http.MethodPut, "/api/v1/files/"+name, token, bytes.NewReader(content), nil)
}

func TestQuotaRefusesFileLargerThanQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: withQuota(1 << 20)})
	before := e.snapshot()

	resp, body := e.putFile(e.AliceToken, "big.txt", plainText(2<<20))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("declared size over the quota: status = %d, want 413: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "too_large")
	for _, figure := range []string{"2 MiB", "1 MiB"} {
		if !strings.Contains(string(body), figure) {
			t.Errorf("message lacks %q: %s", figure, body)
		}
	}

	resp, body = e.upload(e.AliceToken, "big.txt", plainText(2<<20))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed size over the quota: status = %d, want 413: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "too_large")
	e.assertNothingStored(before)
}

func TestQuotaFullAnswers507WithFigures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: withQuota(1 << 20)})
	if resp, body := e.upload(e.AliceToken, "first.txt", plainText(600<<10)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("first upload: status = %d, want 201: %s", resp.StatusCode, body)
	}
	before := e.snapshot()

	for _, send := range []struct {
		name   string
		upload func() (*http.Response, []byte)
	}{
		{"multipart", func() (*http.Response, []byte) { return e.upload(e.AliceToken, "second.txt", plainText(600<<10)) }},
		{"put", func() (*http.Response, []byte) { return e.putFile(e.AliceToken, "second.txt", plainText(600<<10)) }},
	} {
		resp, body := send.upload()
		if resp.StatusCode != http.StatusInsufficientStorage {
			t.Errorf("%s: status = %d, want 507: %s", send.name, resp.StatusCode, body)
		}
		assertErrorCode(t, body, "insufficient_storage")
		for _, figure := range []string{"1 MiB", "600 KiB", "424 KiB"} {
			if !strings.Contains(string(body), figure) {
				t.Errorf("%s: message lacks %q: %s", send.name, figure, body)
			}
		}
	}

	// A streamed file that misses the space left by several chunks, but
	// would fit an empty quota, is still 507, with its whole size.
	resp, body := e.upload(e.AliceToken, "third.txt", plainText(900<<10))
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("streamed 900 KiB: status = %d, want 507: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "insufficient_storage")
	if !strings.Contains(string(body), "This 900 KiB file") {
		t.Errorf("streamed 900 KiB: message lacks the file's size: %s", body)
	}
	e.assertNothingStored(before)

	// Bob's storage is his own.
	if resp, body := e.upload(e.BobToken, "bob.txt", plainText(600<<10)); resp.StatusCode != http.StatusCreated {
		t.Errorf("bob's upload: status = %d, want 201: %s", resp.StatusCode, body)
	}
}

func TestQuotaHoldsUnderConcurrentUploads(t *testing.T) {
	t.Parallel()
	// Eight 300 KiB uploads against 1 MiB: exactly three fit, whatever the
	// order in which they arrive, because every upload holds its bytes
	// before it writes them.
	for _, send := range []string{"multipart", "put"} {
		t.Run(send, func(t *testing.T) {
			e := newEnv(t, envOptions{configure: withQuota(1 << 20)})

			statuses := make(chan int, 8)
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					name := fmt.Sprintf("part%d.txt", i)
					var resp *http.Response
					if send == "put" {
						resp, _ = e.putFile(e.AliceToken, name, plainText(300<<10))
					} else {
						resp, _ = e.upload(e.AliceToken, name, plainText(300<<10))
					}
					statuses <- resp.StatusCode
				}()
			}
			wg.Wait()
			close(statuses)

			counts := map[int]int{}
			for status := range statuses {
				counts[status]++
			}
			if counts[http.StatusCreated] != 3 || counts[http.StatusInsufficientStorage] != 5 {
				t.Errorf("statuses = %v, want 3 × 201 and 5 × 507", counts)
			}
			used, err := e.Store.UsedBytes(context.Background(), e.Alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			if used > 1<<20 {
				t.Errorf("stored %d bytes, over the 1 MiB quota", used)
			}
			if n, _ := e.Vault.CountIncoming(); n != 0 {
				t.Errorf("vault/incoming holds %d files, want 0", n)
			}
		})
	}
}

func TestQuotaCountsPendingFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{scanOn: true, configure: withQuota(1 << 20)}) // no scanner: files wait
	if resp, body := e.upload(e.AliceToken, "waiting.txt", plainText(600<<10)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first upload: status = %d, want 202 pending: %s", resp.StatusCode, body)
	}
	before := e.snapshot()

	resp, body := e.upload(e.AliceToken, "second.txt", plainText(600<<10))
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("status = %d, want 507: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "insufficient_storage")
	e.assertNothingStored(before)
}

func TestQuotaFreedByDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: withQuota(1 << 20)})
	resp, body := e.upload(e.AliceToken, "first.txt", plainText(600<<10))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("first upload: status = %d, want 201: %s", resp.StatusCode, body)
	}
	first := decodeFile(t, body)

	if resp, _ := e.request(http.MethodDelete, "/api/v1/files/"+first.ID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: status = %d, want 204", resp.StatusCode)
	}
	if resp, body := e.upload(e.AliceToken, "second.txt", plainText(600<<10)); resp.StatusCode != http.StatusCreated {
		t.Errorf("upload after the delete: status = %d, want 201: %s", resp.StatusCode, body)
	}
}

func TestAdminSetsUserQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: withQuota(0)})
	admin := e.browser()
	e.login(admin, "alice", alicePassword)

	setQuota := func(c *http.Client, userID, value string) (int, string) {
		t.Helper()
		resp, err := c.PostForm(e.URL+"/admin/users/"+userID+"/quota", url.Values{"quota": {value}})
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(page)
	}

	if status, page := setQuota(admin, e.Bob.ID, "100KiB"); status != http.StatusSeeOther {
		t.Fatalf("set quota: status = %d, want 303: %.300s", status, page)
	}
	before := e.snapshot()
	resp, body := e.upload(e.BobToken, "bob.txt", plainText(200<<10))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("bob's upload over his quota: status = %d, want 413: %s", resp.StatusCode, body)
	}
	e.assertNothingStored(before)

	resp, err := admin.Get(e.URL + "/admin/users")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "100 KiB") {
		t.Errorf("users page does not show bob's quota: %.500s", page)
	}

	if status, page := setQuota(admin, e.Bob.ID, "lots"); status != http.StatusBadRequest || !strings.Contains(page, "Invalid quota") {
		t.Errorf("invalid quota: status = %d, want 400 with a message", status)
	}

	if status, _ := setQuota(admin, e.Bob.ID, ""); status != http.StatusSeeOther {
		t.Fatalf("reset quota: status = %d, want 303", status)
	}
	if resp, body := e.upload(e.BobToken, "bob.txt", plainText(200<<10)); resp.StatusCode != http.StatusCreated {
		t.Errorf("bob's upload after the reset: status = %d, want 201: %s", resp.StatusCode, body)
	}

	// Bob is no admin: the page and the form do not exist for him.
	user := e.browser()
	e.login(user, "bob", bobPassword)
	if status, _ := setQuota(user, e.Bob.ID, "unlimited"); status != http.StatusNotFound {
		t.Errorf("non-admin setting a quota: status = %d, want 404", status)
	}
}
