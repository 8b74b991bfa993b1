package filename

import (
	"bufio"
	"mime"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

func TestContentDisposition(t *testing.T) {
	tests := []struct {
		name         string
		displayName  string
		wantFallback string
		wantEncoded  string
	}{
		{
			name:         "plain ASCII",
			displayName:  "report.pdf",
			wantFallback: "report.pdf",
			wantEncoded:  "report.pdf",
		},
		{
			name:         "quote semicolon equals",
			displayName:  `setup.bat";x=.txt`,
			wantFallback: "setup.bat__x=.txt",
			wantEncoded:  "setup.bat%22%3Bx%3D.txt",
		},
		{
			name:         "apostrophe semicolon comma",
			displayName:  "q'uote;semi=1,comma.txt",
			wantFallback: "q'uote_semi=1_comma.txt",
			wantEncoded:  "q%27uote%3Bsemi%3D1%2Ccomma.txt",
		},
		{
			name:         "sanitized CR LF name",
			displayName:  "a.txtSet-Cookie: pwn=1X: .txt",
			wantFallback: "a.txtSet-Cookie: pwn=1X: .txt",
			wantEncoded:  "a.txtSet-Cookie%3A%20pwn%3D1X%3A%20.txt",
		},
		{
			name:         "raw CR LF name",
			displayName:  "a.txt\r\nSet-Cookie: pwn=1\r\nX: .txt",
			wantFallback: "a.txt__Set-Cookie: pwn=1__X: .txt",
			wantEncoded:  "a.txt%0D%0ASet-Cookie%3A%20pwn%3D1%0D%0AX%3A%20.txt",
		},
		{
			name:         "backslash percent slash",
			displayName:  `a\b%41/c.txt`,
			wantFallback: "a_b_41_c.txt",
			wantEncoded:  "a%5Cb%2541%2Fc.txt",
		},
		{
			name:         "NUL and DEL",
			displayName:  "a\x00b\x7f.txt",
			wantFallback: "a_b_.txt",
			wantEncoded:  "a%00b%7F.txt",
		},
		{
			name:         "non-ASCII letters",
			displayName:  "café 文.txt",
			wantFallback: "caf_ _.txt",
			wantEncoded:  "caf%C3%A9%20%E6%96%87.txt",
		},
		{
			name:         "markup",
			displayName:  "<img src=x onerror=alert(1)>.txt",
			wantFallback: "<img src=x onerror=alert(1)>.txt",
			wantEncoded:  "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt",
		},
		{
			name:         "attr-char punctuation unencoded",
			displayName:  "a!#$&+-.^_`|~b.txt",
			wantFallback: "a!#$&+-.^_`|~b.txt",
			wantEncoded:  "a!#$&+-.^_`|~b.txt",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ContentDisposition(tt.displayName)

			want := `attachment; filename="` + tt.wantFallback + `"; filename*=UTF-8''` + tt.wantEncoded
			if got != want {
				t.Errorf("ContentDisposition(%q)\n got %s\nwant %s", tt.displayName, got, want)
			}
			if strings.ContainsAny(got, "\r\n\x00") {
				t.Errorf("header value %q contains CR, LF or NUL", got)
			}
			if n := strings.Count(got, "filename="); n != 1 {
				t.Errorf("header value has %d filename parameters, want 1", n)
			}
			if n := strings.Count(got, "filename*="); n != 1 {
				t.Errorf("header value has %d filename* parameters, want 1", n)
			}

			disposition, params, err := mime.ParseMediaType(got)
			if err != nil {
				t.Fatalf("mime.ParseMediaType(%q) error = %v", got, err)
			}
			if disposition != "attachment" {
				t.Errorf("disposition = %q, want attachment", disposition)
			}
			if params["filename"] != tt.displayName {
				t.Errorf("decoded filename* = %q, want %q", params["filename"], tt.displayName)
			}
		})
	}
}

func TestContentDispositionSanitizedNames(t *testing.T) {
	raws := []string{
		`setup.bat";x=.txt`,
		"q'uote;semi=1,comma.txt",
		"a.txt\r\nSet-Cookie: pwn=1\r\nX: .txt",
		"invoice\u202efdp.exe",
		strings.Repeat("文", 90) + ".txt",
	}

	for _, raw := range raws {
		name, err := Sanitize(raw)
		if err != nil {
			t.Fatalf("Sanitize(%q) error = %v", raw, err)
		}

		value := ContentDisposition(name)

		header := http.Header{}
		header.Set("Content-Disposition", value)
		if n := len(header.Values("Content-Disposition")); n != 1 {
			t.Errorf("%q: %d Content-Disposition values, want 1", raw, n)
		}
		if got := header.Get("Set-Cookie"); got != "" {
			t.Errorf("%q: Set-Cookie header %q appeared", raw, got)
		}
		if strings.ContainsAny(value, "\r\n") {
			t.Errorf("%q: header value %q contains CR or LF", raw, value)
		}

		_, params, err := mime.ParseMediaType(value)
		if err != nil {
			t.Fatalf("%q: mime.ParseMediaType(%q) error = %v", raw, value, err)
		}
		if params["filename"] != name {
			t.Errorf("%q: decoded filename* = %q, want the sanitized name %q", raw, params["filename"], name)
		}
	}
}

func TestContentDispositionWireFormat(t *testing.T) {
	// Write the header line by hand and parse it with net/textproto, to
	// check that the value stays one header field.
	value := ContentDisposition("a.txt\r\nSet-Cookie: pwn=1\r\nX: .txt")

	raw := "Content-Disposition: " + value + "\r\n\r\n"

	reader := textproto.NewReader(bufio.NewReader(strings.NewReader(raw)))
	header, err := reader.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("ReadMIMEHeader error = %v", err)
	}

	if n := len(header); n != 1 {
		t.Errorf("parsed %d header fields, want 1: %v", n, header)
	}
	if got := header.Get("Content-Disposition"); got != value {
		t.Errorf("Content-Disposition = %q, want %q", got, value)
	}
}

func TestContentDispositionEmptyName(t *testing.T) {
	got := ContentDisposition("")

	if want := `attachment; filename="download"`; got != want {
		t.Errorf(`ContentDisposition("") = %q, want %q`, got, want)
	}
}

func TestContentDispositionInvalidUTF8(t *testing.T) {
	got := ContentDisposition("caf\xe9.txt")

	_, params, err := mime.ParseMediaType(got)
	if err != nil {
		t.Fatalf("mime.ParseMediaType(%q) error = %v", got, err)
	}
	if want := "caf\ufffd.txt"; params["filename"] != want {
		t.Errorf("decoded filename* = %q, want %q", params["filename"], want)
	}
}
