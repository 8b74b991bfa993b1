package hostile

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// activeTypes are the Content-Types under which a browser runs script in
// the page's origin. No download may carry one.
var activeTypes = []string{
	"text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml",
	"text/javascript", "application/javascript", "application/ecmascript", "text/ecmascript",
}

// checkSafeDownload checks the one safe header set every download carries:
// one attachment Content-Disposition for name, nosniff, the sandbox CSP,
// no shared caching, and contentType, which is never an active type.
func checkSafeDownload(t *testing.T, resp response, name, contentType string) {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Errorf("download %s: status %d: %.300s", name, resp.Status, resp.Body)
		return
	}
	checkDisposition(t, resp.Header, name)
	if got := resp.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
		t.Errorf("download %s: X-Content-Type-Options %q, want nosniff", name, got)
	}
	if got := resp.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != "default-src 'none'; sandbox" {
		t.Errorf("download %s: Content-Security-Policy %q, want default-src 'none'; sandbox", name, got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "private, no-store" {
		t.Errorf("download %s: Cache-Control %q, want private, no-store", name, got)
	}
	got := resp.Header.Get("Content-Type")
	if got != contentType {
		t.Errorf("download %s: Content-Type %q, want %q", name, got, contentType)
	}
	for _, active := range activeTypes {
		if strings.HasPrefix(strings.ToLower(got), active) {
			t.Errorf("download %s: served as active content %q", name, got)
		}
	}
}

// downloadVariants are query strings that other file hosts read as a
// request to render inline or to skip a check. The server must ignore them.
var downloadVariants = []string{
	"", "?inline=1", "?disposition=inline", "?preview=1", "?download=0", "?view=1",
	"?raw=1", "?type=text/html", "?content_type=text%2Fhtml",
}

func TestScriptedSVG(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	for _, name := range []string{"x.svg", "x.svgz", "x.xml", "x.SVG", "x.xsl"} {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.upload(t, name, scriptSVG) })
	}
	for _, name := range []string{"x.png", "x.jpg", "x.txt", "x.gif", "x.json"} {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_mismatch", func() response { return s.upload(t, name, scriptSVG) })
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_mismatch", func() response { return s.put(t, name, scriptSVG) })
	}
	api := s.upload(t, "x.png", scriptSVG)
	s.expectBrowserRejected(t, s.alice(t), multipartFile("x.png", scriptSVG), api.errorMessage())
}

func TestOperatorAllowedActiveContentIsInert(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{args: []string{"--allow", "svg,html,xml,js"}})
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"x.svg", scriptSVG},
		{"x.html", pageHTML},
		{"x.xml", []byte(`<?xml version="1.0"?><note><script>alert(1)</script></note>`)},
		{"a.js", scriptJS},
	} {
		f := mustStore(t, s.upload(t, tc.name, tc.content))
		if f.ContentType != "application/octet-stream" {
			t.Errorf("%s allowed by the operator: content_type %q, want application/octet-stream", tc.name, f.ContentType)
		}
		checkSafeDownload(t, s.download(t, f.ID), tc.name, "application/octet-stream")
	}
}

func TestHTMLIsNeverServedInline(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	for _, name := range []string{"x.html", "x.htm", "x.xhtml", "x.shtml", "x", "x.HTML", "x.mht", "x.mhtml"} {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.upload(t, name, inlineHTML) })
	}

	b := s.alice(t)
	for _, name := range []string{"x.txt", "x.TXT", "x.md", "x.log"} {
		f := mustStore(t, s.upload(t, name, inlineHTML))
		for _, query := range downloadVariants {
			checkSafeDownload(t, s.do(t, request{Path: "/api/v1/files/" + f.ID + "/content" + query, Token: aliceToken}), name, "text/plain; charset=utf-8")
			checkSafeDownload(t, s.do(t, request{Path: "/files/" + f.ID + "/download" + query, Client: b.client}), name, "text/plain; charset=utf-8")
		}
		asHTML := s.do(t, request{Path: "/api/v1/files/" + f.ID + "/content", Token: aliceToken, Header: http.Header{"Accept": {"text/html"}}})
		checkSafeDownload(t, asHTML, name, "text/plain; charset=utf-8")
	}

	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"page.txt", pageHTML}, {"page.jpg", pageHTML}, {"page.txt", pageXHTML}, {"page.md", pageHTML},
		{"page.csv", pageHTML}, {"page.json", pageHTML}, {"page.pdf", pageHTML},
	} {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_mismatch", func() response { return s.upload(t, tc.name, tc.content) })
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_mismatch", func() response { return s.put(t, tc.name, tc.content) })
	}
}

func TestUploadedScriptAndQueryCredentials(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	for _, name := range []string{"a.js", "a.mjs", "a.cjs", "a.JS", "a.jsx", "a.ts", "a.wasm", "a.vbs", "a.ps1"} {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.upload(t, name, scriptJS) })
	}

	f := mustStore(t, s.upload(t, "a.txt", scriptJS))
	checkSafeDownload(t, s.download(t, f.ID), "a.txt", "text/plain; charset=utf-8")

	// Credentials come only from the session cookie or the Authorization
	// header, never from the URL.
	session := ""
	for _, c := range s.alice(t).client.Jar.Cookies(mustParseURL(t, s.URL)) {
		if c.Name == "vaultdrop_session" {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatal("alice's browser holds no vaultdrop_session cookie")
	}
	for _, param := range []string{"auth", "token", "access_token", "bearer", "session", "api_key", "vaultdrop_session"} {
		for _, value := range []string{aliceToken, session} {
			for _, p := range []string{"/api/v1/files/" + f.ID + "/content", "/api/v1/files", "/api/v1/files/" + f.ID} {
				assertError(t, s.do(t, request{Path: p + "?" + param + "=" + value}), http.StatusUnauthorized, "unauthorized")
			}
			s.expectRejected(t, http.StatusUnauthorized, "unauthorized", func() response {
				return s.do(t, request{
					Method: http.MethodPost, Path: "/api/v1/files?" + param + "=" + value, Header: multipartHeader,
					Body: bytes.NewReader(multipartFile("q.txt", plainText)),
				})
			})
		}
	}
	for _, header := range []string{"Basic " + aliceToken, "Token " + aliceToken, "bearer" + aliceToken, "Bearer " + aliceToken + "x"} {
		resp := s.do(t, request{Path: "/api/v1/files", Header: http.Header{"Authorization": {header}}})
		assertError(t, resp, http.StatusUnauthorized, "unauthorized")
	}
}

func TestNosniffOnEveryResponse(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	f := mustStore(t, s.upload(t, "h14.jpg", htmlInJPEG()))
	if f.ContentType != "image/jpeg" {
		t.Errorf("HTML inside a JPEG: content_type %q, want image/jpeg", f.ContentType)
	}
	checkSafeDownload(t, s.download(t, f.ID), "h14.jpg", "image/jpeg")

	login := s.do(t, request{Path: "/login"})
	asset := regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`).FindSubmatch(login.Body)
	if asset == nil {
		t.Fatal("the sign-in page links no asset")
	}
	b := s.alice(t)
	for _, req := range []request{
		{Path: "/does-not-exist"},
		{Path: "/does-not-exist", Header: http.Header{"Accept": {"application/json"}}},
		{Path: "/api/v1/files/does-not-exist", Token: aliceToken},
		{Path: "/api/v1/files"},
		{Path: "/api/v1/nothing-here", Token: aliceToken},
		{Path: "/login"},
		{Path: "/"},
		{Path: "/files"},
		{Path: "/files", Client: b.client},
		{Path: "/admin", Client: b.client},
		{Path: string(asset[1])},
		{Path: "/assets/missing.css"},
		{Path: "/healthz"},
		{Method: http.MethodHead, Path: "/login"},
		{Method: http.MethodDelete, Path: "/login"},
		{Method: http.MethodOptions, Path: "/api/v1/files", Token: aliceToken},
		{Method: http.MethodPost, Path: "/api/v1/files", Token: aliceToken, Header: http.Header{"Content-Type": {"text/plain"}}},
		{Path: "/s/unknown-token-0000000000000000"},
		{Path: "/d/unknown-token-0000000000000000"},
		{Path: "/s/unknown-token-0000000000000000/zip"},
	} {
		resp := s.do(t, req)
		if got := resp.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("%s %s (status %d): X-Content-Type-Options %q, want one nosniff", req.Method, req.Path, resp.Status, got)
		}
	}
}

func TestZipOfficeAndJARConfusion(t *testing.T) {
	t.Parallel()
	s := offServer(t)

	// Policy: a zip whose first folder is xl/ sniffs as a workbook and is
	// accepted as one; it is served as an attachment, never opened.
	const sheet = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	f := mustStore(t, s.upload(t, "report.xlsx", xlFolderZip()))
	if f.ContentType != sheet {
		t.Errorf("xl/ zip as .xlsx: content_type %q, want %s", f.ContentType, sheet)
	}
	checkSafeDownload(t, s.download(t, f.ID), "report.xlsx", sheet)

	for _, name := range []string{"report.docx", "report.xlsx", "report.odt", "report.pptx", "report.epub"} {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_mismatch", func() response { return s.upload(t, name, plainZip()) })
	}
	if f := mustStore(t, s.upload(t, "bundle.zip", plainZip())); f.ContentType != "application/zip" {
		t.Errorf("plain zip: content_type %q, want application/zip", f.ContentType)
	}

	for _, name := range []string{"app.zip", "app.xlsx", "app.docx"} {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_mismatch", func() response { return s.upload(t, name, appJAR()) })
	}
	for _, name := range []string{"app.jar", "app.apk", "app.war"} {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.upload(t, name, appJAR()) })
	}
}

func TestGIFZipPolyglot(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	polyglot := gifar()
	f := mustStore(t, s.upload(t, "gifar.gif", polyglot))
	if f.ContentType != "image/gif" {
		t.Errorf("gifar: content_type %q, want image/gif", f.ContentType)
	}
	dl := s.download(t, f.ID)
	checkSafeDownload(t, dl, "gifar.gif", "image/gif")
	if !bytes.Equal(dl.Body, polyglot) {
		t.Error("gifar: downloaded bytes differ from the upload")
	}

	s.expectRejected(t, http.StatusUnsupportedMediaType, "type_mismatch", func() response { return s.upload(t, "gifar.zip", polyglot) })
	s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.upload(t, "gifar.jar", polyglot) })
}

func TestPDFWithJavaScript(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	f := mustStore(t, s.upload(t, "js.pdf", jsPDF))
	if f.ContentType != "application/pdf" {
		t.Errorf("js.pdf: content_type %q, want application/pdf", f.ContentType)
	}
	// Policy: PDF is served as application/pdf, always as an attachment
	// with the sandbox CSP.
	b := s.alice(t)
	for _, query := range downloadVariants {
		checkSafeDownload(t, s.do(t, request{Path: "/api/v1/files/" + f.ID + "/content" + query, Token: aliceToken}), "js.pdf", "application/pdf")
		checkSafeDownload(t, s.do(t, request{Path: "/files/" + f.ID + "/download" + query, Client: b.client}), "js.pdf", "application/pdf")
	}
}

func TestConverterScriptAsImage(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	const pwned = "/tmp/h18_pwned"
	os.Remove(pwned)

	for _, name := range []string{"b.jpg", "b.png", "b.gif", "b.webp", "b.tiff", "b.bmp"} {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_mismatch", func() response { return s.upload(t, name, mvgScript) })
	}
	for _, name := range []string{"b.mvg", "b.ps", "b.eps", "b.svg", "b.msl", "b.xcf"} {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.upload(t, name, mvgScript) })
	}

	time.Sleep(time.Second)
	if _, err := os.Stat(pwned); err == nil {
		t.Errorf("%s exists: a converter ran the upload's command", pwned)
	}
	if children := childProcesses(s.PID()); len(children) > 0 {
		t.Errorf("the server runs child processes %v with scanning off; it must run no converter", children)
	}
}

func TestPixelFlood(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	bomb := pixelFloodPNG(t)

	s.resetPeakRSS(t)
	base := s.rss(t)
	f := mustStore(t, s.upload(t, "bomb.png", bomb))
	if f.ContentType != "image/png" {
		t.Errorf("pixel flood: content_type %q, want image/png", f.ContentType)
	}
	if grown := s.peakRSS(t) - base; grown > 50<<20 {
		t.Errorf("pixel flood: peak RSS grew by %d MiB, want under 50 MiB", grown>>20)
	}
	if list := s.listFiles(t, aliceToken); len(list) != 1 {
		t.Errorf("after the pixel flood the server lists %d files, want 1", len(list))
	}
}

func TestZipBombIsNeverUnpacked(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	bomb := zipOfZeros(t, 5, 200<<20)

	s.resetPeakRSS(t)
	base := s.rss(t)
	vaultBefore := s.snapshot(t).vault
	f := mustStore(t, s.upload(t, "zipbomb.zip", bomb))
	if f.ContentType != "application/zip" || f.Status != "unscanned" {
		t.Errorf("zip bomb: content_type %q status %q, want application/zip unscanned", f.ContentType, f.Status)
	}
	if grown := s.peakRSS(t) - base; grown > 50<<20 {
		t.Errorf("zip bomb: peak RSS grew by %d MiB, want under 50 MiB", grown>>20)
	}

	added := newPaths(vaultBefore, s.snapshot(t).vault)
	if len(added) != 1 {
		t.Fatalf("zip bomb: vault gained %v, want the one stored file", added)
	}
	if size := dirSize(s.DataDir); size > 8<<20+int64(len(bomb)) {
		t.Errorf("zip bomb: the data directory holds %d MiB, as if the archive had been unpacked", size>>20)
	}
}

// TestLinkPagesAndDownloads repeats the name and content checks on the
// channels anonymous visitors use: share downloads, the share zip, and
// the share and drop pages.
func TestLinkPagesAndDownloads(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	s.requireShares(t)

	files := []struct {
		name, contentType string
		content           []byte
	}{
		{`setup.bat";x=.txt`, "text/plain; charset=utf-8", plainText},
		{"x.txt", "text/plain; charset=utf-8", inlineHTML},
		{"js.pdf", "application/pdf", jsPDF},
		{"<img src=x onerror=alert(1)>.txt", "text/plain; charset=utf-8", plainText},
		{"gifar.gif", "image/gif", gifar()},
	}
	var ids []string
	for _, f := range files {
		ids = append(ids, mustStore(t, s.put(t, url.PathEscape(f.name), f.content)).ID)
	}
	share := s.createShare(t, shareFiles(ids...))
	for i, f := range files {
		for _, query := range downloadVariants {
			checkSafeDownload(t, s.do(t, request{Path: share.Path + "/files/" + ids[i] + query}), f.name, f.contentType)
		}
	}
	zipped := s.do(t, request{Path: share.Path + "/zip?inline=1"})
	checkSafeDownload(t, zipped, "shared-files.zip", "application/zip")

	page := s.do(t, request{Path: share.Path})
	if page.Status != http.StatusOK || page.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("share page: status %d, X-Content-Type-Options %q", page.Status, page.Header.Get("X-Content-Type-Options"))
	}
	if bytes.Contains(page.Body, []byte("<img src=x")) {
		t.Error("share page holds unescaped markup from a file name")
	}

	t.Run("drop page", func(t *testing.T) {
		s.requireDrops(t)
		d := s.createDrop(t, `{"label":"<svg onload=alert(1)> drop"}`)
		visitor := &http.Client{Jar: newJar(t), CheckRedirect: plainClient.CheckRedirect, Timeout: time.Minute}
		resp := s.do(t, request{
			Method: http.MethodPost, Path: d.Path + "/files", Client: visitor,
			Header: http.Header{"Content-Type": multipartHeader["Content-Type"], "Accept": {"text/html"}, "Origin": {s.URL}, "Sec-Fetch-Site": {"same-origin"}},
			Body:   bytes.NewReader(multipartFile("<img src=x onerror=alert(2)>.txt", plainText)),
		})
		for label, body := range map[string][]byte{
			"drop upload answer": resp.Body,
			"drop page":          s.do(t, request{Path: d.Path, Client: visitor}).Body,
			"owner's Drops page": s.do(t, request{Path: "/drops", Client: s.alice(t).client}).Body,
		} {
			if bytes.Contains(body, []byte("<img src=x")) || bytes.Contains(body, []byte("<svg onload")) {
				t.Errorf("%s holds unescaped markup from a name or label", label)
			}
		}
	})
}
