package filename

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestSanitizeAccepts(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{name: "plain name", raw: "report.pdf", want: "report.pdf"},
		{name: "dot file kept", raw: ".bashrc", want: ".bashrc"},

		// Path traversal: only the last element survives.
		{name: "relative traversal", raw: "../../../../tmp/x.txt", want: "x.txt"},
		{name: "absolute path", raw: "/tmp/x.txt", want: "x.txt"},
		{name: "sub directories", raw: "sub/dir/x.txt", want: "x.txt"},
		{name: "backslash traversal", raw: `..\..\x.txt`, want: "x.txt"},
		{name: "windows drive path", raw: `C:\x\y.txt`, want: "y.txt"},
		{name: "mixed separators", raw: `a/b\c/d.txt`, want: "d.txt"},
		{name: "decoded slash then name", raw: "../../etc/passwd.txt", want: "passwd.txt"},

		// Control characters are removed, not replaced.
		{name: "NUL before inner extension", raw: "shell.php\x00.jpg", want: "shell.php.jpg"},
		{name: "C0 and ANSI escape", raw: "report\x01\x1b[31m.pdf", want: "report[31m.pdf"},
		{name: "DEL", raw: "a\x7fb.txt", want: "ab.txt"},
		{name: "CR LF header injection", raw: "a\r\nSet-Cookie: pwn=1\r\n.txt", want: "aSet-Cookie: pwn=1.txt"},
		{name: "bell and clear screen", raw: "tus\x07\x1b[2J.txt", want: "tus[2J.txt"},
		{name: "C1 control NEL", raw: "a\u0085b.txt", want: "ab.txt"},
		{name: "tab", raw: "a\tb.txt", want: "ab.txt"},
		{name: "literal percent zero zero", raw: "shell.php%00.jpg", want: "shell.php%00.jpg"},
		{name: "literal encoded slash", raw: "..%2f..%2fx.txt", want: "..%2f..%2fx.txt"},

		// Bidirectional controls and invisible characters are removed.
		{name: "RLO exe", raw: "invoice\u202efdp.exe", want: "invoicefdp.exe"},
		{name: "RLO txt", raw: "photo\u202egpj.txt", want: "photogpj.txt"},
		{name: "U+2066 LRI", raw: "a\u2066b.txt", want: "ab.txt"},
		{name: "U+2069 PDI", raw: "a\u2069b.txt", want: "ab.txt"},
		{name: "U+202A LRE", raw: "a\u202ab.txt", want: "ab.txt"},
		{name: "U+202D LRO", raw: "a\u202db.txt", want: "ab.txt"},
		{name: "U+200E LRM", raw: "a\u200eb.txt", want: "ab.txt"},
		{name: "U+200F RLM", raw: "a\u200fb.txt", want: "ab.txt"},
		{name: "U+061C ALM", raw: "a\u061cb.txt", want: "ab.txt"},
		{name: "U+200B ZWSP", raw: "a\u200bb.txt", want: "ab.txt"},
		{name: "U+2060 word joiner", raw: "a\u2060b.txt", want: "ab.txt"},
		{name: "U+FEFF BOM", raw: "a\ufeffb.txt", want: "ab.txt"},
		{name: "U+200C ZWNJ", raw: "a\u200cb.txt", want: "ab.txt"},
		{name: "U+200D ZWJ", raw: "a\u200db.txt", want: "ab.txt"},
		{name: "U+2064 invisible plus", raw: "a\u2064b.txt", want: "ab.txt"},
		{name: "U+00AD soft hyphen", raw: "a\u00adb.txt", want: "ab.txt"},
		{name: "U+2028 line separator", raw: "a\u2028b.txt", want: "ab.txt"},
		{name: "U+3164 Hangul filler", raw: "a\u3164b.txt", want: "ab.txt"},
		{name: "tag character", raw: "a\U000E0041b.txt", want: "ab.txt"},

		// Unicode normalisation and invalid UTF-8.
		{name: "NFD to NFC", raw: "cafe\u0301.txt", want: "caf\u00e9.txt"},
		{name: "NFD Hangul to NFC", raw: "\u1112\u1161\u11ab.txt", want: "\ud55c.txt"},
		{name: "invalid UTF-8 byte", raw: "caf\xe9.txt", want: "caf\ufffd.txt"},
		{name: "overlong slash stays bytes", raw: "..\xc0\xaf..\xc0\xafx.txt", want: "..\ufffd..\ufffdx.txt"},

		// Windows hazards at the edges.
		{name: "leading spaces", raw: "   x.txt", want: "x.txt"},
		{name: "trailing dot", raw: "x.exe.", want: "x.exe"},
		{name: "trailing dots and spaces", raw: "x.txt . . ", want: "x.txt"},
		{name: "inner spaces kept", raw: "my report.pdf", want: "my report.pdf"},
		{name: "division slash kept", raw: "a\u2215b.txt", want: "a\u2215b.txt"},

		// Markup is kept as text, because the renderer escapes it.
		{name: "img onerror", raw: "<img src=x onerror=alert(1)>.txt", want: "<img src=x onerror=alert(1)>.txt"},
		{name: "svg onload", raw: "<svg onload=alert(1)>.txt", want: "<svg onload=alert(1)>.txt"},
		{name: "template syntax", raw: "{{7*7}}.txt", want: "{{7*7}}.txt"},
		{name: "quote and semicolon", raw: `setup.bat";x=.txt`, want: `setup.bat";x=.txt`},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sanitize(tt.raw)
			if err != nil {
				t.Fatalf("Sanitize(%q) error = %v, want nil", tt.raw, err)
			}
			if got != tt.want {
				t.Errorf("Sanitize(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestSanitizeRejects(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		wantReason string // a substring of the error message
	}{
		{name: "empty", raw: "", wantReason: "empty"},
		{name: "dot dot", raw: "..", wantReason: "only dots"},
		{name: "dot", raw: ".", wantReason: "only dots"},
		{name: "three dots", raw: "...", wantReason: "only dots"},
		{name: "single space", raw: " ", wantReason: "only dots and spaces"},
		{name: "dots and spaces", raw: ". . .", wantReason: "only dots and spaces"},
		{name: "decoded traversal to dot dot", raw: "../../..", wantReason: "only dots"},
		{name: "trailing slash", raw: "dir/", wantReason: "path separator"},
		{name: "trailing backslash", raw: `dir\`, wantReason: "path separator"},
		{name: "only RLO", raw: "\u202e", wantReason: "invisible characters"},
		{name: "only zero-width spaces", raw: "\u200b\u200b", wantReason: "invisible characters"},
		{name: "only controls", raw: "\x00\x01\x1b", wantReason: "control"},
		{name: "RLO then dot dot", raw: "\u202e..", wantReason: "only dots"},
		{name: "over input limit", raw: strings.Repeat("a", 100000) + ".txt", wantReason: "4096 bytes"},
		{name: "one byte over input limit", raw: strings.Repeat("a", MaxInputBytes+1), wantReason: "4096 bytes"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sanitize(tt.raw)
			if err == nil {
				t.Fatalf("Sanitize(%.40q) = %q, want an error", tt.raw, got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false, want true", err)
			}
			var nameErr *Error
			if !errors.As(err, &nameErr) {
				t.Errorf("error %T is not *Error", err)
			}
			if !strings.Contains(err.Error(), tt.wantReason) {
				t.Errorf("error %q does not mention %q", err, tt.wantReason)
			}
			if !strings.Contains(err.Error(), "; ") {
				t.Errorf("error %q does not say what to do next", err)
			}
		})
	}
}

func TestSanitizeInputLimitIsInclusive(t *testing.T) {
	raw := strings.Repeat("a", MaxInputBytes-4) + ".txt"

	got, err := Sanitize(raw)
	if err != nil {
		t.Fatalf("Sanitize(%d bytes) error = %v, want nil", len(raw), err)
	}
	if len(got) != MaxBytes {
		t.Errorf("len(Sanitize(%d bytes)) = %d, want %d", len(raw), len(got), MaxBytes)
	}
}

func TestSanitizeShortens(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		wantBytes int
		wantStem  string // the character the shortened stem repeats
	}{
		{name: "255 bytes unchanged", raw: strings.Repeat("a", 251) + ".txt", wantBytes: 255, wantStem: "a"},
		{name: "300 ASCII letters", raw: strings.Repeat("a", 300) + ".txt", wantBytes: 255, wantStem: "a"},
		{name: "90 CJK characters", raw: strings.Repeat("文", 90) + ".txt", wantBytes: 83*3 + 4, wantStem: "文"},
		{name: "200 precomposed e acute", raw: strings.Repeat("é", 200) + ".txt", wantBytes: 125*2 + 4, wantStem: "é"},
		{name: "200 decomposed e acute", raw: strings.Repeat("e\u0301", 200) + ".txt", wantBytes: 125*2 + 4, wantStem: "é"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sanitize(tt.raw)
			if err != nil {
				t.Fatalf("Sanitize error = %v, want nil", err)
			}
			if len(got) != tt.wantBytes {
				t.Errorf("len(result) = %d bytes, want %d", len(got), tt.wantBytes)
			}
			if !strings.HasSuffix(got, ".txt") {
				t.Errorf("result ends %q, want the .txt extension kept", got[max(0, len(got)-8):])
			}
			if !utf8.ValidString(got) {
				t.Errorf("result is not valid UTF-8")
			}
			stem := strings.TrimSuffix(got, ".txt")
			if strings.ReplaceAll(stem, tt.wantStem, "") != "" {
				t.Errorf("stem %q is not only %q", stem, tt.wantStem)
			}
		})
	}
}

func TestSanitizeShortensWithoutExtension(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{name: "no dot", raw: strings.Repeat("b", 400)},
		{name: "dot file", raw: "." + strings.Repeat("b", 400)},
		{name: "extension too long to keep", raw: "a." + strings.Repeat("b", 400)},
		{name: "cut exposes trailing dots", raw: strings.Repeat("b", 250) + strings.Repeat(".", 10) + strings.Repeat("c", 100) + ".toolongtobeanextensionforthisname"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sanitize(tt.raw)
			if err != nil {
				t.Fatalf("Sanitize error = %v, want nil", err)
			}
			if len(got) > MaxBytes {
				t.Errorf("len(result) = %d, want at most %d", len(got), MaxBytes)
			}
			if strings.HasSuffix(got, ".") {
				t.Errorf("result %q ends with a dot", got)
			}
			if got[0] != tt.raw[0] {
				t.Errorf("result starts %q, want the start of the name kept", got[:1])
			}
		})
	}
}

func TestSanitizeShortensLeadingDots(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{name: "dots before a name", raw: strings.Repeat(".", 300) + "abc.txt", want: ".abc.txt"},
		{name: "dots before a dot file", raw: strings.Repeat(".", 300) + "x", want: ".x"},
		{name: "dot run before a long name", raw: "..." + strings.Repeat("a", 300) + ".txt", want: "." + strings.Repeat("a", 250) + ".txt"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sanitize(tt.raw)
			if err != nil {
				t.Fatalf("Sanitize error = %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("Sanitize = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSanitizeShortenKeepsCombiningMarks(t *testing.T) {
	// The stem may keep 251 bytes, and its 251st byte is "q". No precomposed
	// character combines "q" with the two accents after it, so keeping "q"
	// alone would strip them.
	raw := strings.Repeat("a", 250) + "q\u0301\u0302" + strings.Repeat("z", 10) + ".txt"

	got, err := Sanitize(raw)
	if err != nil {
		t.Fatalf("Sanitize error = %v, want nil", err)
	}

	if want := strings.Repeat("a", 250) + ".txt"; got != want {
		t.Errorf("Sanitize = %q, want %q", got[240:], want[240:])
	}
}

func TestSanitizeIsIdempotent(t *testing.T) {
	inputs := []string{
		"cafe\u0301.txt",
		strings.Repeat("文", 90) + ".txt",
		"a" + strings.Repeat("\u0301", 100) + ".txt",
		strings.Repeat("x", 250) + " . .txt",
		"  .hidden. ",
	}

	for _, raw := range inputs {
		once, err := Sanitize(raw)
		if err != nil {
			t.Fatalf("Sanitize(%q) error = %v", raw, err)
		}
		twice, err := Sanitize(once)
		if err != nil {
			t.Fatalf("Sanitize(Sanitize(%q)) error = %v", raw, err)
		}
		if twice != once {
			t.Errorf("Sanitize(Sanitize(%q)) = %q, want %q", raw, twice, once)
		}
		if !norm.NFC.IsNormalString(once) {
			t.Errorf("Sanitize(%q) = %q is not NFC", raw, once)
		}
	}
}
