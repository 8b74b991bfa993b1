package hostile

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// fileID is the form of the ids the server gives stored files.
var fileID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// uniqueMarker returns a short random text that names created by one test
// run carry, so that a search for them cannot find another run's files.
func uniqueMarker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// filesNamed returns the paths under the given folders whose base name
// contains marker. Folders are searched to any depth.
func filesNamed(marker string, dirs ...string) []string {
	var found []string
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), marker) {
				found = append(found, p)
			}
			return nil
		})
	}
	return found
}

// topLevelNamed returns the entries directly in dir whose names contain
// marker.
func topLevelNamed(dir, marker string) []string {
	entries, _ := os.ReadDir(dir)
	var found []string
	for _, e := range entries {
		if strings.Contains(e.Name(), marker) {
			found = append(found, filepath.Join(dir, e.Name()))
		}
	}
	return found
}

// assertStoredByID checks that a stored file's bytes sit in the vault under
// its id, and nowhere under its name.
func (s *server) assertStoredByID(t *testing.T, f fileObject) {
	t.Helper()
	if !fileID.MatchString(f.ID) {
		t.Errorf("id %q is not 32 random hex digits", f.ID)
		return
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "vault", f.ID[:2], f.ID)); err != nil {
		t.Errorf("file %s is not stored under its id: %v", f.ID, err)
	}
}

func TestTraversalInFileNames(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	marker := uniqueMarker(t)
	tmp := os.TempDir()

	multipart := []struct{ sent, want string }{
		{"../../../../tmp/h01_up_" + marker + ".txt", "h01_up_" + marker + ".txt"},
		{"/tmp/h01_abs_" + marker + ".txt", "h01_abs_" + marker + ".txt"},
		{"sub/dir/h01_sub_" + marker + ".txt", "h01_sub_" + marker + ".txt"},
		{`..\..\..\h01_win_` + marker + ".txt", "h01_win_" + marker + ".txt"},
		{`C:\Windows\System32\h01_drive_` + marker + ".txt", "h01_drive_" + marker + ".txt"},
		{"..%2f..%2fh01_pct_" + marker + ".txt", "..%2f..%2fh01_pct_" + marker + ".txt"},
	}
	seen := map[string]bool{}
	for _, tc := range multipart {
		f := mustStore(t, s.upload(t, tc.sent, plainText))
		if f.Name != tc.want {
			t.Errorf("multipart %q: name %q, want %q", tc.sent, f.Name, tc.want)
		}
		if seen[f.ID] {
			t.Errorf("multipart %q: id %s was given before", tc.sent, f.ID)
		}
		seen[f.ID] = true
		s.assertStoredByID(t, f)
	}

	// RFC 2231 encoding of the same name in filename*.
	resp := s.do(t, request{
		Method: http.MethodPost, Path: "/api/v1/files", Token: aliceToken, Header: multipartHeader,
		Body: bytes.NewReader(multipartPart(`name="file"; filename*=UTF-8''..%2F..%2Fh01_star_`+marker+`.txt`, plainText)),
	})
	if f := mustStore(t, resp); f.Name != "h01_star_"+marker+".txt" {
		t.Errorf("filename*: name %q, want h01_star_%s.txt", f.Name, marker)
	}

	put := []struct{ sent, want string }{
		{url.PathEscape("../../../../tmp/h01_put_" + marker + ".txt"), "h01_put_" + marker + ".txt"},
		{"..%2F..%2F..%2Ftmp%2Fh01_put2_" + marker + ".txt", "h01_put2_" + marker + ".txt"},
		{"..%5C..%5Ch01_putwin_" + marker + ".txt", "h01_putwin_" + marker + ".txt"},
		{"%2Ftmp%2Fh01_putabs_" + marker + ".txt", "h01_putabs_" + marker + ".txt"},
	}
	for _, tc := range put {
		f := mustStore(t, s.put(t, tc.sent, plainText))
		if f.Name != tc.want {
			t.Errorf("PUT %q: name %q, want %q", tc.sent, f.Name, tc.want)
		}
		s.assertStoredByID(t, f)
	}

	b := s.alice(t)
	page := s.browserUpload(t, b, multipartFile("../../../tmp/h01_form_"+marker+".txt", plainText))
	if page.Status != http.StatusOK || !bytes.Contains(page.Body, []byte("h01_form_"+marker+".txt")) {
		t.Errorf("browser form: status %d, or the page lacks the stored name", page.Status)
	}

	if found := topLevelNamed(tmp, marker); len(found) > 0 {
		t.Errorf("files written outside the vault: %v", found)
	}
	if found := filesNamed(marker, filepath.Dir(s.DataDir)); len(found) > 0 {
		t.Errorf("files named after the upload under the server's folders: %v", found)
	}
}

func TestDotAndEmptyNames(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	parent := filepath.Dir(s.DataDir)
	entriesBefore, _ := os.ReadDir(parent)

	for _, name := range []string{"..", ".", "", "\u202e", "\u200b\u200b", "\ufeff", "...", " ", ". .", "../..", `..\..`, "..\u200b"} {
		s.expectRejected(t, http.StatusBadRequest, "invalid_name", func() response { return s.upload(t, name, plainText) })
	}
	for _, encoded := range []string{"%2e%2e", "%2e", "..%2f..%2f..", "%2E%2E%5C%2E%2E", "%E2%80%AE", "%E2%80%8B", "%20", "...", "%2e%2e%2f"} {
		s.expectRejected(t, http.StatusBadRequest, "invalid_name", func() response { return s.put(t, encoded, plainText) })
	}

	b := s.alice(t)
	for _, name := range []string{"..", "\u202e"} {
		api := s.upload(t, name, plainText)
		s.expectBrowserRejected(t, b, multipartFile(name, plainText), api.errorMessage())
	}

	entriesAfter, _ := os.ReadDir(parent)
	if len(entriesAfter) != len(entriesBefore) {
		t.Errorf("entries next to the data directory: %d before, %d after", len(entriesBefore), len(entriesAfter))
	}
}

func TestControlCharactersInNames(t *testing.T) {
	t.Parallel()
	s := offServer(t)

	// Go's multipart reader refuses raw control bytes in a part header.
	for _, name := range []string{"shell.php\x00.jpg", "report\x01\x1b[31m.pdf", "a\x7fb.txt", "a\x08b.txt"} {
		s.expectRejected(t, http.StatusBadRequest, "invalid_request", func() response { return s.upload(t, name, minJPEG) })
	}

	stored := []struct {
		channel, sent, want string
		content             []byte
	}{
		{"PUT", "report%01%1b%5b31m.pdf", "report[31m.pdf", minPDF},
		{"PUT", "a%7fb.txt", "ab.txt", plainText},
		{"PUT", "tab%09and%0bvt.txt", "tabandvt.txt", plainText},
		{"PUT", "nel%c2%85c1%c2%9b.txt", "nelc1.txt", plainText},
		{"PUT", "line%e2%80%a8sep%e2%80%a9.txt", "linesep.txt", plainText},
		{"filename*", "esc%1b%5b2Jclear.txt", "esc[2Jclear.txt", plainText},
		{"filename*", "nul%00byte.txt", "nulbyte.txt", plainText},
	}
	for _, tc := range stored {
		var resp response
		if tc.channel == "PUT" {
			resp = s.put(t, tc.sent, tc.content)
		} else {
			resp = s.do(t, request{
				Method: http.MethodPost, Path: "/api/v1/files", Token: aliceToken, Header: multipartHeader,
				Body: bytes.NewReader(multipartPart(`name="file"; filename*=UTF-8''`+tc.sent, tc.content)),
			})
		}
		if f := mustStore(t, resp); f.Name != tc.want {
			t.Errorf("%s %q: name %q, want %q", tc.channel, tc.sent, f.Name, tc.want)
		}
	}

	// NUL is stripped before the type check, so the inner .php is seen.
	s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.put(t, "shell.php%00.jpg", minJPEG) })
	s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.put(t, "shell.php%00%00.jpg", minJPEG) })

	// Policy: the text "%00" is never percent-decoded a second time, and
	// "php%00" is no script extension, so the name is stored as sent.
	if f := mustStore(t, s.upload(t, "shell.php%00.jpg", minJPEG)); f.Name != "shell.php%00.jpg" {
		t.Errorf("literal %%00: name %q, want shell.php%%00.jpg", f.Name)
	}
	if f := mustStore(t, s.put(t, "shell.php%2500.jpg", minJPEG)); f.Name != "shell.php%00.jpg" {
		t.Errorf("PUT %%2500: name %q, want shell.php%%00.jpg", f.Name)
	}

	t.Run("resumable upload", func(t *testing.T) {
		s.requireTus(t)
		created := s.tusCreate(t, "tus\x07\x1b[2J.txt", int64(len(plainText)))
		if created.Status != http.StatusCreated {
			t.Fatalf("create: status %d: %.300s", created.Status, created.Body)
		}
		if patch := s.tusPatch(t, s.tusPath(t, created), 0, plainText); patch.Status != http.StatusNoContent {
			t.Fatalf("patch: status %d: %.300s", patch.Status, patch.Body)
		}
		if _, ok := s.fileNamed(t, "tus[2J.txt"); !ok {
			t.Error("no file named tus[2J.txt after the upload finished")
		}
	})

	for _, f := range s.listFiles(t, aliceToken) {
		if strings.IndexFunc(f.Name, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) >= 0 {
			t.Errorf("stored name %q holds a control character", f.Name)
		}
	}
}

func TestDoubleExtensionsAndCase(t *testing.T) {
	t.Parallel()
	s := offServer(t)

	refused := []string{
		"shell.jpg.php", "x.pHp", "x.PHP5", "x.phtml", "photo", "photo.jpg.exe", "photo.jpeg.sh",
		"evil.php.jpg", "evil.PHP.jpg", "run.exe.jpg", "setup.msi.jpg", "x.pHtMl.jpg", "a.JSP.jpg",
		"photo.jpg.exe.", "photo.jpg.exe ", "photo.ex\u200be", "photo.p\u202ehp",
		"photo.jpg\u200b.exe", "report.pdf.scr", "invoice.hta.pdf", "x.asp.jpg", "x.cgi.png",
	}
	for _, name := range refused {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.upload(t, name, minJPEG) })
	}
	for _, encoded := range []string{"x.pHp", "evil.php.jpg", "evil.PhP.jpg", "run.EXE.jpg", "photo.jpg.exe%20.", "x.php%e2%80%8b.jpg"} {
		s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.put(t, encoded, minJPEG) })
	}

	// Policy: a name that is only an extension has no extension.
	s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.upload(t, ".jpg", minJPEG) })

	b := s.alice(t)
	for _, name := range []string{"evil.php.jpg", "x.pHp"} {
		api := s.upload(t, name, minJPEG)
		s.expectBrowserRejected(t, b, multipartFile(name, minJPEG), api.errorMessage())
	}

	for _, name := range []string{"photo.JPG", "photo.JpEg", "invoice-example.com.jpg"} {
		f := mustStore(t, s.upload(t, name, minJPEG))
		if f.ContentType != "image/jpeg" {
			t.Errorf("%s: content_type %q, want image/jpeg", name, f.ContentType)
		}
		if got := s.download(t, f.ID).Header.Get("Content-Type"); got != "image/jpeg" {
			t.Errorf("%s: served as %q, want image/jpeg", name, got)
		}
	}
}

func TestOverlongNames(t *testing.T) {
	t.Parallel()
	s := offServer(t)

	exact := strings.Repeat("a", 251) + ".txt"
	if f := mustStore(t, s.upload(t, exact, plainText)); f.Name != exact {
		t.Errorf("255-byte name changed to %d bytes", len(f.Name))
	}

	// Policy: longer names are shortened to 255 bytes that keep the
	// extension, cut between characters.
	long := []struct {
		channel, name string
	}{
		{"multipart", strings.Repeat("a", 300) + ".txt"},
		{"multipart", strings.Repeat("文", 90) + ".txt"},
		{"multipart", strings.Repeat("e\u0301", 150) + ".txt"},
		{"multipart", strings.Repeat("👩\u200d👩\u200d👧", 30) + ".txt"},
		{"PUT", strings.Repeat("é", 200) + ".txt"},
		{"PUT", strings.Repeat("😀", 80) + ".txt"},
	}
	for _, tc := range long {
		var resp response
		if tc.channel == "PUT" {
			resp = s.put(t, url.PathEscape(tc.name), plainText)
		} else {
			resp = s.upload(t, tc.name, plainText)
		}
		f := mustStore(t, resp)
		if len(f.Name) > 255 {
			t.Errorf("%s %d-byte name: stored as %d bytes, want at most 255", tc.channel, len(tc.name), len(f.Name))
		}
		if !strings.HasSuffix(f.Name, ".txt") {
			t.Errorf("%s %d-byte name: stored as %q, which lost .txt", tc.channel, len(tc.name), f.Name)
		}
		if !utf8.ValidString(f.Name) || strings.ContainsRune(f.Name, utf8.RuneError) {
			t.Errorf("%s %d-byte name: stored name splits a character", tc.channel, len(tc.name))
		}
		if !norm.NFC.IsNormalString(f.Name) {
			t.Errorf("%s %d-byte name: stored name is not NFC", tc.channel, len(tc.name))
		}
	}

	s.expectRejected(t, http.StatusBadRequest, "invalid_name", func() response { return s.upload(t, strings.Repeat("b", 5000)+".txt", plainText) })
	s.expectRejected(t, http.StatusBadRequest, "invalid_name", func() response { return s.put(t, strings.Repeat("b", 5000)+".txt", plainText) })

	// Policy: a name past the 64 KiB part-header limit is rejected as a
	// malformed form (413 too_large). A shorter one past 4096 bytes is an
	// invalid name (400). Either message names its limit.
	before := s.snapshot(t)
	huge := strings.Repeat("a", 100000) + ".txt"
	hugeAnswer := s.upload(t, huge, plainText)
	assertStatusIn(t, hugeAnswer, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	if code := hugeAnswer.errorCode(); code != "invalid_name" && code != "too_large" {
		t.Errorf("100 KB name: error code %q, want invalid_name or too_large", code)
	}
	if msg := hugeAnswer.errorMessage(); !strings.Contains(msg, "4096") && !strings.Contains(msg, "64 KiB") {
		t.Errorf("100 KB name: message %q does not name the limit", msg)
	}
	s.assertNothingStored(t, before)

	page := s.browserUpload(t, s.alice(t), multipartFile(huge, plainText))
	if page.Status != http.StatusRequestEntityTooLarge && page.Status != http.StatusOK {
		t.Errorf("browser form, 100 KB name: status %d, want 413 or 200 with a rejected result", page.Status)
	}
	s.assertNothingStored(t, before)

	// A request target over the server's 64 KiB header limit is refused by
	// net/http itself, before any handler runs.
	resp := s.put(t, strings.Repeat("c", 100000)+".txt", plainText)
	if resp.Status != http.StatusRequestHeaderFieldsTooLarge && resp.Status != http.StatusBadRequest {
		t.Errorf("100 KB PUT target: status %d, want 431 or 400", resp.Status)
	}
	s.assertNothingStored(t, before)

	if strings.Contains(s.log.String(), strings.Repeat("a", 1000)) {
		t.Error("the log holds more than a short prefix of the 100 KB name")
	}
}

// spoofingCharacters are bidirectional controls and invisible characters
// that change how a name reads without being seen.
var spoofingCharacters = []rune{
	'\u202e', '\u202d', '\u202a', '\u202b', '\u202c', '\u2066', '\u2067', '\u2068', '\u2069',
	'\u200e', '\u200f', '\u061c', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad',
	'\u180e', '\u3164', '\uffa0', '\u115f',
}

func hasSpoofingCharacter(s string) bool {
	for _, r := range spoofingCharacters {
		if strings.ContainsRune(s, r) {
			return true
		}
	}
	return false
}

func TestBidiAndInvisibleCharacters(t *testing.T) {
	t.Parallel()
	s := offServer(t)

	s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.upload(t, "invoice\u202efdp.exe", plainText) })
	s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.put(t, "invoice%E2%80%AEfdp.exe", plainText) })
	s.expectRejected(t, http.StatusUnsupportedMediaType, "type_not_allowed", func() response { return s.upload(t, "invoice\u2067fdp.exe\u2069", plainText) })

	if f := mustStore(t, s.upload(t, "photo\u202egpj.txt", plainText)); f.Name != "photogpj.txt" {
		t.Errorf("photo<RLO>gpj.txt: name %q, want photogpj.txt", f.Name)
	}
	for _, r := range spoofingCharacters {
		name := "a" + string(r) + "b.txt"
		if f := mustStore(t, s.upload(t, name, plainText)); f.Name != "ab.txt" {
			t.Errorf("a U+%04X b.txt: name %q, want ab.txt", r, f.Name)
		}
		if f := mustStore(t, s.put(t, url.PathEscape(name), plainText)); f.Name != "ab.txt" {
			t.Errorf("PUT a U+%04X b.txt: name %q, want ab.txt", r, f.Name)
		}
	}

	// Names reach pages, JSON and headers; none may carry the characters,
	// including the result line for a refused browser upload.
	b := s.alice(t)
	page := s.expectBrowserRejected(t, b, multipartFile("invoice\u202efdp.exe", plainText), "")
	if hasSpoofingCharacter(string(page.Body)) {
		t.Error("browser form: the page for a refused file shows a bidi or invisible character from its name")
	}

	list := s.do(t, request{Path: "/api/v1/files", Token: aliceToken})
	files := s.do(t, request{Path: "/files", Client: b.client})
	for label, body := range map[string][]byte{"file list JSON": list.Body, "Files page": files.Body} {
		if hasSpoofingCharacter(string(body)) {
			t.Errorf("%s shows a bidi or invisible character", label)
		}
	}
	for _, f := range s.listFiles(t, aliceToken) {
		dl := s.download(t, f.ID)
		if hasSpoofingCharacter(dl.Header.Get("Content-Disposition")) {
			t.Errorf("download of %s: Content-Disposition holds a bidi or invisible character", f.ID)
		}
	}
}

func TestContentDispositionInjection(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	b := s.alice(t)

	// The quoted filename parameter escapes the quote with a backslash.
	quoted := mustStore(t, s.upload(t, `setup.bat\";x=.txt`, plainText))
	if quoted.Name != `setup.bat";x=.txt` {
		t.Errorf(`name %q, want setup.bat";x=.txt`, quoted.Name)
	}
	checkDisposition(t, s.download(t, quoted.ID).Header, `setup.bat";x=.txt`)
	browserDownload := s.do(t, request{Path: "/files/" + quoted.ID + "/download", Client: b.client})
	checkDisposition(t, browserDownload.Header, `setup.bat";x=.txt`)

	before := s.snapshot(t)
	for _, name := range []string{"a.txt\r\nSet-Cookie: pwn=1\r\nX: .txt", "a.txt\nSet-Cookie: pwn=1\n.txt", "a.txt\r.txt"} {
		resp := s.upload(t, name, plainText)
		assertError(t, resp, http.StatusBadRequest, "invalid_request")
		if resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("raw CR/LF in a part header: the answer sets a cookie")
		}
	}
	s.assertNothingStored(t, before)

	split := mustStore(t, s.put(t, "a%0d%0aSet-Cookie:%20pwn=1%0d%0a.txt", plainText))
	if split.Name != "aSet-Cookie: pwn=1.txt" {
		t.Errorf("PUT with CR LF: name %q, want %q", split.Name, "aSet-Cookie: pwn=1.txt")
	}
	dl := s.download(t, split.ID)
	if len(dl.Header.Values("Set-Cookie")) > 0 {
		t.Errorf("download sets a cookie: %q", dl.Header.Values("Set-Cookie"))
	}
	checkDisposition(t, dl.Header, split.Name)

	for _, tc := range []struct{ channel, sent, want string }{
		{"multipart", "q'uote;semi=1,comma.txt", "q'uote;semi=1,comma.txt"},
		{"PUT", "100%25%20sure%3B%20filename%3Devil.txt", "100% sure; filename=evil.txt"},
		{"PUT", "r%C3%A9sum%C3%A9%20%E2%82%AC.txt", "résumé €.txt"},
		{"PUT", "%22%3B%20filename*%3DUTF-8''evil.exe%3B.txt", `"; filename*=UTF-8''evil.exe;.txt`},
	} {
		var resp response
		if tc.channel == "PUT" {
			resp = s.put(t, tc.sent, plainText)
		} else {
			resp = s.upload(t, tc.sent, plainText)
		}
		f := mustStore(t, resp)
		if f.Name != tc.want {
			t.Errorf("%s %q: name %q, want %q", tc.channel, tc.sent, f.Name, tc.want)
		}
		checkDisposition(t, s.download(t, f.ID).Header, tc.want)
	}
}

var (
	dispositionToken = `[!#$%&'*+.^_` + "`" + `|~0-9A-Za-z-]+`
	dispositionParam = regexp.MustCompile(`^\s*;\s*(` + dispositionToken + `)\s*=\s*(` + dispositionToken + `|"(?:[^"\\]|\\.)*")\s*`)
)

// checkDisposition checks that header has exactly one Content-Disposition:
// attachment with one quoted or token filename of printable ASCII and one
// filename* in UTF-8 that decodes to want. Browsers then save the file
// under want or its ASCII fallback, never under a name an attacker spliced
// in.
func checkDisposition(t *testing.T, header http.Header, want string) {
	t.Helper()
	values := header.Values("Content-Disposition")
	if len(values) != 1 {
		t.Errorf("%d Content-Disposition headers, want 1: %q", len(values), values)
		return
	}
	value := values[0]
	rest, ok := strings.CutPrefix(strings.ToLower(value), "attachment")
	if !ok {
		t.Errorf("Content-Disposition %q is not an attachment", value)
		return
	}
	rest = value[len(value)-len(rest):]

	var plain, star []string
	for rest != "" {
		m := dispositionParam.FindStringSubmatch(rest)
		if m == nil {
			t.Errorf("Content-Disposition %q: unparsable parameters at %q", value, rest)
			return
		}
		switch strings.ToLower(m[1]) {
		case "filename":
			plain = append(plain, m[2])
		case "filename*":
			star = append(star, m[2])
		}
		rest = rest[len(m[0]):]
	}
	if len(plain) != 1 || len(star) != 1 {
		t.Errorf("Content-Disposition %q: want one filename and one filename*", value)
		return
	}
	if strings.IndexFunc(plain[0], func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		t.Errorf("Content-Disposition %q: fallback filename is not printable ASCII", value)
	}

	encoded, ok := strings.CutPrefix(star[0], "UTF-8''")
	if !ok {
		encoded, ok = strings.CutPrefix(star[0], "utf-8''")
	}
	decoded, err := url.PathUnescape(encoded)
	if !ok || err != nil || decoded != want {
		t.Errorf("Content-Disposition filename* %q decodes to %q, want %q", star[0], decoded, want)
	}
}

func TestMarkupInNamesIsEscaped(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	names := []string{
		"<img src=x onerror=alert(document.domain)>.txt",
		"<svg onload=alert(1)>.txt",
		`\"><img src=x onerror=alert(2)>.txt`,
		"'-alert(3)-'.txt",
		"{{7*7}}.txt",
		"${7*7}.txt",
		"<script>alert(4)<\u2044script>.txt",
		"<a href=javascript:alert(5)>x<\u2215a>.txt",
	}
	for _, name := range names {
		want := strings.ReplaceAll(name, `\"`, `"`)
		f := mustStore(t, s.upload(t, name, plainText))
		if f.Name != want {
			t.Errorf("name %q stored as %q, want it unchanged", want, f.Name)
		}
	}
	// A refused upload's name also reaches the result line and the audit log.
	s.upload(t, "<img src=x onerror=alert(6)>.exe", plainText)

	raw := []string{"<img src=x", "<svg onload", "<script>alert", "<a href=javascript", `"><img src=x`}
	b := s.alice(t)
	refused := s.browserUpload(t, b, multipartFile("<img src=x onerror=alert(7)>.exe", plainText))
	pages := map[string]response{
		"Files page":          s.do(t, request{Path: "/files", Client: b.client}),
		"refused upload page": refused,
		"admin page":          s.do(t, request{Path: "/admin", Client: b.client}),
	}
	for label, page := range pages {
		if page.Status != http.StatusOK {
			t.Errorf("%s: status %d", label, page.Status)
		}
		body := string(page.Body)
		for _, markup := range raw {
			if strings.Contains(body, markup) {
				t.Errorf("%s holds unescaped markup %q from a name", label, markup)
			}
		}
		csp := page.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q, want script-src 'self' without 'unsafe-inline'", label, csp)
		}
	}

	list := s.do(t, request{Path: "/api/v1/files", Token: aliceToken})
	if ct := list.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("file list: Content-Type %q, want application/json", ct)
	}
	if list.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("file list: no X-Content-Type-Options: nosniff")
	}
	if bytes.Contains(list.Body, []byte("<img")) {
		t.Error("file list JSON holds a raw <img; encoding/json escapes < as \\u003c")
	}
}

func TestTraversalThroughOtherChannels(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	marker := uniqueMarker(t)

	t.Run("resumable upload", func(t *testing.T) {
		s.requireTus(t)
		name := "h03_tus_" + marker + ".txt"
		before := s.snapshot(t)
		created := s.tusCreate(t, "../../../tmp/"+name, int64(len(plainText)))
		if created.Status == http.StatusBadRequest {
			assertError(t, created, http.StatusBadRequest, "invalid_name")
			s.assertNothingStored(t, before)
			return
		}
		if created.Status != http.StatusCreated {
			t.Fatalf("create: status %d, want 201 or 400: %.300s", created.Status, created.Body)
		}
		if patch := s.tusPatch(t, s.tusPath(t, created), 0, plainText); patch.Status != http.StatusNoContent {
			t.Fatalf("patch: status %d, want 204: %.300s", patch.Status, patch.Body)
		}
		if _, ok := s.fileNamed(t, name); !ok {
			t.Errorf("no file named %s after the upload finished", name)
		}
	})

	t.Run("drop link", func(t *testing.T) {
		s.requireDrops(t)
		d := s.createDrop(t, `{"label":"h03","max_files":5}`)
		resp := s.dropUpload(t, d, "../../../tmp/h03_drop_"+marker+".txt", plainText, nil)
		if f := mustStore(t, resp); f.Name != "h03_drop_"+marker+".txt" {
			t.Errorf("drop upload: name %q, want h03_drop_%s.txt", f.Name, marker)
		}
	})

	t.Run("share zip", func(t *testing.T) {
		s.requireShares(t)
		var ids []string
		for _, name := range []string{"../../../tmp/h03_zip_" + marker + ".txt", `..\..\h03_zipwin_` + marker + ".txt", "C:h03_drive_" + marker + ".txt", ".h03_dot_" + marker + ".txt"} {
			ids = append(ids, mustStore(t, s.upload(t, name, plainText)).ID)
		}
		share := s.createShare(t, shareFiles(ids...))
		resp := s.do(t, request{Path: share.Path + "/zip"})
		if resp.Status != http.StatusOK {
			t.Fatalf("share zip: status %d: %.300s", resp.Status, resp.Body)
		}
		archive, err := zip.NewReader(bytes.NewReader(resp.Body), int64(len(resp.Body)))
		if err != nil {
			t.Fatalf("share zip: %v", err)
		}
		if len(archive.File) != len(ids) {
			t.Errorf("share zip holds %d entries, want %d", len(archive.File), len(ids))
		}
		for _, f := range archive.File {
			if !safeEntryName(f.Name) {
				t.Errorf("zip entry %q could be extracted outside the target folder", f.Name)
			}
		}
	})

	if found := topLevelNamed(os.TempDir(), marker); len(found) > 0 {
		t.Errorf("files written outside the vault: %v", found)
	}
}

// driveLetter matches a Windows drive prefix such as "C:".
var driveLetter = regexp.MustCompile(`^[A-Za-z]:`)

// safeEntryName reports whether an archive entry name stays inside the
// folder it is extracted into on Unix and on Windows.
func safeEntryName(name string) bool {
	if name == "" || strings.ContainsAny(name, "\\\x00:") || driveLetter.MatchString(name) {
		return false
	}
	return filepath.IsLocal(name) && !strings.HasPrefix(name, "/")
}

func TestEncodedTraversalInPaths(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	f := mustStore(t, s.upload(t, "h04.txt", plainText))
	dataDir := url.PathEscape(s.DataDir)

	paths := []string{
		"/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"/assets/..%2f..%2f..%2fetc%2fpasswd",
		"/assets/..%c0%af..%c0%af..%c0%afetc/passwd",
		"/assets/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
		"/assets/../../../etc/passwd",
		"/assets/..%5c..%5c..%5cetc%5cpasswd",
		"/assets/%2fetc%2fpasswd",
		"/assets//etc/passwd",
		"/assets/app.css/..%2f..%2f..%2fgo.mod",
		"/assets/%2e%2e%2f" + dataDir + "%2fvaultdrop.db",
		"/assets/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2f" + dataDir + "/vaultdrop.db",
		"/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"/..%2f..%2f..%2fetc%2fpasswd",
		"/api/v1/files/..%2f..%2f..%2fetc%2fpasswd/content",
		"/api/v1/files/" + f.ID + "%2f..%2f..%2fvaultdrop.db",
		"/api/v1/files/" + f.ID + "/..%2f..%2f..%2fvaultdrop.db",
		"/api/v1/files/%2e%2e%2fvaultdrop.db/content",
		"/api/v1/files/..%2f..%2fvault%2f" + f.ID[:2] + "%2f" + f.ID + "/content",
		"/api/v1/files/" + f.ID + "%00/content",
		"/api/v1/files/" + strings.ToUpper(f.ID) + "/content",
		"/files/..%2f..%2fvaultdrop.db/download",
		"/s/..%2f..%2fvaultdrop.db/zip",
		"/s/..%2f..%2fvaultdrop.db",
		"/d/..%2f..%2fvaultdrop.db",
	}
	secrets := [][]byte{[]byte("root:x:0:0"), []byte("SQLite format 3"), []byte("module github.com/vaultdrop")}
	b := s.alice(t)
	for _, p := range paths {
		for _, client := range []request{{Path: p, Token: aliceToken}, {Path: p, Client: b.client}, {Path: p}} {
			resp := s.do(t, client)
			if resp.Status != http.StatusBadRequest && resp.Status != http.StatusNotFound && resp.Status != http.StatusUnauthorized &&
				!(resp.Status >= 300 && resp.Status < 400) {
				t.Errorf("GET %s: status %d, want 400, 401, 404 or a redirect to sign in", p, resp.Status)
			}
			for _, secret := range secrets {
				if bytes.Contains(resp.Body, secret) {
					t.Errorf("GET %s leaks %q", p, secret)
				}
			}
		}
	}
}
