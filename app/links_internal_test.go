package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/store"
)

func TestZipEntryNames(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want []string
	}{
		{name: "unique names kept", in: []string{"a.txt", "b.txt"}, want: []string{"a.txt", "b.txt"}},
		{name: "duplicates numbered", in: []string{"a.txt", "a.txt", "a.txt"}, want: []string{"a.txt", "a (2).txt", "a (3).txt"}},
		{name: "duplicates ignore case", in: []string{"Report.PDF", "report.pdf"}, want: []string{"Report.PDF", "report (2).pdf"}},
		{name: "counter skips a taken name", in: []string{"a.txt", "a (2).txt", "a.txt"}, want: []string{"a.txt", "a (2).txt", "a (3).txt"}},
		{name: "no extension", in: []string{"README", "README"}, want: []string{"README", "README (2)"}},
		{name: "leading dot file", in: []string{".env", ".env"}, want: []string{".env", ".env (2)"}},
		{name: "dot runs shrink", in: []string{"..hidden.txt", "a..b...txt"}, want: []string{".hidden.txt", "a.b.txt"}},
		{name: "only dots", in: []string{"..", "."}, want: []string{"file", "file (2)"}},
		{name: "separators and drive letter", in: []string{`C:\x\evil.txt`, "../../etc/passwd", "C:evil.txt"},
			want: []string{"C__x_evil.txt", "._._etc_passwd", "C_evil.txt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := zipEntryNames(tc.in)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("zipEntryNames(%q) = %q, want %q", tc.in, got, tc.want)
			}
			for _, name := range got {
				if strings.ContainsAny(name, `/\:`) || strings.Contains(name, "..") {
					t.Errorf("entry %q could leave the extraction folder", name)
				}
			}
		})
	}
}

func TestZipEntryNameStaysWithinNameLimit(t *testing.T) {
	long := strings.Repeat("é", 125) + ".txt" // 254 bytes
	got := zipEntryNames([]string{long, long})

	if len(got[1]) > 255 {
		t.Errorf("second name is %d bytes, want at most 255", len(got[1]))
	}
	if !strings.HasSuffix(got[1], " (2).txt") {
		t.Errorf("second name %q lost its counter or extension", got[1])
	}
}

func TestCountsAsDownload(t *testing.T) {
	f := store.File{Size: 100, SHA256: "abc"}
	cases := []struct {
		name    string
		ranges  string
		ifRange string
		want    bool
	}{
		{name: "no range", want: true},
		{name: "from start", ranges: "bytes=0-9", want: true},
		{name: "open from start", ranges: "bytes=0-", want: true},
		{name: "first of several from start", ranges: "bytes=0-0, 50-", want: true},
		{name: "resume", ranges: "bytes=50-", want: false},
		{name: "resume then start", ranges: "bytes=50-60,0-9", want: false},
		{name: "short suffix", ranges: "bytes=-10", want: false},
		{name: "suffix covering file", ranges: "bytes=-100", want: true},
		{name: "other unit", ranges: "items=0-1", want: false},
		{name: "malformed", ranges: "bytes=abc", want: false},
		{name: "if-range mismatch sends whole file", ranges: "bytes=50-", ifRange: `"other"`, want: true},
		{name: "if-range match resumes", ranges: "bytes=50-", ifRange: `"abc"`, want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			if tc.ranges != "" {
				r.Header.Set("Range", tc.ranges)
			}
			if tc.ifRange != "" {
				r.Header.Set("If-Range", tc.ifRange)
			}
			if got := countsAsDownload(r, f); got != tc.want {
				t.Errorf("countsAsDownload(Range %q, If-Range %q) = %v, want %v", tc.ranges, tc.ifRange, got, tc.want)
			}
		})
	}
}

func TestUnlockCookie(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	key, otherKey := newUnlockKey(), newUnlockKey()
	value := unlockCookieValue(key, "link-a", now.Add(time.Hour))

	if !validUnlockCookie(key, "link-a", value, now) {
		t.Error("fresh cookie refused")
	}
	if validUnlockCookie(key, "link-a", value, now.Add(time.Hour)) {
		t.Error("cookie accepted at its expiry")
	}
	if validUnlockCookie(key, "link-b", value, now) {
		t.Error("cookie accepted for another link id")
	}
	if validUnlockCookie(otherKey, "link-a", value, now) {
		t.Error("cookie accepted under another link's key")
	}
	if validUnlockCookie(key, "link-a", value[:len(value)-2]+"AA", now) {
		t.Error("cookie with a changed MAC accepted")
	}
	if validUnlockCookie(key, "link-a", "not base64!", now) {
		t.Error("malformed cookie accepted")
	}
}

func TestCleanText(t *testing.T) {
	cases := []struct {
		name      string
		in        string
		max       int
		multiline bool
		want      string
	}{
		{name: "plain", in: "Carol", max: 10, want: "Carol"},
		{name: "escape sequence", in: "Ca\x1b[31mrol", max: 20, want: "Ca[31mrol"},
		{name: "line breaks in one line", in: "a\r\nb\nc", max: 10, want: "abc"},
		{name: "line breaks kept in notes", in: "a\r\nb\tc", max: 10, multiline: true, want: "a\nb\tc"},
		{name: "bidi and zero width", in: "ab\u202ecd\u200b", max: 10, want: "abcd"},
		{name: "invalid UTF-8", in: "a\xffb", max: 10, want: "a\uFFFDb"},
		{name: "cut at runes", in: "ééééé", max: 3, want: "ééé"},
		{name: "trimmed", in: "  hi  ", max: 10, want: "hi"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := cleanText(tc.in, tc.max, tc.multiline); got != tc.want {
				t.Errorf("cleanText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidLinkToken(t *testing.T) {
	token, _ := newLinkToken()
	if !validLinkToken(token) {
		t.Errorf("new token %q refused", token)
	}
	for _, bad := range []string{"", "short", strings.Repeat("a", 42), strings.Repeat("a", 44),
		strings.Repeat("a", 40) + "../", strings.Repeat("a", 40) + "%2f"} {
		if validLinkToken(bad) {
			t.Errorf("validLinkToken(%q) = true, want false", bad)
		}
	}
}
