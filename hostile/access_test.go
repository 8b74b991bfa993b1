package hostile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app"
	"github.com/vaultdrop/vaultdrop/app/config"
)

// unknownLinkToken has the form of a link token but names no link.
const unknownLinkToken = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// shareObject is the API's share object.
type shareObject struct {
	ID        string `json:"id"`
	Downloads int64  `json:"downloads"`
	State     string `json:"state"`
}

// listShares returns alice's shares by id.
func (s *server) listShares(t *testing.T) map[string]shareObject {
	t.Helper()
	resp := s.do(t, request{Path: "/api/v1/shares", Token: aliceToken})
	var list struct {
		Shares []shareObject `json:"shares"`
	}
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &list) != nil {
		t.Fatalf("list shares: status %d: %.300s", resp.Status, resp.Body)
	}
	byID := map[string]shareObject{}
	for _, sh := range list.Shares {
		byID[sh.ID] = sh
	}
	return byID
}

// auditFailures counts the audit events with outcome failure.
func (s *server) auditFailures(t *testing.T) int {
	t.Helper()
	var n int
	if err := s.openDB(t).QueryRow(`SELECT count(*) FROM audit_events WHERE outcome = 'failure'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExpiredLinks waits for a share link and a drop link to expire, so it
// runs beside the other tests: links live at least one minute.
func TestExpiredLinks(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	s.requireShares(t)
	f := mustStore(t, s.upload(t, "h30c.pdf", minPDF))
	share := s.createShare(t, fmt.Sprintf(`{"file_ids":[%q],"expires_in_seconds":60}`, f.ID))
	unknownShare := s.shareProbes(t, link{Path: "/s/" + unknownLinkToken}, f.ID)
	if shareProbesOK(t, s.shareProbes(t, share, f.ID)) {
		t.Fatal("the fresh share does not serve its file")
	}

	var drop, unknownDrop response
	var dropLink link
	dropsBuilt := s.apiBuilt(t, "/api/v1/drops")
	if dropsBuilt {
		dropLink = s.createDrop(t, `{"label":"h34b","expires_in_seconds":60}`)
		unknownDrop = s.dropUpload(t, link{Path: "/d/" + unknownLinkToken}, "unknown.txt", plainText, nil)
	}

	time.Sleep(61 * time.Second)
	before := s.snapshot(t)
	compareProbes(t, "expired share", s.shareProbes(t, share, f.ID), unknownShare)
	if dropsBuilt {
		drop = s.dropUpload(t, dropLink, "expired.txt", plainText, nil)
		if drop.Status != unknownDrop.Status || !bytes.Equal(drop.Body, unknownDrop.Body) {
			t.Errorf("expired drop: %d %s, want the unknown drop's %d %s", drop.Status, drop.Body, unknownDrop.Status, unknownDrop.Body)
		}
	}
	s.assertNothingStored(t, before)
}

// shareProbes fetches a share's file, zip and page.
func (s *server) shareProbes(t *testing.T, share link, fileID string) map[string]response {
	t.Helper()
	return map[string]response{
		"file": s.do(t, request{Path: share.Path + "/files/" + fileID}),
		"zip":  s.do(t, request{Path: share.Path + "/zip"}),
		"page": s.do(t, request{Path: share.Path, Header: http.Header{"Accept": {"application/json"}}}),
	}
}

// shareProbesOK reports whether any probe got a status other than 200.
func shareProbesOK(t *testing.T, probes map[string]response) bool {
	t.Helper()
	failed := false
	for route, resp := range probes {
		if resp.Status != http.StatusOK {
			t.Errorf("share %s: status %d, want 200: %.300s", route, resp.Status, resp.Body)
			failed = true
		}
	}
	return failed
}

// compareProbes checks that a dead share responds on every route with 404
// and the same body as a link that never existed.
func compareProbes(t *testing.T, label string, got, unknown map[string]response) {
	t.Helper()
	for route, resp := range got {
		if resp.Status != http.StatusNotFound {
			t.Errorf("%s, %s route: status %d, want 404", label, route, resp.Status)
		}
		if !bytes.Equal(resp.Body, unknown[route].Body) {
			t.Errorf("%s, %s route: body %.200q differs from an unknown link's %.200q", label, route, resp.Body, unknown[route].Body)
		}
	}
}

func TestOtherUsersFileIDs(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	a := mustStore(t, s.upload(t, "secret_a.pdf", minPDF))
	unknownIDs := []string{"no-such-id-0000", "0123456789abcdef0123456789abcdef"}
	bob := s.browserFor(t, "bob", bobPassword)

	type route struct{ method, path string }
	for _, r := range []route{
		{http.MethodGet, "/api/v1/files/ID"},
		{http.MethodGet, "/api/v1/files/ID/content"},
		{http.MethodHead, "/api/v1/files/ID/content"},
		{http.MethodDelete, "/api/v1/files/ID"},
	} {
		unknown := s.do(t, request{Method: r.method, Path: strings.Replace(r.path, "ID", unknownIDs[1], 1), Token: bobToken})
		for _, id := range append([]string{a.ID}, unknownIDs...) {
			resp := s.do(t, request{Method: r.method, Path: strings.Replace(r.path, "ID", id, 1), Token: bobToken})
			if resp.Status != http.StatusNotFound {
				t.Errorf("bob %s %s: status %d, want 404", r.method, strings.Replace(r.path, "ID", id, 1), resp.Status)
			}
			if r.method != http.MethodHead && (resp.errorCode() != "not_found" || !bytes.Equal(resp.Body, unknown.Body)) {
				t.Errorf("bob %s for %s: body %.200q, want the unknown id's %.200q", r.method, id, resp.Body, unknown.Body)
			}
		}
	}
	for _, r := range []route{{http.MethodGet, "/files/ID/download"}, {http.MethodPost, "/files/ID/delete"}} {
		resp := s.do(t, request{Method: r.method, Path: strings.Replace(r.path, "ID", a.ID, 1), Client: bob.client, Header: bob.sameOrigin(nil)})
		if resp.Status != http.StatusNotFound {
			t.Errorf("bob's browser %s %s: status %d, want 404", r.method, r.path, resp.Status)
		}
	}

	for _, f := range s.listFiles(t, bobToken) {
		if f.ID == a.ID {
			t.Error("bob's file list holds alice's file")
		}
	}
	if page := s.do(t, request{Path: "/files", Client: bob.client}); bytes.Contains(page.Body, []byte(a.ID)) {
		t.Error("bob's Files page names alice's file")
	}

	t.Run("share", func(t *testing.T) {
		s.requireShares(t)
		before := s.snapshot(t)
		resp := s.do(t, request{Method: http.MethodPost, Path: "/api/v1/shares", Token: bobToken, Header: jsonBody, Body: strings.NewReader(shareFiles(a.ID))})
		s.assertRejected(t, resp, http.StatusNotFound, "not_found", before)
	})

	if dl := s.download(t, a.ID); dl.Status != http.StatusOK || !bytes.Equal(dl.Body, minPDF) {
		t.Errorf("alice's file after bob's attempts: status %d", dl.Status)
	}
}

func TestRevokingOthersLinks(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	s.requireShares(t)
	f := mustStore(t, s.upload(t, "h29.pdf", minPDF))
	share := s.createShare(t, shareFiles(f.ID))
	bob := s.browserFor(t, "bob", bobPassword)

	failures := s.auditFailures(t)
	for _, req := range []request{
		{Method: http.MethodDelete, Path: "/api/v1/shares/" + share.ID, Token: bobToken},
		{Method: http.MethodDelete, Path: "/api/v1/shares/" + share.Token, Token: bobToken},
		{Method: http.MethodDelete, Path: "/api/v1/shares/no-such-share", Token: aliceToken},
	} {
		assertError(t, s.do(t, req), http.StatusNotFound, "not_found")
	}
	browserRevoke := s.do(t, request{Method: http.MethodPost, Path: "/shares/" + share.ID + "/revoke", Client: bob.client, Header: bob.sameOrigin(nil)})
	if browserRevoke.Status != http.StatusNotFound {
		t.Errorf("bob's browser revoking alice's share: status %d, want 404", browserRevoke.Status)
	}
	if got := s.do(t, request{Path: share.Path + "/files/" + f.ID}); got.Status != http.StatusOK {
		t.Errorf("alice's share after bob's attempts: status %d, want 200", got.Status)
	}
	if s.auditFailures(t) < failures+2 {
		t.Error("bob's refused revocations are not in the audit log")
	}

	t.Run("drop", func(t *testing.T) {
		s.requireDrops(t)
		d := s.createDrop(t, `{"label":"h29"}`)
		assertError(t, s.do(t, request{Method: http.MethodDelete, Path: "/api/v1/drops/" + d.ID, Token: bobToken}), http.StatusNotFound, "not_found")
		resp := s.do(t, request{Method: http.MethodPost, Path: "/drops/" + d.ID + "/revoke", Client: bob.client, Header: bob.sameOrigin(nil)})
		if resp.Status != http.StatusNotFound {
			t.Errorf("bob's browser revoking alice's drop: status %d, want 404", resp.Status)
		}
		mustStore(t, s.dropUpload(t, d, "after.txt", plainText, nil))
	})
}

func TestSharesEndWithWhatTheyServe(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	s.requireShares(t)
	unknown := s.shareProbes(t, link{Path: "/s/" + unknownLinkToken}, "0123456789abcdef0123456789abcdef")

	newShare := func(name, options string) (fileObject, link) {
		f := mustStore(t, s.upload(t, name, minPDF))
		return f, s.createShare(t, fmt.Sprintf(`{"file_ids":[%q]%s}`, f.ID, options))
	}

	f, share := newShare("h30a.pdf", "")
	if resp := s.do(t, request{Method: http.MethodDelete, Path: "/api/v1/files/" + f.ID, Token: aliceToken}); resp.Status != http.StatusNoContent {
		t.Fatalf("delete file: status %d", resp.Status)
	}
	compareProbes(t, "share of a deleted file", s.shareProbes(t, share, f.ID), unknown)

	f, share = newShare("h30b.pdf", "")
	if resp := s.do(t, request{Method: http.MethodDelete, Path: "/api/v1/shares/" + share.ID, Token: aliceToken}); resp.Status != http.StatusNoContent {
		t.Fatalf("revoke share: status %d", resp.Status)
	}
	compareProbes(t, "revoked share", s.shareProbes(t, share, f.ID), unknown)

	f, share = newShare("h30d.pdf", `,"max_downloads":1`)
	if resp := s.do(t, request{Path: share.Path + "/files/" + f.ID}); resp.Status != http.StatusOK {
		t.Fatalf("first download: status %d", resp.Status)
	}
	compareProbes(t, "used-up share", s.shareProbes(t, share, f.ID), unknown)

	// A file outside the share, even the owner's own, is not served by it.
	other := mustStore(t, s.upload(t, "h30e.pdf", minPDF))
	_, share = newShare("h30f.pdf", "")
	if resp := s.do(t, request{Path: share.Path + "/files/" + other.ID}); resp.Status != http.StatusNotFound {
		t.Errorf("share serving a file it does not hold: status %d, want 404", resp.Status)
	}
}

func TestDownloadLimitRace(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	s.requireShares(t)
	f := mustStore(t, s.upload(t, "h31.pdf", minPDF))

	race := func(share link, routes func(i int) string) map[int]int {
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() {
				resp, err := s.send(request{Path: routes(i)})
				if err != nil {
					t.Errorf("download %d: %v", i, err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return statuses
	}

	one := s.createShare(t, fmt.Sprintf(`{"file_ids":[%q],"max_downloads":1}`, f.ID))
	got := race(one, func(int) string { return one.Path + "/files/" + f.ID })
	if got[http.StatusOK] != 1 || got[http.StatusNotFound] != 29 {
		t.Errorf("30 racing downloads of a one-use link: %v, want one 200 and 29 404", got)
	}

	three := s.createShare(t, fmt.Sprintf(`{"file_ids":[%q],"max_downloads":3}`, f.ID))
	got = race(three, func(i int) string {
		if i%2 == 0 {
			return three.Path + "/zip"
		}
		return three.Path + "/files/" + f.ID
	})
	if got[http.StatusOK] != 3 || got[http.StatusNotFound] != 27 {
		t.Errorf("30 racing downloads of a three-use link: %v, want three 200 and 27 404", got)
	}
	for id, want := range map[string]int64{one.ID: 1, three.ID: 3} {
		if n := s.listShares(t)[id].Downloads; n != want {
			t.Errorf("share %s: owner sees %d downloads, want %d", id, n, want)
		}
	}

	// Policy: a Range request that starts at byte 0 counts as a download.
	// One that resumes later in the file does not count, and only a client
	// with a counted download of the file may resume.
	ranged := s.createShare(t, fmt.Sprintf(`{"file_ids":[%q],"max_downloads":2}`, f.ID))
	path := ranged.Path + "/files/" + f.ID
	rangeHeader := func(r string) http.Header { return http.Header{"Range": {r}} }
	if resp := s.do(t, request{Path: path, Header: rangeHeader("bytes=0-3")}); resp.Status != http.StatusPartialContent {
		t.Errorf("range from 0: status %d, want 206", resp.Status)
	}
	if resp := s.do(t, request{Path: path, Header: rangeHeader("bytes=4-")}); resp.Status != http.StatusPartialContent {
		t.Errorf("resumed range: status %d, want 206", resp.Status)
	}
	if n := s.listShares(t)[ranged.ID].Downloads; n != 1 {
		t.Errorf("after a range from 0 and its resumption: %d downloads counted, want 1", n)
	}
	if resp := s.do(t, request{Path: path}); resp.Status != http.StatusOK {
		t.Errorf("second full download: status %d, want 200", resp.Status)
	}
	if resp := s.do(t, request{Path: path}); resp.Status != http.StatusNotFound {
		t.Errorf("third download of a two-use link: status %d, want 404", resp.Status)
	}
}

// fromAddress returns a client whose connections leave from the loopback
// address ip, such as 127.0.0.2, so one test can act as several clients.
func fromAddress(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{
		Transport: &http.Transport{DialContext: dialer.DialContext},
		Timeout:   time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func TestSharePasswordGuessing(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	s.requireShares(t)
	f := mustStore(t, s.upload(t, "h32.pdf", minPDF))
	const right = "h32 right password"
	share := s.createShare(t, fmt.Sprintf(`{"file_ids":[%q],"password":%q}`, f.ID, right))
	path := share.Path + "/files/" + f.ID
	guess := func(client *http.Client, password string, extra http.Header) response {
		h := http.Header{"X-Share-Password": {password}}
		for key, values := range extra {
			h[key] = values
		}
		return s.do(t, request{Path: path, Header: h, Client: client})
	}

	var wrong []response
	throttled := 0
	for i := range 50 {
		resp := guess(nil, fmt.Sprintf("guess%d", i), nil)
		switch resp.Status {
		case http.StatusUnauthorized:
			wrong = append(wrong, resp)
		case http.StatusTooManyRequests:
			throttled++
			assertError(t, resp, http.StatusTooManyRequests, "too_many_requests")
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		default:
			t.Errorf("wrong password %d: status %d", i, resp.Status)
		}
	}
	if len(wrong) == 0 || len(wrong) > 10 || throttled == 0 {
		t.Errorf("50 wrong passwords: %d answered 401 and %d 429, want a few 401 then 429", len(wrong), throttled)
	}
	for _, resp := range wrong {
		if resp.errorCode() != "unauthorized" || !bytes.Equal(resp.Body, wrong[0].Body) {
			t.Errorf("wrong passwords get different answers: %s and %s", resp.Body, wrong[0].Body)
		}
	}

	// X-Forwarded-For is believed only from trusted proxies.
	for i := range 10 {
		resp := guess(nil, fmt.Sprintf("spoof%d", i), http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i)}})
		if resp.Status != http.StatusTooManyRequests {
			t.Errorf("guess with a rotating X-Forwarded-For: status %d, want 429", resp.Status)
		}
	}
	if resp := guess(nil, right, nil); resp.Status != http.StatusTooManyRequests {
		t.Errorf("right password while this client is locked out: status %d, want 429", resp.Status)
	}

	// Guessing from many addresses exhausts the link's own budget, after
	// which even a fresh client with the right password waits.
	for n := 2; n <= 5; n++ {
		client := fromAddress(fmt.Sprintf("127.0.0.%d", n))
		for i := range 5 {
			guess(client, fmt.Sprintf("spread%d-%d", n, i), nil)
		}
	}
	if resp := guess(fromAddress("127.0.0.20"), right, nil); resp.Status != http.StatusTooManyRequests {
		t.Errorf("right password after the link's attempts ran out: status %d, want 429", resp.Status)
	}

	var hash string
	s.openDB(t).QueryRow(`SELECT password_hash FROM shares WHERE id = ?`, share.ID).Scan(&hash)
	if !strings.HasPrefix(hash, "$argon2id$") {
		t.Errorf("share password stored as %.20q, want an argon2id hash", hash)
	}
	if strings.Contains(s.log.String(), right) || strings.Contains(s.log.String(), "guess1") {
		t.Error("the log holds a share password")
	}
}

func TestSharePasswordAfterTheLock(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	s.requireShares(t)
	f := mustStore(t, s.upload(t, "h32b.pdf", minPDF))
	const right = "h32 right password"
	share := s.createShare(t, fmt.Sprintf(`{"file_ids":[%q],"password":%q}`, f.ID, right))
	path := share.Path + "/files/" + f.ID

	locked := false
	for i := range 20 {
		resp := s.do(t, request{Path: path, Header: http.Header{"X-Share-Password": {fmt.Sprintf("guess%d", i)}}})
		if resp.Status == http.StatusTooManyRequests {
			locked = true
			break
		}
	}
	if !locked {
		t.Fatal("20 wrong passwords: no 429")
	}
	ok := waitFor(45*time.Second, func() bool {
		resp := s.do(t, request{Path: path, Header: http.Header{"X-Share-Password": {right}}})
		return resp.Status == http.StatusOK
	})
	if !ok {
		t.Error("the right password still fails 45 seconds after the lock")
	}
}

func TestCrossSiteRequests(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	f := mustStore(t, s.upload(t, "h33.pdf", minPDF))
	b := s.alice(t)

	var session *http.Cookie
	for _, c := range b.client.Jar.Cookies(mustParseURL(t, s.URL)) {
		if c.Name == "vaultdrop_session" {
			session = c
		}
	}
	raw := s.rawLoginCookie(t)
	if !strings.Contains(raw, "HttpOnly") || !(strings.Contains(raw, "SameSite=Lax") || strings.Contains(raw, "SameSite=Strict")) {
		t.Errorf("session cookie %q, want HttpOnly and SameSite=Lax or Strict", raw)
	}
	if session == nil {
		t.Fatal("no session cookie")
	}

	crossSite := []http.Header{
		{"Origin": {"http://attacker.invalid"}, "Sec-Fetch-Site": {"cross-site"}},
		{"Origin": {"http://attacker.invalid"}},
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://127.0.0.2:1"}},
		{"Origin": {"null"}},
	}
	mutations := func(h http.Header) []request {
		with := func(extra http.Header) http.Header {
			out := http.Header{}
			for key, values := range h {
				out[key] = values
			}
			for key, values := range extra {
				out[key] = values
			}
			return out
		}
		return []request{
			{Method: http.MethodPost, Path: "/api/v1/files", Header: with(multipartHeader), Body: bytes.NewReader(multipartFile("csrf.txt", plainText))},
			{Method: http.MethodPost, Path: "/files", Header: with(multipartHeader), Body: bytes.NewReader(multipartFile("csrf.txt", plainText))},
			{Method: http.MethodPut, Path: "/api/v1/files/csrf.txt", Header: with(nil), Body: bytes.NewReader(plainText)},
			{Method: http.MethodDelete, Path: "/api/v1/files/" + f.ID, Header: with(nil)},
			{Method: http.MethodPost, Path: "/files/" + f.ID + "/delete", Header: with(http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}), Body: strings.NewReader("")},
			{Method: http.MethodPost, Path: "/api/v1/shares", Header: with(http.Header{"Content-Type": {"text/plain"}}), Body: strings.NewReader(shareFiles(f.ID))},
			{Method: http.MethodPost, Path: "/api/v1/drops", Header: with(http.Header{"Content-Type": {"text/plain"}}), Body: strings.NewReader(`{"label":"csrf"}`)},
			{Method: http.MethodPost, Path: "/admin/scanner/rescan", Header: with(http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}), Body: strings.NewReader("")},
			{Method: http.MethodPost, Path: "/logout", Header: with(http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}), Body: strings.NewReader("")},
		}
	}

	// Policy: every cross-site state change is 403 cross_origin.
	for _, h := range crossSite {
		for _, req := range mutations(h) {
			req.Client = b.client
			before := s.snapshot(t)
			resp := s.do(t, req)
			if resp.Status != http.StatusForbidden {
				t.Errorf("cross-site %s %s with %v: status %d, want 403", req.Method, req.Path, h, resp.Status)
			}
			if strings.HasPrefix(req.Path, "/api/") && resp.errorCode() != "cross_origin" {
				t.Errorf("cross-site %s %s: code %q, want cross_origin", req.Method, req.Path, resp.errorCode())
			}
			s.assertNothingStored(t, before)
		}
	}
	if dl := s.download(t, f.ID); dl.Status != http.StatusOK {
		t.Fatalf("alice's file after the cross-site requests: status %d", dl.Status)
	}
	if page := s.do(t, request{Path: "/files", Client: b.client}); page.Status != http.StatusOK {
		t.Fatalf("alice's session after a cross-site logout: status %d, want 200", page.Status)
	}

	// The same requests from the app's own pages work.
	sameOrigin := b.sameOrigin(nil)
	for _, req := range mutations(sameOrigin)[:3] {
		req.Client = b.client
		if resp := s.do(t, req); resp.Status >= 300 {
			t.Errorf("same-origin %s %s: status %d, want success", req.Method, req.Path, resp.Status)
		}
	}

	// Scripts with a bearer token send no browser headers and are not
	// affected.
	mustStore(t, s.upload(t, "script.txt", plainText))
	if resp := s.do(t, request{Method: http.MethodDelete, Path: "/api/v1/files/" + f.ID, Token: aliceToken}); resp.Status != http.StatusNoContent {
		t.Errorf("bearer DELETE: status %d, want 204", resp.Status)
	}
}

// rawLoginCookie signs alice in and returns the raw Set-Cookie header of
// her session cookie.
func (s *server) rawLoginCookie(t *testing.T) string {
	t.Helper()
	resp := s.do(t, request{
		Method: http.MethodPost, Path: "/login",
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {s.URL}, "Sec-Fetch-Site": {"same-origin"}},
		Body:   strings.NewReader("username=alice&password=" + strings.ReplaceAll(alicePassword, " ", "+")),
	})
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "vaultdrop_session=") {
			return c
		}
	}
	t.Fatalf("sign-in: status %d, no session cookie", resp.Status)
	return ""
}

func TestRefusedDropUploadsStoreNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	s.requireDrops(t)
	unknown := s.dropUpload(t, link{Path: "/d/" + unknownLinkToken}, "unknown.txt", plainText, nil)
	assertError(t, unknown, http.StatusNotFound, "not_found")

	used := s.createDrop(t, `{"label":"h34","max_files":1}`)
	mustStore(t, s.dropUpload(t, used, "first.txt", plainText, nil))
	revoked := s.createDrop(t, `{"label":"h34r"}`)
	if resp := s.do(t, request{Method: http.MethodDelete, Path: "/api/v1/drops/" + revoked.ID, Token: aliceToken}); resp.Status != http.StatusNoContent {
		t.Fatalf("revoke drop: status %d", resp.Status)
	}

	// Policy: every dead drop gets the same response as an unknown one.
	for label, d := range map[string]link{"used-up drop": used, "revoked drop": revoked} {
		for i := range 3 {
			before := s.snapshot(t)
			resp := s.dropUpload(t, d, fmt.Sprintf("late%d.txt", i), plainText, nil)
			if resp.Status != unknown.Status || resp.errorCode() != unknown.errorCode() {
				t.Errorf("%s: status %d code %q, want the unknown drop's %d %q", label, resp.Status, resp.errorCode(), unknown.Status, unknown.errorCode())
			}
			s.assertNothingStored(t, before)
		}
	}

	locked := s.createDrop(t, `{"label":"h34c","password":"h34 drop password"}`)
	s.expectRejected(t, http.StatusUnauthorized, "unauthorized", func() response { return s.dropUpload(t, locked, "nopass.txt", plainText, nil) })
	s.expectRejected(t, http.StatusUnauthorized, "unauthorized", func() response {
		return s.dropUpload(t, locked, "wrongpass.txt", plainText, http.Header{"X-Share-Password": {"wrong"}})
	})
	s.expectRejected(t, http.StatusUnsupportedMediaType, "type_mismatch", func() response {
		return s.dropUpload(t, locked, "x.jpg", pageHTML, http.Header{"X-Share-Password": {"h34 drop password"}})
	})
	s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response {
		return s.dropUpload(t, locked, "x.php.jpg", minJPEG, http.Header{"X-Share-Password": {"h34 drop password"}})
	})
	mustStore(t, s.dropUpload(t, locked, "right.txt", plainText, http.Header{"X-Share-Password": {"h34 drop password"}}))
}

func TestIdentifiersThatReachPaths(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	marker := uniqueMarker(t)
	cwd, _ := os.Getwd()
	values := []string{
		"../../../../tmp/h41_" + marker, "..%2f..%2f..%2ftmp%2fh41_" + marker, "%2e%2e", "a%2f..%2f..%2fh41_" + marker,
		"0/../../h41_" + marker, "%00", "..", "0123456789abcdef0123456789abcde%2f", strings.Repeat("a", 300),
	}
	sharesBuilt := s.apiBuilt(t, "/api/v1/shares")

	queryUploads := 0
	for _, v := range values {
		before := s.snapshot(t)
		for _, req := range []request{
			{Path: "/api/v1/files/" + v, Token: aliceToken},
			{Path: "/api/v1/files/" + v + "/content", Token: aliceToken},
			{Method: http.MethodDelete, Path: "/api/v1/files/" + v, Token: aliceToken},
			{Method: http.MethodPatch, Path: "/api/v1/uploads/" + v, Token: aliceToken, Body: bytes.NewReader(plainText),
				Header: http.Header{"Tus-Resumable": {"1.0.0"}, "Upload-Offset": {"0"}, "Content-Type": {"application/offset+octet-stream"}}},
			{Method: http.MethodHead, Path: "/api/v1/uploads/" + v, Token: aliceToken, Header: tusHeader},
			{Method: http.MethodDelete, Path: "/api/v1/uploads/" + v, Token: aliceToken, Header: tusHeader},
			{Path: "/s/" + v + "/zip"},
			{Path: "/s/" + v + "/files/" + v},
			{Method: http.MethodPost, Path: "/d/" + v + "/files", Header: multipartHeader, Body: bytes.NewReader(multipartFile("h41.txt", plainText))},
			{Path: "/files/" + v + "/download", Token: aliceToken},
		} {
			resp := s.do(t, req)
			if resp.Status != http.StatusNotFound && resp.Status != http.StatusBadRequest && resp.Status != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d, want 404 or 400", req.Method, req.Path, resp.Status)
			}
		}
		if sharesBuilt {
			resp := s.do(t, request{Method: http.MethodPost, Path: "/api/v1/shares", Token: aliceToken, Header: jsonBody, Body: strings.NewReader(shareFiles(strings.ReplaceAll(v, "%2f", "/")))})
			assertStatusIn(t, resp, http.StatusNotFound, http.StatusBadRequest)
		}
		s.assertNothingStored(t, before)

		// Unknown query parameters are ignored: the upload gets a fresh id.
		resp := s.do(t, request{
			Method: http.MethodPost, Path: "/api/v1/files?id=" + v + "&upload_id=" + v + "&chunk=" + v + "&name=" + v, Token: aliceToken,
			Header: multipartHeader, Body: bytes.NewReader(multipartFile("h41q.txt", plainText)),
		})
		f := mustStore(t, resp)
		queryUploads++
		if strings.Contains(f.ID, "h41") || f.Name != "h41q.txt" {
			t.Errorf("upload with identifiers in the query: id %q name %q", f.ID, f.Name)
		}
		s.assertStoredByID(t, f)
	}

	if n := len(s.listFiles(t, aliceToken)); n != queryUploads {
		t.Errorf("alice has %d files, want only the %d query uploads", n, queryUploads)
	}
	for _, dir := range []string{os.TempDir(), filepath.Dir(filepath.Dir(s.DataDir)), cwd} {
		if found := topLevelNamed(dir, marker); len(found) > 0 {
			t.Errorf("files named after an identifier: %v", found)
		}
	}
	if found := filesNamed(marker, filepath.Dir(s.DataDir)); len(found) > 0 {
		t.Errorf("files named after an identifier under the server's folders: %v", found)
	}
}

// mutatingRoutes returns the POST, PUT, PATCH and DELETE routes the server
// registers, read from an Echo instance built in this process with the
// same code the binary runs.
func mutatingRoutes(t *testing.T) []*echo.Route {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := app.New(app.Deps{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e, ok := srv.Handler().(*echo.Echo)
	if !ok {
		t.Fatalf("the server's handler is a %T, not an Echo instance", srv.Handler())
	}
	var routes []*echo.Route
	for _, r := range e.Routes() {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			routes = append(routes, r)
		}
	}
	return routes
}

// publicMutations are the routes that take requests without an account:
// signing in and out, first-run setup, unlocking a link with its
// password, and uploading through a drop link.
var publicMutations = []string{
	"POST /login", "POST /logout", "POST /setup", "POST /s/:token", "POST /d/:token",
	"POST /d/:token/files", "POST /d/:token/uploads", "POST /d/:token/uploads/",
}

func TestDeleteThroughSecondaryRoutes(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	s.requireTus(t)
	s.requireShares(t)
	s.requireDrops(t)

	created := s.tusCreate(t, "h35.txt", 12)
	upload := s.tusPath(t, created)
	if resp := s.tusPatch(t, upload, 0, []byte("hello ")); resp.Status != http.StatusNoContent {
		t.Fatalf("patch alice's upload: status %d: %.300s", resp.Status, resp.Body)
	}
	uploadID := upload[strings.LastIndexByte(upload, '/')+1:]
	f := mustStore(t, s.upload(t, "h35.pdf", minPDF))
	share := s.createShare(t, shareFiles(f.ID))
	drop := s.createDrop(t, `{"label":"h35"}`)
	var aliceID string
	s.openDB(t).QueryRow(`SELECT id FROM users WHERE username = 'alice'`).Scan(&aliceID)

	bob := s.browserFor(t, "bob", bobPassword)
	for _, who := range []string{"bob", "anonymous"} {
		token, want := bobToken, []int{http.StatusNotFound, http.StatusForbidden}
		if who == "anonymous" {
			token, want = "", []int{http.StatusUnauthorized}
		}
		for _, req := range []request{
			{Method: http.MethodDelete, Path: upload, Header: tusHeader},
			{Method: http.MethodDelete, Path: "/api/v1/uploads/" + f.ID, Header: tusHeader},
			{Method: http.MethodHead, Path: upload, Header: tusHeader},
			{Method: http.MethodPatch, Path: upload, Body: bytes.NewReader([]byte("evil!\n")),
				Header: http.Header{"Tus-Resumable": {"1.0.0"}, "Upload-Offset": {"6"}, "Content-Type": {"application/offset+octet-stream"}}},
			{Method: http.MethodDelete, Path: "/api/v1/files/" + f.ID},
		} {
			req.Token = token
			resp := s.do(t, req)
			if !slices.Contains(want, resp.Status) {
				t.Errorf("%s %s %s: status %d, want one of %v", who, req.Method, req.Path, resp.Status, want)
			}
		}
		for _, req := range []request{
			{Method: http.MethodDelete, Path: drop.Path + "/files/" + f.ID, Token: token},
			{Method: http.MethodDelete, Path: drop.Path + "/uploads/" + uploadID, Header: tusHeader},
		} {
			resp := s.do(t, req)
			assertStatusIn(t, resp, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusForbidden, http.StatusUnauthorized)
		}
	}

	// Every mutating route, with alice's objects in its parameters, as bob
	// and without credentials.
	walked := 0
	for _, r := range mutatingRoutes(t) {
		if slices.Contains(publicMutations, r.Method+" "+r.Path) {
			continue
		}
		path := r.Path
		for param, value := range map[string]string{
			"/api/v1/files/:id": "/api/v1/files/" + f.ID, "/files/:id": "/files/" + f.ID,
			"/api/v1/shares/:id": "/api/v1/shares/" + share.ID, "/shares/:id": "/shares/" + share.ID,
			"/api/v1/drops/:id": "/api/v1/drops/" + drop.ID, "/drops/:id": "/drops/" + drop.ID,
			"/api/v1/uploads/:id": "/api/v1/uploads/" + uploadID, "/users/:id": "/users/" + aliceID,
			"/s/:token": share.Path, "/d/:token": drop.Path,
		} {
			path = strings.Replace(path, param, value, 1)
		}
		path = strings.Replace(path, ":id", uploadID, 1)
		if strings.Contains(path, ":") || strings.Contains(path, "*") {
			continue
		}
		refersToAlice := path != r.Path || strings.HasPrefix(path, "/admin")
		walked++

		anonymous := s.do(t, request{Method: r.Method, Path: path, Header: http.Header{"Content-Type": {"application/json"}, "Tus-Resumable": {"1.0.0"}}, Body: strings.NewReader("{}")})
		if anonymous.Status != http.StatusUnauthorized && anonymous.Status != http.StatusNotFound {
			t.Errorf("anonymous %s %s: status %d, want 401", r.Method, path, anonymous.Status)
		}
		if !refersToAlice {
			continue
		}
		for _, req := range []request{
			{Method: r.Method, Path: path, Token: bobToken, Header: http.Header{"Content-Type": {"application/json"}, "Tus-Resumable": {"1.0.0"}}, Body: strings.NewReader("{}")},
			{Method: r.Method, Path: path, Client: bob.client, Header: bob.sameOrigin(http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}), Body: strings.NewReader("quota=1")},
		} {
			if resp := s.do(t, req); resp.Status < 400 {
				t.Errorf("bob %s %s: status %d, want a refusal", r.Method, path, resp.Status)
			}
		}
	}

	if walked < 10 {
		t.Errorf("walked %d mutating routes; the route list looks incomplete", walked)
	}

	head := s.do(t, request{Method: http.MethodHead, Path: upload, Token: aliceToken, Header: tusHeader})
	if got := head.Header.Get("Upload-Offset"); got != "6" {
		t.Errorf("alice's upload: Upload-Offset %q, want 6", got)
	}
	if dl := s.download(t, f.ID); dl.Status != http.StatusOK {
		t.Errorf("alice's file: status %d, want 200", dl.Status)
	}
	if got := s.do(t, request{Path: share.Path + "/files/" + f.ID}); got.Status != http.StatusOK {
		t.Errorf("alice's share: status %d, want 200", got.Status)
	}
	mustStore(t, s.dropUpload(t, drop, "after.txt", plainText, nil))
}
