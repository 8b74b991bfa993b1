package filetype

import (
	"errors"
	"mime"
	"slices"
	"testing"
)

func FuzzPolicy(f *testing.F) {
	seeds := []struct {
		name    string
		content []byte
	}{
		{"photo.jpg", minimalJPEG},
		{"photo.JPG", htmlInJPEG()},
		{"x.png", scriptSVG},
		{"x.txt", inlineHTML},
		{"page.txt", pageHTML},
		{"page.jpg", pageXHTML},
		{"a.txt", plainJS},
		{"php.txt", phpTXT},
		{"shell.txt", shellTXT},
		{"b.jpg", mvgScript},
		{"tool.pdf", elfStub},
		{"setup.jpg", peStub},
		{"js.pdf", jsPDF},
		{"report.xlsx", xlFolderZip(f)},
		{"report.docx", plainZip(f)},
		{"app.zip", javaArchive(f)},
		{"gifar.gif", gifar(f)},
		{"gifar.zip", gifar(f)},
		{"evil.php.jpg", minimalJPEG},
		{"shell.php%00.jpg", minimalJPEG},
		{".jpg", minimalJPEG},
		{"photo", minimalJPEG},
		{"empty.txt", nil},
		{"notes.md", sampleMarkdown},
		{"data.json", sampleJSON},
		{"prices.csv", sampleCSV},
		{"clip.mp4", isoMedia("isom", "isom", "mp41")},
		{"film.mkv", matroska("matroska")},
		{"old.doc", compoundFile(make([]byte, 16), "WordDocument", 0)},
	}
	for _, seed := range seeds {
		f.Add(seed.name, seed.content)
	}

	strict, err := NewPolicy(nil, nil)
	if err != nil {
		f.Fatalf("NewPolicy(nil, nil) error = %v", err)
	}
	// An operator who allows active types still gets them stored and
	// served as downloads only.
	permissive, err := NewPolicy([]string{"svg", "html", "xml", "js", "php", "txt:text/html"}, nil)
	if err != nil {
		f.Fatalf("NewPolicy(permissive) error = %v", err)
	}

	f.Fuzz(func(t *testing.T, name string, content []byte) {
		contentType, err := checkUpload(strict, name, content)
		if err != nil {
			checkTypeError(t, err)
		} else {
			checkAccepted(t, strict, name, contentType)
			if mediaType, _, _ := mime.ParseMediaType(contentType); isActiveType(mediaType) {
				t.Errorf("default policy accepted %q as active content %s", name, contentType)
			}
		}

		contentType, err = checkUpload(permissive, name, content)
		if err != nil {
			checkTypeError(t, err)
		} else {
			checkAccepted(t, permissive, name, contentType)
		}
	})
}

// checkAccepted fails t when an accepted upload breaks an invariant of the
// policy: its extension is allowed, its content type parses, and it is
// never served as active content.
func checkAccepted(t *testing.T, p *Policy, name, contentType string) {
	t.Helper()

	ext := Extension(name)
	if !slices.Contains(p.Extensions(), ext) {
		t.Errorf("accepted %q with extension %q, which is not in the allowlist", name, ext)
	}

	if _, _, err := mime.ParseMediaType(contentType); err != nil {
		t.Fatalf("accepted %q with unparsable content type %q: %v", name, contentType, err)
	}

	if (executableExtensions[ext] || activeContentExtensions[ext]) && contentType != octetStream {
		t.Errorf("accepted %q with active extension as %s, want %s", name, contentType, octetStream)
	}

	served, _, _ := mime.ParseMediaType(SafeContentType(contentType))
	if isActiveType(served) {
		t.Errorf("%q is served as active content %s", name, served)
	}
}

func checkTypeError(t *testing.T, err error) {
	t.Helper()

	var typeErr *Error
	if !errors.As(err, &typeErr) {
		t.Fatalf("error %v (%T) is not *Error", err, err)
	}
	if typeErr.Code != CodeNotAllowed && typeErr.Code != CodeMismatch {
		t.Errorf("error code %q is neither %s nor %s", typeErr.Code, CodeNotAllowed, CodeMismatch)
	}
	if typeErr.Message == "" {
		t.Errorf("error with code %s has no message", typeErr.Code)
	}
}
