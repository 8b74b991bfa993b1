package filetype

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gabriel-vasile/mimetype"
)

func TestCheckName(t *testing.T) {
	p := newDefaultPolicy(t)

	tests := []struct {
		name     string
		fileName string
		wantErr  bool
		wantExt  string // Error.Extension when refused
	}{
		{name: "jpg", fileName: "photo.jpg"},
		{name: "upper-case JPG", fileName: "photo.JPG"},
		{name: "mixed-case JpEg", fileName: "photo.JpEg"},
		{name: "tar gz", fileName: "backup.tar.gz"},
		{name: "dotted stem", fileName: "report.v2.final.pdf"},
		{name: "dot file with extension", fileName: ".config.json"},
		{name: "literal percent zero zero", fileName: "shell.php%00.jpg"},
		{name: "domain in name", fileName: "invoice-example.com.pdf"},
		{name: "markup name", fileName: "<img src=x onerror=alert(1)>.txt"},
		{name: "sanitized RLO txt", fileName: "photogpj.txt"},

		// The final extension is not allowed.
		{name: "jpg then php", fileName: "shell.jpg.php", wantErr: true, wantExt: "php"},
		{name: "mixed-case php", fileName: "x.pHp", wantErr: true, wantExt: "php"},
		{name: "upper-case PHP5", fileName: "x.PHP5", wantErr: true, wantExt: "php5"},
		{name: "phtml", fileName: "x.phtml", wantErr: true, wantExt: "phtml"},
		{name: "jpg then exe", fileName: "photo.jpg.exe", wantErr: true, wantExt: "exe"},
		{name: "jpeg then sh", fileName: "photo.jpeg.sh", wantErr: true, wantExt: "sh"},
		{name: "sanitized RLO exe", fileName: "invoicefdp.exe", wantErr: true, wantExt: "exe"},
		{name: "html", fileName: "x.html", wantErr: true, wantExt: "html"},
		{name: "svg", fileName: "x.svg", wantErr: true, wantExt: "svg"},
		{name: "xml", fileName: "x.xml", wantErr: true, wantExt: "xml"},
		{name: "js", fileName: "a.js", wantErr: true, wantExt: "js"},
		{name: "bat", fileName: "run.bat", wantErr: true, wantExt: "bat"},
		{name: "unlisted", fileName: "model.stl", wantErr: true, wantExt: "stl"},
		{name: "kelvin sign is not k", fileName: "film.m\u212av", wantErr: true, wantExt: "m\u212av"},
		{name: "trailing space", fileName: "x.jpg ", wantErr: true, wantExt: "jpg "},

		// No extension, or only one.
		{name: "no extension", fileName: "photo", wantErr: true},
		{name: "only an extension", fileName: ".jpg", wantErr: true},
		{name: "dot file", fileName: ".bashrc", wantErr: true},
		{name: "trailing dot", fileName: "x.php.", wantErr: true},
		{name: "three dots", fileName: "...", wantErr: true},
		{name: "empty", fileName: "", wantErr: true},

		// An executable or script extension inside the name.
		{name: "inner php", fileName: "invoice.php.jpg", wantErr: true, wantExt: "php"},
		{name: "inner upper-case PHP", fileName: "evil.PHP.jpg", wantErr: true, wantExt: "php"},
		{name: "inner exe before pdf", fileName: "run.exe.pdf", wantErr: true, wantExt: "exe"},
		{name: "inner exe before jpg", fileName: "run.exe.jpg", wantErr: true, wantExt: "exe"},
		{name: "inner msi", fileName: "setup.msi.jpg", wantErr: true, wantExt: "msi"},
		{name: "inner php5", fileName: "x.php5.png", wantErr: true, wantExt: "php5"},
		{name: "inner phtml", fileName: "a.phtml.gif", wantErr: true, wantExt: "phtml"},
		{name: "inner php after leading dot", fileName: ".php.jpg", wantErr: true, wantExt: "php"},
		{name: "inner php deeper", fileName: "a.b.php.c.txt", wantErr: true, wantExt: "php"},
		{name: "inner NUL-stripped php", fileName: "shell.php.jpg", wantErr: true, wantExt: "php"},
		{name: "inner jsp", fileName: "x.jsp.png", wantErr: true, wantExt: "jsp"},
		{name: "inner js", fileName: "app.js.txt", wantErr: true, wantExt: "js"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.CheckName(tt.fileName)

			if !tt.wantErr {
				if err != nil {
					t.Errorf("CheckName(%q) error = %v, want nil", tt.fileName, err)
				}
				return
			}

			if !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("CheckName(%q) error = %v, want ErrNotAllowed", tt.fileName, err)
			}
			if errors.Is(err, ErrMismatch) {
				t.Errorf("CheckName(%q) error matches ErrMismatch too", tt.fileName)
			}

			var typeErr *Error
			if !errors.As(err, &typeErr) {
				t.Fatalf("CheckName(%q) error %T is not *Error", tt.fileName, err)
			}
			if typeErr.Code != CodeNotAllowed {
				t.Errorf("Code = %q, want %q", typeErr.Code, CodeNotAllowed)
			}
			if typeErr.Extension != tt.wantExt {
				t.Errorf("Extension = %q, want %q", typeErr.Extension, tt.wantExt)
			}
			if tt.wantExt != "" && !strings.Contains(typeErr.Error(), displayExtension(tt.wantExt)) {
				t.Errorf("message %q does not name %s", typeErr.Error(), displayExtension(tt.wantExt))
			}
		})
	}
}

func TestCheckNameMessages(t *testing.T) {
	p := newDefaultPolicy(t)

	tests := []struct {
		fileName string
		want     string
	}{
		{fileName: "x.php", want: "file extension .php is not allowed; upload a document, image, audio, video or archive file, or ask the operator to allow .php"},
		{fileName: "evil.php.jpg", want: "file name contains .php, an executable or script extension, before its final extension .jpg; remove .php from the name and upload the file again"},
		{fileName: "photo", want: "file name has no extension after its name, so its type cannot be checked; name the file like report.pdf or photo.jpg and upload it again"},
		{fileName: "x.jp\"g", want: `file extension ".jp\"g" is not allowed`},
	}

	for _, tt := range tests {
		err := p.CheckName(tt.fileName)
		if err == nil {
			t.Errorf("CheckName(%q) = nil, want an error", tt.fileName)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("CheckName(%q) message\n got %s\nwant %s", tt.fileName, err, tt.want)
		}
	}
}

func TestExtension(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{name: "photo.jpg", want: "jpg"},
		{name: "photo.JpEg", want: "jpeg"},
		{name: "backup.tar.gz", want: "gz"},
		{name: "photo", want: ""},
		{name: ".jpg", want: ""},
		{name: "..jpg", want: ""},
		{name: ".config.json", want: "json"},
		{name: "x.", want: ""},
		{name: "", want: ""},
		{name: "film.M\u212aV", want: "m\u212av"},
	}

	for _, tt := range tests {
		if got := Extension(tt.name); got != tt.want {
			t.Errorf("Extension(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestNewPolicyAllow(t *testing.T) {
	tests := []struct {
		name     string
		allow    []string
		fileName string
		content  []byte
		want     string
	}{
		{name: "svg alone", allow: []string{"svg"}, fileName: "logo.svg", content: scriptSVG, want: octetStream},
		{name: "svg with dot and capitals", allow: []string{".SVG"}, fileName: "logo.svg", content: scriptSVG, want: octetStream},
		{name: "svg with its type", allow: []string{"svg:image/svg+xml"}, fileName: "logo.svg", content: scriptSVG, want: octetStream},
		{name: "html alone", allow: []string{"html"}, fileName: "page.html", content: pageHTML, want: octetStream},
		{name: "html fragment", allow: []string{"html"}, fileName: "frag.html", content: inlineHTML, want: octetStream},
		{name: "xml alone", allow: []string{"xml"}, fileName: "data.xml", content: pageXHTML[:21], want: octetStream},
		{name: "js alone", allow: []string{"js"}, fileName: "a.js", content: plainJS, want: octetStream},
		{name: "heic already allowed", allow: []string{"heic"}, fileName: "IMG.heic", content: isoMedia("heic", "mif1", "heic"), want: "image/heic"},
		{name: "new extension with type", allow: []string{"stl:application/octet-stream"}, fileName: "part.stl", content: randomBytes(100), want: octetStream},
		{name: "widen txt with html", allow: []string{"txt:text/html"}, fileName: "page.txt", content: pageHTML, want: "text/html; charset=utf-8"},
		{name: "alias canonicalised", allow: []string{"bin:application/x-zip"}, fileName: "data.bin", content: plainZip(t), want: "application/zip"},
		{name: "php allows inner php", allow: []string{"php"}, fileName: "evil.php.jpg", content: sampleJPEG(t), want: "image/jpeg"},
		{name: "spaces around entry", allow: []string{"  svg : image/svg+xml "}, fileName: "logo.svg", content: scriptSVG, want: octetStream},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(tt.allow, nil)
			if err != nil {
				t.Fatalf("NewPolicy(%q) error = %v", tt.allow, err)
			}

			got, err := checkUpload(p, tt.fileName, tt.content)
			if err != nil {
				t.Fatalf("check %s error = %v, want nil", tt.fileName, err)
			}
			if got != tt.want {
				t.Errorf("check %s = %q, want %q", tt.fileName, got, tt.want)
			}
		})
	}
}

func TestNewPolicyDeny(t *testing.T) {
	tests := []struct {
		name     string
		allow    []string
		deny     []string
		fileName string
	}{
		{name: "deny a default", deny: []string{"pdf"}, fileName: "report.pdf"},
		{name: "deny with dot and capitals", deny: []string{".PDF"}, fileName: "report.pdf"},
		{name: "deny wins over allow", allow: []string{"svg"}, deny: []string{"svg"}, fileName: "logo.svg"},
		{name: "denied inner extension stays refused", allow: []string{"php"}, deny: []string{"php"}, fileName: "evil.php.jpg"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(tt.allow, tt.deny)
			if err != nil {
				t.Fatalf("NewPolicy error = %v", err)
			}

			if err := p.CheckName(tt.fileName); !errors.Is(err, ErrNotAllowed) {
				t.Errorf("CheckName(%q) error = %v, want ErrNotAllowed", tt.fileName, err)
			}
		})
	}
}

func TestNewPolicyDenyUnknownIsNoOp(t *testing.T) {
	p, err := NewPolicy(nil, []string{"exe", "stl"})
	if err != nil {
		t.Fatalf("NewPolicy error = %v", err)
	}

	if got, want := len(p.Extensions()), len(defaultAllowlist); got != want {
		t.Errorf("len(Extensions()) = %d, want %d", got, want)
	}
}

func TestNewPolicyInvalidEntries(t *testing.T) {
	tests := []struct {
		name  string
		allow []string
		deny  []string
		want  string // part of the error message
	}{
		{name: "empty allow", allow: []string{""}, want: `invalid allow entry ""`},
		{name: "double extension", allow: []string{"tar.gz"}, want: "write gz rather than tar.gz"},
		{name: "unknown type", allow: []string{"svg:image/svg"}, want: "never reports image/svg"},
		{name: "type with parameters", allow: []string{"txt:text/plain; charset=utf-8"}, want: "without parameters"},
		{name: "not a media type", allow: []string{"x:notatype"}, want: `"notatype" is not a media type`},
		{name: "empty type", allow: []string{"svg:"}, want: "is not a media type"},
		{name: "no default type", allow: []string{"stl"}, want: "stl:application/octet-stream"},
		{name: "space inside", allow: []string{"sv g"}, want: "only letters, digits"},
		{name: "too long", allow: []string{strings.Repeat("x", 33)}, want: "longer than 32"},
		{name: "control character", allow: []string{"sv\ng"}, want: "only letters, digits"},
		{name: "second entry named", allow: []string{"svg", "b@d"}, want: `"b@d"`},
		{name: "deny with type", deny: []string{"svg:image/svg+xml"}, want: "give an extension only"},
		{name: "empty deny", deny: []string{""}, want: `invalid deny entry ""`},
		{name: "dotted deny", deny: []string{"tar.gz"}, want: `invalid deny entry "tar.gz"`},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(tt.allow, tt.deny)
			if err == nil {
				t.Fatalf("NewPolicy(%q, %q) = %v, want an error", tt.allow, tt.deny, p)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestNewPolicyDoesNotShareDefaults(t *testing.T) {
	widened, err := NewPolicy([]string{"txt:text/html"}, nil)
	if err != nil {
		t.Fatalf("NewPolicy error = %v", err)
	}
	if !slices.Contains(widened.allowed["txt"], "text/html") {
		t.Fatalf("widened policy does not accept text/html for txt")
	}

	plain := newDefaultPolicy(t)
	if _, err := plain.CheckContent("txt", pageHTML); !errors.Is(err, ErrMismatch) {
		t.Errorf("default policy after widening another: error = %v, want ErrMismatch", err)
	}
	if slices.Contains(textTypes, "text/html") {
		t.Errorf("textTypes was modified: %v", textTypes)
	}
}

func TestExtensionsSorted(t *testing.T) {
	p := newDefaultPolicy(t)

	got := p.Extensions()
	if !slices.IsSorted(got) {
		t.Errorf("Extensions() is not sorted: %v", got)
	}
	for _, ext := range []string{"pdf", "jpg", "zip", "json", "mkv"} {
		if !slices.Contains(got, ext) {
			t.Errorf("Extensions() lacks %q", ext)
		}
	}
	for _, ext := range []string{"svg", "html", "xml", "js", "exe", "php"} {
		if slices.Contains(got, ext) {
			t.Errorf("Extensions() contains %q", ext)
		}
	}
}

func TestDefaultAllowlistHasNoActiveContent(t *testing.T) {
	for ext, types := range defaultAllowlist {
		if executableExtensions[ext] || activeContentExtensions[ext] {
			t.Errorf("default allowlist contains the active extension %q", ext)
		}
		for _, mediaType := range types {
			if isActiveType(mediaType) {
				t.Errorf("default allowlist accepts %s for %q", mediaType, ext)
			}
		}
	}
}

func TestAllowlistTypesAreDetectable(t *testing.T) {
	lists := map[string]map[string][]string{
		"defaultAllowlist":  defaultAllowlist,
		"optionalAllowlist": optionalAllowlist,
	}

	for listName, list := range lists {
		for ext, types := range list {
			for _, mediaType := range types {
				known := mimetype.Lookup(mediaType)
				if known == nil {
					t.Errorf("%s[%q]: mimetype cannot detect %s", listName, ext, mediaType)
					continue
				}
				if known.String() != mediaType {
					t.Errorf("%s[%q]: %s is an alias of %s, which detection returns", listName, ext, mediaType, known.String())
				}
			}
		}
	}
}

func TestErrorIs(t *testing.T) {
	notAllowedErr := &Error{Code: CodeNotAllowed}
	mismatchErr := &Error{Code: CodeMismatch}

	if !errors.Is(notAllowedErr, ErrNotAllowed) {
		t.Errorf("type_not_allowed error does not match ErrNotAllowed")
	}
	if errors.Is(notAllowedErr, ErrMismatch) {
		t.Errorf("type_not_allowed error matches ErrMismatch")
	}
	if !errors.Is(mismatchErr, ErrMismatch) {
		t.Errorf("type_mismatch error does not match ErrMismatch")
	}
	if errors.Is(mismatchErr, ErrNotAllowed) {
		t.Errorf("type_mismatch error matches ErrNotAllowed")
	}
}

// isActiveType reports whether a browser could run content of mediaType.
func isActiveType(mediaType string) bool {
	switch mediaType {
	case "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
		"text/javascript", "application/javascript", "text/x-php", "text/x-shellscript",
		"text/x-python", "text/x-perl", "text/x-ruby", "text/x-lua", "text/x-tcl",
		"application/java-archive", "application/vnd.android.package-archive",
		"application/vnd.microsoft.portable-executable", "application/x-ms-installer",
		"application/x-elf", "application/x-executable", "application/x-sharedlib",
		"application/x-mach-binary", "application/x-java-applet", "application/postscript":
		return true
	}
	return false
}
