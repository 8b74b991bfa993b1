package filetype

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const (
	typeDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	typeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	typePPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	typeODT  = "application/vnd.oasis.opendocument.text"
	typeODS  = "application/vnd.oasis.opendocument.spreadsheet"
	typeODP  = "application/vnd.oasis.opendocument.presentation"
	utf8Text = "text/plain; charset=utf-8"
)

func newDefaultPolicy(t testing.TB) *Policy {
	t.Helper()

	p, err := NewPolicy(nil, nil)
	if err != nil {
		t.Fatalf("NewPolicy(nil, nil) error = %v", err)
	}
	return p
}

// checkUpload runs both checks the way the upload pipeline does: the name
// first, then the content under the name's extension.
func checkUpload(p *Policy, name string, content []byte) (string, error) {
	if err := p.CheckName(name); err != nil {
		return "", err
	}
	return p.CheckContent(Extension(name), content)
}

type uploadCase struct {
	name     string
	fileName string
	content  []byte
	want     string // stored content type when accepted
	wantErr  error  // ErrNotAllowed, ErrMismatch or nil
}

func runUploadCases(t *testing.T, p *Policy, tests []uploadCase) {
	t.Helper()

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkUpload(p, tt.fileName, tt.content)

			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("check %s: error = %v, want %v (content type %q)", tt.fileName, err, tt.wantErr, got)
				}
				if got != "" {
					t.Errorf("check %s: content type = %q with an error, want empty", tt.fileName, got)
				}
				return
			}

			if err != nil {
				t.Fatalf("check %s: error = %v, want nil", tt.fileName, err)
			}
			if got != tt.want {
				t.Errorf("check %s: content type = %q, want %q", tt.fileName, got, tt.want)
			}
		})
	}
}

func TestEverydayTypesAccepted(t *testing.T) {
	p := newDefaultPolicy(t)

	tests := []uploadCase{
		// Documents.
		{name: "pdf", fileName: "report.pdf", content: minimalPDF, want: "application/pdf"},
		{name: "pdf with JavaScript", fileName: "js.pdf", content: jsPDF, want: "application/pdf"},
		{name: "txt", fileName: "notes.txt", content: sampleText, want: utf8Text},
		{name: "log", fileName: "server.log", content: sampleLog, want: utf8Text},
		{name: "md", fileName: "README.md", content: sampleMarkdown, want: utf8Text},
		{name: "csv", fileName: "prices.csv", content: sampleCSV, want: "text/csv"},
		{name: "tsv", fileName: "prices.tsv", content: sampleTSV, want: "text/tab-separated-values"},
		{name: "csv of one line", fileName: "one.csv", content: []byte("a,b,c\n"), want: utf8Text},
		{name: "json", fileName: "export.json", content: sampleJSON, want: "application/json"},
		{name: "rtf", fileName: "letter.rtf", content: sampleRTF, want: "text/rtf"},
		{name: "docx", fileName: "report.docx", content: ooxml(t, wordDocument, nil, nil), want: typeDOCX},
		{name: "xlsx", fileName: "budget.xlsx", content: ooxml(t, excelWorkbook, nil, nil), want: typeXLSX},
		{name: "pptx", fileName: "talk.pptx", content: ooxml(t, powerPointPresentation, nil, nil), want: typePPTX},
		{name: "odt", fileName: "report.odt", content: sampleODT(t, typeODT), want: typeODT},
		{name: "ods", fileName: "budget.ods", content: sampleODT(t, typeODS), want: typeODS},
		{name: "odp", fileName: "talk.odp", content: sampleODT(t, typeODP), want: typeODP},
		{name: "epub", fileName: "book.epub", content: sampleEPUB(t), want: "application/epub+zip"},
		{name: "doc", fileName: "old.doc", content: compoundFile(make([]byte, 16), "WordDocument", 0), want: "application/msword"},
		{name: "xls", fileName: "old.xls", content: compoundFile(make([]byte, 16), "Workbook", 0), want: "application/vnd.ms-excel"},
		{name: "ppt", fileName: "old.ppt", content: compoundFile(make([]byte, 16), "PowerPoint Document", 0), want: "application/vnd.ms-powerpoint"},
		{name: "doc directory beyond head", fileName: "long.doc", content: compoundFile(make([]byte, 16), "WordDocument", 10), want: "application/x-ole-storage"},

		// Images.
		{name: "png", fileName: "photo.png", content: samplePNG(t), want: "image/png"},
		{name: "jpg", fileName: "photo.jpg", content: sampleJPEG(t), want: "image/jpeg"},
		{name: "jpeg", fileName: "photo.jpeg", content: sampleJPEG(t), want: "image/jpeg"},
		{name: "gif", fileName: "anim.gif", content: sampleGIF(t), want: "image/gif"},
		{name: "webp", fileName: "photo.webp", content: sampleWebP(), want: "image/webp"},
		{name: "heic", fileName: "IMG_0001.heic", content: isoMedia("heic", "mif1", "heic"), want: "image/heic"},
		{name: "heif", fileName: "photo.heif", content: isoMedia("mif1", "mif1", "heic"), want: "image/heif"},
		{name: "heic with mif1 brand", fileName: "IMG_0002.heic", content: isoMedia("mif1", "mif1", "heic"), want: "image/heif"},
		{name: "avif", fileName: "photo.avif", content: isoMedia("avif", "avif", "mif1", "miaf"), want: "image/avif"},
		{name: "bmp", fileName: "icon.bmp", content: sampleBMP(), want: "image/bmp"},
		{name: "tif", fileName: "scan.tif", content: sampleTIFF(), want: "image/tiff"},
		{name: "tiff", fileName: "scan.tiff", content: sampleTIFF(), want: "image/tiff"},

		// Audio.
		{name: "mp3 with ID3 tag", fileName: "song.mp3", content: sampleMP3(), want: "audio/mpeg"},
		{name: "mp3 without tag", fileName: "bare.mp3", content: bareMP3(), want: "audio/mpeg"},
		{name: "m4a", fileName: "song.m4a", content: isoMedia("M4A ", "M4A ", "mp42", "isom"), want: "audio/x-m4a"},
		{name: "aac", fileName: "song.aac", content: sampleAAC(), want: "audio/aac"},
		{name: "wav", fileName: "beep.wav", content: sampleWAV(), want: "audio/wav"},
		{name: "flac", fileName: "song.flac", content: sampleFLAC(), want: "audio/flac"},
		{name: "ogg vorbis", fileName: "song.ogg", content: sampleVorbis(), want: "audio/ogg"},
		{name: "oga", fileName: "song.oga", content: sampleVorbis(), want: "audio/ogg"},
		{name: "opus", fileName: "voice.opus", content: sampleOpus(), want: "audio/ogg"},

		// Video.
		{name: "mp4", fileName: "clip.mp4", content: isoMedia("isom", "isom", "iso2", "avc1", "mp41"), want: "video/mp4"},
		{name: "m4v", fileName: "clip.m4v", content: isoMedia("M4V ", "M4V ", "M4A ", "mp42", "isom"), want: "video/x-m4v"},
		{name: "mov", fileName: "clip.mov", content: isoMedia("qt  ", "qt  "), want: "video/quicktime"},
		{name: "webm", fileName: "clip.webm", content: matroska("webm"), want: "video/webm"},
		{name: "mkv", fileName: "film.mkv", content: matroska("matroska"), want: "video/matroska"},
		{name: "avi", fileName: "old.avi", content: sampleAVI(), want: "video/x-msvideo"},

		// Archives.
		{name: "zip", fileName: "bundle.zip", content: plainZip(t), want: "application/zip"},
		{name: "docx renamed to zip", fileName: "report.zip", content: ooxml(t, wordDocument, nil, nil), want: typeDOCX},
		{name: "7z", fileName: "bundle.7z", content: sample7z(), want: "application/x-7z-compressed"},
		{name: "tar", fileName: "bundle.tar", content: sampleTar(t), want: "application/x-tar"},
		{name: "gz", fileName: "notes.txt.gz", content: sampleGzip(t), want: "application/gzip"},
		{name: "tgz", fileName: "bundle.tgz", content: sampleGzip(t), want: "application/gzip"},
		{name: "bz2", fileName: "notes.txt.bz2", content: sampleBZ2, want: "application/x-bzip2"},
		{name: "xz", fileName: "notes.txt.xz", content: sampleXZ, want: "application/x-xz"},
		{name: "zst", fileName: "notes.txt.zst", content: sampleZstd, want: "application/zstd"},
		{name: "rar", fileName: "bundle.rar", content: sampleRAR(), want: "application/vnd.rar"},
	}

	runUploadCases(t, p, tests)
}

func TestHostileContent(t *testing.T) {
	p := newDefaultPolicy(t)

	tests := []uploadCase{
		// SVG with script.
		{name: "svg as png", fileName: "x.png", content: scriptSVG, wantErr: ErrMismatch},
		{name: "svg as jpg", fileName: "x.jpg", content: scriptSVG, wantErr: ErrMismatch},
		{name: "svg as txt", fileName: "x.txt", content: scriptSVG, wantErr: ErrMismatch},
		{name: "svg as svg", fileName: "x.svg", content: scriptSVG, wantErr: ErrNotAllowed},
		{name: "svg as svgz", fileName: "x.svgz", content: scriptSVG, wantErr: ErrNotAllowed},
		{name: "svg as xml", fileName: "x.xml", content: scriptSVG, wantErr: ErrNotAllowed},

		// HTML: full documents are caught, fragments are plain text.
		{name: "html fragment as html", fileName: "x.html", content: inlineHTML, wantErr: ErrNotAllowed},
		{name: "html fragment as htm", fileName: "x.htm", content: inlineHTML, wantErr: ErrNotAllowed},
		{name: "html fragment as xhtml", fileName: "x.xhtml", content: inlineHTML, wantErr: ErrNotAllowed},
		{name: "html fragment as shtml", fileName: "x.shtml", content: inlineHTML, wantErr: ErrNotAllowed},
		{name: "html fragment without extension", fileName: "x", content: inlineHTML, wantErr: ErrNotAllowed},
		{name: "html fragment as txt", fileName: "x.txt", content: inlineHTML, want: utf8Text},
		{name: "html fragment as TXT", fileName: "x.TXT", content: inlineHTML, want: utf8Text},
		{name: "html page as txt", fileName: "page.txt", content: pageHTML, wantErr: ErrMismatch},
		{name: "html page as jpg", fileName: "page.jpg", content: pageHTML, wantErr: ErrMismatch},
		{name: "html page as png", fileName: "page.png", content: pageHTML, wantErr: ErrMismatch},
		{name: "html page as pdf", fileName: "page.pdf", content: pageHTML, wantErr: ErrMismatch},
		{name: "html page as csv", fileName: "page.csv", content: pageHTML, wantErr: ErrMismatch},
		{name: "html page as md", fileName: "page.md", content: pageHTML, wantErr: ErrMismatch},
		{name: "html page as json", fileName: "page.json", content: pageHTML, wantErr: ErrMismatch},
		{name: "markdown opening with div", fileName: "README.md", content: []byte("<div align=\"center\">\n\n# Title\n</div>\n"), wantErr: ErrMismatch},
		{name: "markdown opening with comment", fileName: "README.md", content: []byte("<!-- generated -->\n# Title\n"), wantErr: ErrMismatch},
		{name: "xhtml as txt", fileName: "page.txt", content: pageXHTML, wantErr: ErrMismatch},
		{name: "xhtml as jpg", fileName: "page.jpg", content: pageXHTML, wantErr: ErrMismatch},

		// Scripts and programs.
		{name: "javascript as js", fileName: "a.js", content: plainJS, wantErr: ErrNotAllowed},
		{name: "javascript as mjs", fileName: "a.mjs", content: plainJS, wantErr: ErrNotAllowed},
		{name: "javascript as cjs", fileName: "a.cjs", content: plainJS, wantErr: ErrNotAllowed},
		{name: "javascript as txt", fileName: "a.txt", content: plainJS, want: utf8Text},
		{name: "php as txt", fileName: "php.txt", content: phpTXT, wantErr: ErrMismatch},
		{name: "php as jpg", fileName: "php.jpg", content: phpTXT, wantErr: ErrMismatch},
		{name: "shell script as txt", fileName: "shell.txt", content: shellTXT, wantErr: ErrMismatch},
		{name: "python script as md", fileName: "notes.md", content: pythonTXT, wantErr: ErrMismatch},
		{name: "elf as pdf", fileName: "tool.pdf", content: elfStub, wantErr: ErrMismatch},
		{name: "elf as txt", fileName: "tool.txt", content: elfStub, wantErr: ErrMismatch},
		{name: "pe as jpg", fileName: "setup.jpg", content: peStub, wantErr: ErrMismatch},
		{name: "pe as zip", fileName: "setup.zip", content: peStub, wantErr: ErrMismatch},
		{name: "installer as doc", fileName: "setup.doc", content: compoundFile(msiCLSID, "Installer", 0), wantErr: ErrMismatch},

		// HTML after a real image header is the image.
		{name: "html inside jpeg", fileName: "h14.jpg", content: htmlInJPEG(), want: "image/jpeg"},

		// Zip, Office and JAR confusion.
		{name: "xl folder zip as xlsx", fileName: "report.xlsx", content: xlFolderZip(t), want: typeXLSX},
		{name: "xl folder zip as zip", fileName: "bundle.zip", content: xlFolderZip(t), want: typeXLSX},
		{name: "plain zip as docx", fileName: "report.docx", content: plainZip(t), wantErr: ErrMismatch},
		{name: "plain zip as xlsx", fileName: "report.xlsx", content: plainZip(t), wantErr: ErrMismatch},
		{name: "plain zip as odt", fileName: "report.odt", content: plainZip(t), wantErr: ErrMismatch},
		{name: "plain zip as epub", fileName: "book.epub", content: plainZip(t), wantErr: ErrMismatch},
		{name: "plain zip as zip", fileName: "bundle.zip", content: plainZip(t), want: "application/zip"},
		{name: "jar as zip", fileName: "app.zip", content: javaArchive(t), wantErr: ErrMismatch},
		{name: "jar as jar", fileName: "app.jar", content: javaArchive(t), wantErr: ErrNotAllowed},
		{name: "docx as xlsx", fileName: "report.xlsx", content: ooxml(t, wordDocument, nil, nil), wantErr: ErrMismatch},

		// GIF with a zip appended.
		{name: "gifar as gif", fileName: "gifar.gif", content: gifar(t), want: "image/gif"},
		{name: "gifar as zip", fileName: "gifar.zip", content: gifar(t), wantErr: ErrMismatch},
		{name: "gifar as jar", fileName: "gifar.jar", content: gifar(t), wantErr: ErrNotAllowed},

		// ImageMagick script disguised as an image.
		{name: "mvg as jpg", fileName: "b.jpg", content: mvgScript, wantErr: ErrMismatch},
		{name: "mvg as png", fileName: "b.png", content: mvgScript, wantErr: ErrMismatch},
		{name: "mvg as gif", fileName: "b.gif", content: mvgScript, wantErr: ErrMismatch},
		{name: "mvg as mvg", fileName: "b.mvg", content: mvgScript, wantErr: ErrNotAllowed},
		{name: "mvg as ps", fileName: "b.ps", content: mvgScript, wantErr: ErrNotAllowed},
		{name: "mvg as eps", fileName: "b.eps", content: mvgScript, wantErr: ErrNotAllowed},
		{name: "mvg as svg", fileName: "b.svg", content: mvgScript, wantErr: ErrNotAllowed},

		// Text under a binary extension.
		{name: "text as pdf", fileName: "notes.pdf", content: sampleText, wantErr: ErrMismatch},
		{name: "text as mp3", fileName: "song.mp3", content: sampleText, wantErr: ErrMismatch},
		{name: "random bytes as mp4", fileName: "clip.mp4", content: randomBytes(512), wantErr: ErrMismatch},

		// Empty files are plain text.
		{name: "empty txt", fileName: "empty.txt", content: nil, want: "text/plain"},
		{name: "empty csv", fileName: "empty.csv", content: nil, want: "text/plain"},
		{name: "empty json", fileName: "empty.json", content: nil, want: "text/plain"},
		{name: "empty pdf", fileName: "empty.pdf", content: nil, wantErr: ErrMismatch},
		{name: "empty jpg", fileName: "empty.jpg", content: nil, wantErr: ErrMismatch},
		{name: "empty zip", fileName: "empty.zip", content: nil, wantErr: ErrMismatch},
	}

	runUploadCases(t, p, tests)
}

func TestCheckContentMismatchMessage(t *testing.T) {
	p := newDefaultPolicy(t)

	tests := []struct {
		name         string
		ext          string
		content      []byte
		wantDetected string
		wantMessage  []string
	}{
		{
			name:         "html as jpg",
			ext:          "jpg",
			content:      pageHTML,
			wantDetected: "text/html",
			wantMessage:  []string{".jpg", "looks like HTML (text/html)", "rename it with the right extension or upload a different file"},
		},
		{
			name:         "jar as zip",
			ext:          "zip",
			content:      javaArchive(t),
			wantDetected: "application/java-archive",
			wantMessage:  []string{".zip", "a Java archive (application/java-archive)"},
		},
		{
			name:         "mvg as jpg",
			ext:          "jpg",
			content:      mvgScript,
			wantDetected: "text/plain",
			wantMessage:  []string{".jpg", "plain text (text/plain)"},
		},
		{
			name:         "unknown bytes",
			ext:          "mp4",
			content:      randomBytes(512),
			wantDetected: "application/octet-stream",
			wantMessage:  []string{".mp4", "not a file type the server recognises"},
		},
		{
			name:         "empty",
			ext:          "pdf",
			content:      nil,
			wantDetected: "text/plain",
			wantMessage:  []string{"the file is empty", "cannot be a .pdf file", "upload it again"},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.CheckContent(tt.ext, tt.content)

			var typeErr *Error
			if !errors.As(err, &typeErr) {
				t.Fatalf("CheckContent error = %v, want *Error", err)
			}
			if typeErr.Code != CodeMismatch {
				t.Errorf("Code = %q, want %q", typeErr.Code, CodeMismatch)
			}
			if typeErr.Extension != tt.ext {
				t.Errorf("Extension = %q, want %q", typeErr.Extension, tt.ext)
			}
			if typeErr.Detected != tt.wantDetected {
				t.Errorf("Detected = %q, want %q", typeErr.Detected, tt.wantDetected)
			}
			for _, part := range tt.wantMessage {
				if !strings.Contains(typeErr.Error(), part) {
					t.Errorf("message %q does not contain %q", typeErr.Error(), part)
				}
			}
		})
	}
}

func TestCheckContentExtensionForms(t *testing.T) {
	p := newDefaultPolicy(t)
	jpeg := sampleJPEG(t)

	for _, ext := range []string{"jpg", ".jpg", "JPG", ".JpEg"} {
		got, err := p.CheckContent(ext, jpeg)
		if err != nil {
			t.Errorf("CheckContent(%q, jpeg) error = %v, want nil", ext, err)
			continue
		}
		if got != "image/jpeg" {
			t.Errorf("CheckContent(%q, jpeg) = %q, want image/jpeg", ext, got)
		}
	}
}

func TestCheckContentRejectsUnknownExtension(t *testing.T) {
	p := newDefaultPolicy(t)

	for _, ext := range []string{"", "exe", "svg", "html", "j\u212apg"} {
		_, err := p.CheckContent(ext, sampleText)
		if !errors.Is(err, ErrNotAllowed) {
			t.Errorf("CheckContent(%q) error = %v, want ErrNotAllowed", ext, err)
		}
	}
}

func TestCheckContentLongFile(t *testing.T) {
	p := newDefaultPolicy(t)

	// A JPEG followed by a megabyte of HTML is still a JPEG.
	content := concat(sampleJPEG(t), bytes.Repeat([]byte("<html><script>alert(1)</script></html>"), 1<<15))

	got, err := p.CheckContent("jpg", content)
	if err != nil {
		t.Fatalf("CheckContent error = %v", err)
	}
	if got != "image/jpeg" {
		t.Errorf("CheckContent = %q, want image/jpeg", got)
	}
}

func TestCharsetKeptForText(t *testing.T) {
	p := newDefaultPolicy(t)

	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{name: "ascii", content: []byte("plain words\n"), want: "text/plain; charset=utf-8"},
		{name: "utf-8 bom", content: []byte("\xef\xbb\xbfplain words\n"), want: "text/plain; charset=utf-8"},
		{name: "utf-16le bom", content: []byte("\xff\xfep\x00l\x00a\x00i\x00n\x00"), want: "text/plain; charset=utf-16le"},
		{name: "latin-1", content: []byte("caf\xe9 cr\xe8me\n"), want: "text/plain; charset=iso-8859-1"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.CheckContent("txt", tt.content)
			if err != nil {
				t.Fatalf("CheckContent error = %v", err)
			}
			if got != tt.want {
				t.Errorf("CheckContent = %q, want %q", got, tt.want)
			}
		})
	}
}
