package filetype

import "testing"

func TestSafeContentType(t *testing.T) {
	tests := []struct {
		stored string
		want   string
	}{
		// Passive types keep their name.
		{stored: "image/png", want: "image/png"},
		{stored: "image/jpeg", want: "image/jpeg"},
		{stored: "image/gif", want: "image/gif"},
		{stored: "image/heic", want: "image/heic"},
		{stored: "audio/mpeg", want: "audio/mpeg"},
		{stored: "audio/ogg", want: "audio/ogg"},
		{stored: "video/mp4", want: "video/mp4"},
		{stored: "video/webm", want: "video/webm"},
		{stored: "application/pdf", want: "application/pdf"},
		{stored: "application/zip", want: "application/zip"},
		{stored: "application/json", want: "application/json"},
		{stored: "application/gzip", want: "application/gzip"},
		{stored: typeDOCX, want: typeDOCX},
		{stored: typeXLSX, want: typeXLSX},
		{stored: typeODT, want: typeODT},
		{stored: "application/msword", want: "application/msword"},

		// Text gets a charset.
		{stored: "text/plain; charset=utf-8", want: "text/plain; charset=utf-8"},
		{stored: "text/plain", want: "text/plain; charset=utf-8"},
		{stored: "text/plain; charset=UTF-16LE", want: "text/plain; charset=utf-16le"},
		{stored: "text/plain; charset=windows-1252", want: "text/plain; charset=windows-1252"},
		{stored: "text/plain; charset=iso-8859-1", want: "text/plain; charset=iso-8859-1"},
		{stored: "text/plain; charset=utf-7", want: "text/plain; charset=utf-8"},
		{stored: "text/plain; charset=utf-32le", want: "text/plain; charset=utf-8"},
		{stored: "text/csv", want: "text/csv; charset=utf-8"},
		{stored: "TEXT/PLAIN", want: "text/plain; charset=utf-8"},

		// Anything a browser could run, or that is unknown, is a download.
		{stored: "text/html", want: octetStream},
		{stored: "text/html; charset=utf-8", want: octetStream},
		{stored: "application/xhtml+xml", want: octetStream},
		{stored: "image/svg+xml", want: octetStream},
		{stored: "text/xml", want: octetStream},
		{stored: "application/xml", want: octetStream},
		{stored: "text/javascript", want: octetStream},
		{stored: "application/javascript", want: octetStream},
		{stored: "text/x-php", want: octetStream},
		{stored: "text/x-shellscript", want: octetStream},
		{stored: "text/tab-separated-values", want: octetStream},
		{stored: "text/rtf", want: octetStream},
		{stored: "text/vtt", want: octetStream},
		{stored: "application/java-archive", want: octetStream},
		{stored: "application/vnd.microsoft.portable-executable", want: octetStream},
		{stored: "application/x-ole-storage", want: octetStream},
		{stored: "application/x-shockwave-flash", want: octetStream},
		{stored: "application/pdf+xml", want: octetStream},
		{stored: "video/vnd.example+xml", want: octetStream},
		{stored: octetStream, want: octetStream},

		// Parameters other than charset never pass, and bad values fall back.
		{stored: "image/png; name=x.html", want: "image/png"},
		{stored: "", want: octetStream},
		{stored: "garbage", want: octetStream},
		{stored: "image/", want: octetStream},
		{stored: "text/plain; charset=utf-8\r\nSet-Cookie: a=b", want: octetStream},
	}

	for _, tt := range tests {
		if got := SafeContentType(tt.stored); got != tt.want {
			t.Errorf("SafeContentType(%q) = %q, want %q", tt.stored, got, tt.want)
		}
	}
}

func TestSafeContentTypeOfEveryDefault(t *testing.T) {
	// Every type the default allowlist can store is served either under its
	// own name or as a download, never as anything active.
	for ext, types := range defaultAllowlist {
		for _, mediaType := range types {
			served := SafeContentType(mediaType)
			if isActiveType(served) {
				t.Errorf("%s stored for .%s is served as %s", mediaType, ext, served)
			}
		}
	}
}
