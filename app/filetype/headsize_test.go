package filetype

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// headSample is a file and the type detection must find in its head.
type headSample struct {
	name    string
	content []byte
	want    string
}

func headSamples(t *testing.T) []headSample {
	// A large, incompressible part after the main part makes each package
	// much longer than HeadSize, as real documents with pictures are.
	picture := []zipEntry{{name: "media/image1.png", data: randomBytes(64 << 10), store: true}}

	return []headSample{
		{name: "docx", content: ooxml(t, wordDocument, nil, picture), want: typeDOCX},
		{name: "xlsx", content: ooxml(t, excelWorkbook, nil, picture), want: typeXLSX},
		{name: "pptx", content: ooxml(t, powerPointPresentation, nil, picture), want: typePPTX},
		{name: "odt", content: concat(sampleODT(t, typeODT), randomBytes(64<<10)), want: typeODT},
		{name: "epub", content: concat(sampleEPUB(t), randomBytes(64<<10)), want: "application/epub+zip"},
		{name: "jar", content: concat(javaArchive(t), randomBytes(64<<10)), want: "application/java-archive"},
		{name: "mp4", content: concat(isoMedia("isom", "isom", "mp41"), randomBytes(64<<10)), want: "video/mp4"},
		{name: "mov", content: concat(isoMedia("qt  ", "qt  "), randomBytes(64<<10)), want: "video/quicktime"},
		{name: "heic", content: concat(isoMedia("heic", "mif1", "heic"), randomBytes(64<<10)), want: "image/heic"},
		{name: "mkv", content: concat(matroska("matroska"), randomBytes(64<<10)), want: "video/matroska"},
		{name: "webm", content: concat(matroska("webm"), randomBytes(64<<10)), want: "video/webm"},
		{name: "ogg", content: concat(sampleVorbis(), randomBytes(64<<10)), want: "audio/ogg"},
		{name: "flac", content: concat(sampleFLAC(), randomBytes(64<<10)), want: "audio/flac"},
		{name: "wav", content: concat(sampleWAV(), randomBytes(64<<10)), want: "audio/wav"},
		{name: "mp3", content: concat(sampleMP3(), randomBytes(64<<10)), want: "audio/mpeg"},
		{name: "png", content: concat(samplePNG(t), randomBytes(64<<10)), want: "image/png"},
		{name: "pdf", content: concat(minimalPDF, randomBytes(64<<10)), want: "application/pdf"},
		{name: "doc", content: concat(compoundFile(make([]byte, 16), "WordDocument", 0), randomBytes(64<<10)), want: "application/msword"},
		{name: "tar", content: concat(sampleTar(t), randomBytes(64<<10)), want: "application/x-tar"},
	}
}

// TestHeadSizeCoversSamples checks that the first HeadSize bytes of each
// long sample are enough, and logs the shortest prefix that detection
// needs (run with -v to see the figures).
func TestHeadSizeCoversSamples(t *testing.T) {
	for _, sample := range headSamples(t) {
		t.Run(sample.name, func(t *testing.T) {
			if len(sample.content) <= HeadSize {
				t.Fatalf("sample is %d bytes, want it longer than HeadSize", len(sample.content))
			}

			if got, _ := detect(sample.content[:HeadSize]); got != sample.want {
				t.Errorf("detect(first %d bytes) = %s, want %s", HeadSize, got, sample.want)
			}

			needed := shortestPrefix(sample.content, sample.want)
			if needed < 0 || needed > HeadSize {
				t.Errorf("detection needs %d bytes, want at most HeadSize (%d)", needed, HeadSize)
			}
			t.Logf("%s: detected from the first %d bytes", sample.name, needed)
		})
	}
}

// shortestPrefix returns the length of the shortest prefix of content from
// which detection reports want, or -1 when no prefix up to HeadSize does.
func shortestPrefix(content []byte, want string) int {
	for n := 1; n <= min(len(content), HeadSize); n++ {
		if got, _ := detect(content[:n]); got == want {
			return n
		}
	}
	return -1
}

// TestHeadOfLongTextIsTruncated checks that mimetype's read limit is not
// above HeadSize. Only then does mimetype treat a head of HeadSize bytes as
// the start of a longer file and accept JSON or CSV that the cut leaves
// unfinished.
func TestHeadOfLongTextIsTruncated(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{
			name:    "json",
			content: []byte(`{"rows": [` + strings.Repeat(`{"name": "apple", "quantity": 3}, `, 400) + `{}]}`),
			want:    "application/json",
		},
		{
			name:    "csv",
			content: []byte("name,quantity,price\n" + strings.Repeat("apple,3,0.50\npear,12,0.75\n", 400)),
			want:    "text/csv",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.content) <= 2*HeadSize {
				t.Fatalf("sample is %d bytes, want it much longer than HeadSize", len(tt.content))
			}

			if got, _ := detect(tt.content[:HeadSize]); got != tt.want {
				t.Errorf("detect(first %d bytes) = %s, want %s", HeadSize, got, tt.want)
			}
		})
	}
}

// TestOfficeMainPartBeyondHead pins the limitation noted on HeadSize: an
// Office package whose main folder starts after the head sniffs as a plain
// zip.
func TestOfficeMainPartBeyondHead(t *testing.T) {
	p := newDefaultPolicy(t)
	thumbnail := []zipEntry{{name: "docProps/thumbnail.jpeg", data: randomBytes(2 * HeadSize), store: true}}
	content := ooxml(t, wordDocument, thumbnail, nil)

	_, err := p.CheckContent("docx", content)
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("CheckContent error = %v, want ErrMismatch", err)
	}

	if got, _ := detect(content); got != "application/zip" {
		t.Errorf("detect = %s, want application/zip", got)
	}
	if !bytes.Contains(content[HeadSize:], []byte("word/document.xml")) {
		t.Errorf("sample's main part is not beyond HeadSize")
	}
}
