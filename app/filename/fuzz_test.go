package filename

import (
	"mime"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// hostileNames seeds both fuzz targets with the names the table tests cover.
var hostileNames = []string{
	"",
	".",
	"..",
	"...",
	" ",
	".bashrc",
	"../../../../tmp/x.txt",
	"/tmp/x.txt",
	"sub/dir/x.txt",
	`..\..\x.txt`,
	`C:\x\y.txt`,
	"../..",
	"\u202e",
	"\u200b\u200b",
	"shell.php\x00.jpg",
	"report\x01\x1b[31m.pdf",
	"a\x7fb.txt",
	"shell.php%00.jpg",
	"invoice\u202efdp.exe",
	"photo\u202egpj.txt",
	"a\u2066b.txt",
	"a\u061cb.txt",
	"a\ufeffb.txt",
	"cafe\u0301.txt",
	"caf\xe9.txt",
	"..\xc0\xaf..\xc0\xafx.txt",
	"a" + strings.Repeat("\u0301", 40) + ".txt",
	strings.Repeat("a", 300) + ".txt",
	strings.Repeat("文", 90) + ".txt",
	strings.Repeat("é", 200) + ".txt",
	"<img src=x onerror=alert(1)>.txt",
	`setup.bat";x=.txt`,
	"q'uote;semi=1,comma.txt",
	"a.txt\r\nSet-Cookie: pwn=1\r\nX: .txt",
}

func FuzzSanitize(f *testing.F) {
	for _, name := range hostileNames {
		f.Add(name)
	}

	f.Fuzz(func(t *testing.T, raw string) {
		name, err := Sanitize(raw)
		if err != nil {
			if name != "" {
				t.Errorf("Sanitize(%q) returned %q with error %v", raw, name, err)
			}
			if _, ok := err.(*Error); !ok {
				t.Errorf("Sanitize(%q) error %T is not *Error", raw, err)
			}
			return
		}

		checkSanitized(t, raw, name)

		again, err := Sanitize(name)
		if err != nil {
			t.Fatalf("Sanitize(%q) accepted, but Sanitize of its result %q failed: %v", raw, name, err)
		}
		if again != name {
			t.Errorf("Sanitize is not idempotent: %q -> %q -> %q", raw, name, again)
		}
	})
}

// checkSanitized fails t when name breaks an invariant of Sanitize.
func checkSanitized(t *testing.T, raw, name string) {
	t.Helper()

	if !utf8.ValidString(name) {
		t.Errorf("Sanitize(%q) = %q is not valid UTF-8", raw, name)
	}
	if len(name) > MaxBytes {
		t.Errorf("Sanitize(%q) is %d bytes, over %d", raw, len(name), MaxBytes)
	}
	if strings.ContainsAny(name, `/\`) {
		t.Errorf("Sanitize(%q) = %q contains a path separator", raw, name)
	}
	if strings.Trim(name, ". ") == "" {
		t.Errorf("Sanitize(%q) = %q is only dots and spaces", raw, name)
	}
	if !norm.NFC.IsNormalString(name) {
		t.Errorf("Sanitize(%q) = %q is not NFC", raw, name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Errorf("Sanitize(%q) = %q contains %U", raw, name, r)
		}
	}
}

func FuzzContentDisposition(f *testing.F) {
	for _, name := range hostileNames {
		f.Add(name)
	}

	f.Fuzz(func(t *testing.T, name string) {
		value := ContentDisposition(name)

		for i := 0; i < len(value); i++ {
			if c := value[i]; c < 0x20 || c > 0x7e {
				t.Fatalf("ContentDisposition(%q) = %q has byte %#x outside printable ASCII", name, value, c)
			}
		}

		disposition, params, err := mime.ParseMediaType(value)
		if err != nil {
			t.Fatalf("mime.ParseMediaType(%q) error = %v", value, err)
		}
		if disposition != "attachment" {
			t.Errorf("disposition = %q, want attachment", disposition)
		}

		want := strings.ToValidUTF8(name, "\ufffd")
		if name == "" {
			want = "download"
		}
		if params["filename"] != want {
			t.Errorf("ContentDisposition(%q): filename decodes to %q, want %q", name, params["filename"], want)
		}

		// A sanitized name must round-trip exactly.
		if sanitized, err := Sanitize(name); err == nil {
			_, params, err := mime.ParseMediaType(ContentDisposition(sanitized))
			if err != nil {
				t.Fatalf("mime.ParseMediaType for sanitized %q error = %v", sanitized, err)
			}
			if params["filename"] != sanitized {
				t.Errorf("sanitized %q decodes to %q", sanitized, params["filename"])
			}
		}
	})
}
