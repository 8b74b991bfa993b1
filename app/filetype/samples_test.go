package filetype

// Builders for the file samples the tests sniff. Each everyday sample is a
// real file, or the real start of one, written here so the repository holds
// no opaque binaries. The hostile samples reproduce, byte for byte where it
// matters, the inputs of the project's hostile-upload cases.

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"
	"unicode/utf16"
)

// Hostile samples.
var (
	minimalGIF  = []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	minimalJPEG = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\xff\xd9")
	minimalPDF  = []byte("%PDF-1.4\n%%EOF\n")

	scriptSVG  = []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><script>alert(1)</script></svg>`)
	inlineHTML = []byte(`<h3 onclick="alert(document.domain)">x</h3><script>alert(1)</script>`)
	pageHTML   = []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n")
	pageXHTML  = []byte(`<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>`)
	plainJS    = []byte("alert(document.domain)")
	shellTXT   = []byte("#!/bin/sh\necho hi\n")
	phpTXT     = []byte("<?php system($_GET['c']); ?>\n")
	pythonTXT  = []byte("#!/usr/bin/env python3\nimport os\nos.system('id')\n")

	// An ImageMagick vector-graphics script that runs a shell command in an
	// unpatched converter.
	mvgScript = []byte("push graphic-context\nviewbox 0 0 640 480\n" +
		"fill 'url(https://127.0.0.1/x.jpg\"|touch \"/tmp/h18_pwned)'\npop graphic-context\n")

	// Headers only: neither is a runnable program.
	elfStub = append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 57)...)
	peStub  = append([]byte("MZ\x90\x00"), make([]byte, 60)...)

	jsPDF = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction 3 0 R>>endobj\n" +
		"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" +
		"3 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
)

// htmlInJPEG is a JPEG with an HTML document between its header and its end
// marker.
func htmlInJPEG() []byte {
	return concat(minimalJPEG[:len(minimalJPEG)-2], []byte("<html><script>alert(1)</script></html>"), minimalJPEG[len(minimalJPEG)-2:])
}

// xlFolderZip is a plain zip whose only entry sits in an xl/ folder, which
// mimetype takes for an Excel workbook.
func xlFolderZip(t testing.TB) []byte {
	return buildZip(t, zipEntry{name: "xl/a", data: []byte("x"), store: true})
}

// plainZip is a zip holding one ELF header.
func plainZip(t testing.TB) []byte {
	return buildZip(t, zipEntry{name: "tool", data: elfStub})
}

// javaArchive is a JAR: a zip whose first entry is the manifest.
func javaArchive(t testing.TB) []byte {
	return buildZip(t,
		zipEntry{name: "META-INF/MANIFEST.MF", data: []byte("Manifest-Version: 1.0\nMain-Class: A\n")},
		zipEntry{name: "A.class", data: []byte("\xca\xfe\xba\xbe\x00\x00\x00\x34")},
	)
}

// gifar is a GIF with a zip archive appended: a valid GIF from the start
// and a valid zip from the end.
func gifar(t testing.TB) []byte {
	return concat(minimalGIF, buildZip(t, zipEntry{name: "a.txt", data: []byte("x")}))
}

// Everyday samples.

func samplePNG(t testing.TB) []byte {
	return encodeImage(t, func(b *bytes.Buffer, img image.Image) error { return png.Encode(b, img) })
}

func sampleJPEG(t testing.TB) []byte {
	return encodeImage(t, func(b *bytes.Buffer, img image.Image) error { return jpeg.Encode(b, img, nil) })
}

func sampleGIF(t testing.TB) []byte {
	return encodeImage(t, func(b *bytes.Buffer, img image.Image) error { return gif.Encode(b, img, nil) })
}

func encodeImage(t testing.TB, encode func(*bytes.Buffer, image.Image) error) []byte {
	t.Helper()

	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	img.Set(1, 1, color.RGBA{B: 255, A: 255})

	var b bytes.Buffer
	if err := encode(&b, img); err != nil {
		t.Fatalf("encode image: %v", err)
	}
	return b.Bytes()
}

// sampleWebP is a RIFF/WEBP container with a lossless (VP8L) chunk whose
// header declares a 1x1 image.
func sampleWebP() []byte {
	bitstream := []byte{0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07}
	return riff("WEBP", chunk("VP8L", bitstream))
}

// sampleBMP is a 1x1 24-bit Windows bitmap.
func sampleBMP() []byte {
	const headerSize = 14 + 40
	pixelRow := []byte{0x00, 0x00, 0xff, 0x00} // one red pixel, padded to 4 bytes

	b := le([]byte("BM"), uint32(headerSize+len(pixelRow)), uint32(0), uint32(headerSize))
	b = le(b, uint32(40), int32(1), int32(1), uint16(1), uint16(24), uint32(0), uint32(len(pixelRow)), int32(2835), int32(2835), uint32(0), uint32(0))
	return append(b, pixelRow...)
}

// sampleTIFF is a 1x1 8-bit greyscale little-endian TIFF.
func sampleTIFF() []byte {
	type entry struct {
		tag, kind uint16
		value     uint32
	}
	const short, long = 3, 4
	entries := []entry{
		{256, long, 1},  // ImageWidth
		{257, long, 1},  // ImageLength
		{258, short, 8}, // BitsPerSample
		{259, short, 1}, // Compression: none
		{262, short, 1}, // PhotometricInterpretation: black is zero
		{273, long, 0},  // StripOffsets, set below
		{278, long, 1},  // RowsPerStrip
		{279, long, 1},  // StripByteCounts
	}
	ifdOffset := uint32(8)
	pixelOffset := ifdOffset + 2 + uint32(len(entries))*12 + 4
	entries[5].value = pixelOffset

	b := le([]byte("II*\x00"), ifdOffset, uint16(len(entries)))
	for _, e := range entries {
		b = le(b, e.tag, e.kind, uint32(1))
		if e.kind == short {
			b = le(b, uint16(e.value), uint16(0))
		} else {
			b = le(b, e.value)
		}
	}
	b = le(b, uint32(0)) // no next IFD
	return append(b, 0x80)
}

// isoMedia is the start of an ISO base media file (MP4, MOV, HEIF, AVIF):
// an ftyp box with the given brands, then an empty mdat box.
func isoMedia(major string, compatible ...string) []byte {
	body := concat([]byte(major), be(uint32(0x200)))
	for _, brand := range compatible {
		body = append(body, brand...)
	}
	return concat(box("ftyp", body), box("free", nil), box("mdat", nil))
}

func box(kind string, body []byte) []byte {
	return concat(be(uint32(8+len(body))), []byte(kind), body)
}

// matroska is the EBML header of a Matroska or WebM file with the given
// DocType, followed by the start of an empty Segment.
func matroska(docType string) []byte {
	element := func(id []byte, data []byte) []byte {
		return concat(id, []byte{0x80 | byte(len(data))}, data)
	}
	header := concat(
		element([]byte{0x42, 0x86}, []byte{1}), // EBMLVersion
		element([]byte{0x42, 0xf7}, []byte{1}), // EBMLReadVersion
		element([]byte{0x42, 0xf2}, []byte{4}), // EBMLMaxIDLength
		element([]byte{0x42, 0xf3}, []byte{8}), // EBMLMaxSizeLength
		element([]byte{0x42, 0x82}, []byte(docType)),
		element([]byte{0x42, 0x87}, []byte{4}), // DocTypeVersion
		element([]byte{0x42, 0x85}, []byte{2}), // DocTypeReadVersion
	)
	return concat(element([]byte{0x1a, 0x45, 0xdf, 0xa3}, header), []byte{0x18, 0x53, 0x80, 0x67, 0x80})
}

// sampleAVI is the RIFF header of an AVI file with an empty main header.
func sampleAVI() []byte {
	avih := chunk("avih", make([]byte, 56))
	hdrl := concat([]byte("LIST"), le32(uint32(4+len(avih))), []byte("hdrl"), avih)
	return riff("AVI ", hdrl)
}

// sampleWAV is a mono 8 kHz 16-bit PCM WAV file with eight silent samples.
func sampleWAV() []byte {
	format := le(nil, uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16))
	return riff("WAVE", concat(chunk("fmt ", format), chunk("data", make([]byte, 16))))
}

// sampleMP3 is an ID3v2.3 tag with a title frame, followed by one MPEG-1
// Layer III frame.
func sampleMP3() []byte {
	title := concat([]byte("TIT2"), be(uint32(5)), []byte{0, 0}, []byte("\x00Song"))
	tag := concat([]byte("ID3\x03\x00\x00"), synchsafe(uint32(len(title))), title)
	return concat(tag, bareMP3())
}

// bareMP3 is one MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz) with a
// zero-filled body and no ID3 tag.
func bareMP3() []byte {
	const frameSize = 417 // 144 * 128000 / 44100
	return concat([]byte{0xff, 0xfb, 0x90, 0x64}, make([]byte, frameSize-4))
}

func synchsafe(n uint32) []byte {
	return []byte{byte(n >> 21 & 0x7f), byte(n >> 14 & 0x7f), byte(n >> 7 & 0x7f), byte(n & 0x7f)}
}

// sampleAAC is one ADTS frame: a header for AAC LC at 44.1 kHz in stereo
// and a 9-byte body.
func sampleAAC() []byte {
	return concat([]byte{0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc}, []byte{0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80})
}

// sampleFLAC is the metadata of a FLAC stream: STREAMINFO and a last
// VORBIS_COMMENT block.
func sampleFLAC() []byte {
	streamInfo := make([]byte, 34)
	copy(streamInfo, []byte{0x10, 0x00, 0x10, 0x00}) // block sizes 4096
	copy(streamInfo[10:], []byte{0x0a, 0xc4, 0x40, 0xf0})

	vendor := "test"
	comment := le(le(nil, uint32(len(vendor))), []byte(vendor))
	comment = le(comment, uint32(0))

	return concat([]byte("fLaC"),
		[]byte{0x00, 0x00, 0x00, byte(len(streamInfo))}, streamInfo,
		[]byte{0x84, 0x00, 0x00, byte(len(comment))}, comment)
}

// oggPage is the first page of an Ogg stream carrying one packet, with its
// CRC computed as the Ogg specification describes.
func oggPage(packet []byte) []byte {
	page := concat([]byte("OggS"), []byte{0, 2}, make([]byte, 8), le32(1), le32(0), le32(0), []byte{1, byte(len(packet))}, packet)
	binary.LittleEndian.PutUint32(page[22:], oggCRC(page))
	return page
}

func oggCRC(data []byte) uint32 {
	var crc uint32
	for _, b := range data {
		crc ^= uint32(b) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func sampleVorbis() []byte {
	id := le([]byte("\x01vorbis"), uint32(0), uint8(1), uint32(44100), int32(0), int32(128000), int32(0), uint8(0xb8), uint8(1))
	return oggPage(id)
}

func sampleOpus() []byte {
	id := le([]byte("OpusHead"), uint8(1), uint8(2), uint16(312), uint32(48000), int16(0), uint8(0))
	return oggPage(id)
}

// Compressed samples that Go's standard library cannot write. Each is the
// complete output of the named command for the six bytes "hello\n".
var (
	// printf 'hello\n' | xz -9
	sampleXZ = []byte{
		0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46,
		0x02, 0x00, 0x21, 0x01, 0x1c, 0x00, 0x00, 0x00, 0x10, 0xcf, 0x58, 0xcc,
		0x01, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a, 0x00, 0x00, 0x00,
		0xa5, 0x60, 0x97, 0xf1, 0x94, 0xf6, 0xfd, 0xe0, 0x00, 0x01, 0x1e, 0x06,
		0xc1, 0x2f, 0xa4, 0x1d, 0x1f, 0xb6, 0xf3, 0x7d, 0x01, 0x00, 0x00, 0x00,
		0x00, 0x04, 0x59, 0x5a,
	}
	// printf 'hello\n' | bzip2 -9
	sampleBZ2 = []byte{
		0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0xc1, 0xc0,
		0x80, 0xe2, 0x00, 0x00, 0x01, 0x41, 0x00, 0x00, 0x10, 0x02, 0x44, 0xa0,
		0x00, 0x30, 0xcd, 0x00, 0xc3, 0x46, 0x29, 0x97, 0x17, 0x72, 0x45, 0x38,
		0x50, 0x90, 0xc1, 0xc0, 0x80, 0xe2,
	}
	// printf 'hello\n' | zstd
	sampleZstd = []byte{
		0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x31, 0x00, 0x00, 0x68, 0x65, 0x6c,
		0x6c, 0x6f, 0x0a, 0x53, 0x88, 0xbd, 0x91,
	}
)

// sample7z is an empty 7-Zip archive: the 32-byte signature header with a
// zero-length next header.
func sample7z() []byte {
	startHeader := le(nil, uint64(0), uint64(0), uint32(0))
	return concat([]byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c, 0x00, 0x04}, le32(crc32.ChecksumIEEE(startHeader)), startHeader)
}

// sampleRAR is the RAR 5 signature followed by a main archive header
// without flags.
func sampleRAR() []byte {
	mainHeader := []byte{0x01, 0x00, 0x00} // header type 1 (main), header flags, archive flags
	return concat([]byte("Rar!\x1a\x07\x01\x00"), le32(crc32.ChecksumIEEE(concat([]byte{byte(len(mainHeader))}, mainHeader))), []byte{byte(len(mainHeader))}, mainHeader)
}

func sampleGzip(t testing.TB) []byte {
	t.Helper()

	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte("hello\n")); err != nil {
		t.Fatalf("write gzip: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close gzip: %v", err)
	}
	return b.Bytes()
}

func sampleTar(t testing.TB) []byte {
	t.Helper()

	var b bytes.Buffer
	w := tar.NewWriter(&b)
	content := []byte("hello\n")
	if err := w.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatalf("write tar header: %v", err)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatalf("write tar: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close tar: %v", err)
	}
	return b.Bytes()
}

// Text samples.
var (
	sampleText     = []byte("Meeting notes\n\nBring the quarterly figures.\n")
	sampleCSV      = []byte("name,quantity,price\napple,3,0.50\npear,5,0.75\nplum,12,0.20\n")
	sampleTSV      = []byte("name\tquantity\napple\t3\npear\t5\n")
	sampleMarkdown = []byte("# Release notes\n\n* Faster uploads\n* Fewer *surprises*\n")
	sampleJSON     = []byte(`{"files": [{"name": "a.txt", "size": 6}]}`)
	sampleLog      = []byte("2024-05-01T10:00:00Z INFO server started\n2024-05-01T10:00:01Z WARN disk almost full\n")
	sampleRTF      = []byte(`{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard Hello.\par}`)
)

// Office Open XML packages, laid out as Word, Excel and PowerPoint write
// them: [Content_Types].xml first, then the package relationships, the
// document properties and the main part's folder.

const contentTypesXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/><Override PartName="/%s" ContentType="%s"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>`

const packageRelsXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="%s"/></Relationships>`

const appXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><Template>Normal.dotm</Template><TotalTime>1</TotalTime><Pages>1</Pages><Words>2</Words><Application>Microsoft Office Word</Application><DocSecurity>0</DocSecurity><Lines>1</Lines><Paragraphs>1</Paragraphs><ScaleCrop>false</ScaleCrop><Company></Company><LinksUpToDate>false</LinksUpToDate><CharactersWithSpaces>11</CharactersWithSpaces><SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged><AppVersion>16.0000</AppVersion></Properties>`

const coreXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title></dc:title><dc:creator>Alice</dc:creator><cp:lastModifiedBy>Alice</cp:lastModifiedBy><cp:revision>1</cp:revision><dcterms:created xsi:type="dcterms:W3CDTF">2024-05-01T10:00:00Z</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">2024-05-01T10:00:00Z</dcterms:modified></cp:coreProperties>`

// ooxmlKind names the main part of one Office Open XML format.
type ooxmlKind struct {
	mainPart    string // path of the main part inside the package
	contentType string // content type of the main part
	body        string // XML of the main part
}

var (
	wordDocument = ooxmlKind{
		mainPart:    "word/document.xml",
		contentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
		body:        `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Hello world</w:t></w:r></w:p></w:body></w:document>`,
	}
	excelWorkbook = ooxmlKind{
		mainPart:    "xl/workbook.xml",
		contentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
		body:        `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="Sheet1" sheetId="1"/></sheets></workbook>`,
	}
	powerPointPresentation = ooxmlKind{
		mainPart:    "ppt/presentation.xml",
		contentType: "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
		body:        `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:sldSz cx="12192000" cy="6858000"/></p:presentation>`,
	}
)

// ooxml builds an Office Open XML package. Entries in before go between the
// document properties and the main part, and entries in after follow it.
func ooxml(t testing.TB, kind ooxmlKind, before, after []zipEntry) []byte {
	entries := []zipEntry{
		{name: "[Content_Types].xml", data: []byte(fmt.Sprintf(contentTypesXML, kind.mainPart, kind.contentType))},
		{name: "_rels/.rels", data: []byte(fmt.Sprintf(packageRelsXML, kind.mainPart))},
		{name: "docProps/app.xml", data: []byte(appXML)},
		{name: "docProps/core.xml", data: []byte(coreXML)},
	}
	entries = append(entries, before...)
	entries = append(entries, zipEntry{name: kind.mainPart, data: []byte(kind.body)})
	entries = append(entries, after...)
	return buildZip(t, entries...)
}

// openDocument builds an OpenDocument or EPUB package: an uncompressed
// "mimetype" entry first, with no extra field, as both formats require.
func openDocument(t testing.TB, mediaType string, rest ...zipEntry) []byte {
	entries := append([]zipEntry{{name: "mimetype", data: []byte(mediaType), store: true, raw: true}}, rest...)
	return buildZip(t, entries...)
}

func sampleODT(t testing.TB, mediaType string) []byte {
	return openDocument(t, mediaType,
		zipEntry{name: "META-INF/manifest.xml", data: []byte(`<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="` + mediaType + `"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>`)},
		zipEntry{name: "content.xml", data: []byte(`<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.2"><office:body/></office:document-content>`)},
	)
}

func sampleEPUB(t testing.TB) []byte {
	return openDocument(t, "application/epub+zip",
		zipEntry{name: "META-INF/container.xml", data: []byte(`<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>`)},
		zipEntry{name: "content.opf", data: []byte(`<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"/>`)},
	)
}

type zipEntry struct {
	name  string
	data  []byte
	store bool // no compression
	raw   bool // sizes in the local header and no data descriptor
}

func buildZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()

	var b bytes.Buffer
	w := zip.NewWriter(&b)

	for _, e := range entries {
		if err := writeZipEntry(w, e); err != nil {
			t.Fatalf("write zip entry %s: %v", e.name, err)
		}
	}

	if err := w.Close(); err != nil {
		t.Fatalf("close zip: %v", err)
	}
	return b.Bytes()
}

func writeZipEntry(w *zip.Writer, e zipEntry) error {
	header := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
	if e.store {
		header.Method = zip.Store
	}

	if e.raw {
		header.CRC32 = crc32.ChecksumIEEE(e.data)
		header.CompressedSize64 = uint64(len(e.data))
		header.UncompressedSize64 = uint64(len(e.data))
		out, err := w.CreateRaw(header)
		if err != nil {
			return err
		}
		_, err = out.Write(e.data)
		return err
	}

	out, err := w.CreateHeader(header)
	if err != nil {
		return err
	}
	_, err = out.Write(e.data)
	return err
}

// randomBytes returns n bytes that do not compress, from a fixed seed.
func randomBytes(n int) []byte {
	source := rand.NewChaCha8([32]byte{'v', 'a', 'u', 'l', 't'})
	b := make([]byte, n)
	_, _ = source.Read(b)
	return b
}

// Compound File Binary (OLE2) samples, the container of the Office 97-2003
// formats and of Windows Installer packages.

const (
	cfbSectorSize = 512
	cfbFree       = 0xffffffff
	cfbEndOfChain = 0xfffffffe
	cfbFATSector  = 0xfffffffd
)

var msiCLSID = []byte{0x84, 0x10, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}

// compoundFile builds a version 3 compound file whose root storage has the
// given CLSID and holds one empty stream named streamName. The directory
// follows padSectors unused sectors, so with enough padding it lies beyond
// HeadSize. The format lets the directory sit anywhere in the file.
func compoundFile(rootCLSID []byte, streamName string, padSectors int) []byte {
	fatSector := uint32(0)
	dirSector := uint32(1 + padSectors)

	header := le([]byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}, make([]byte, 16))
	header = le(header, uint16(0x3e), uint16(3), uint16(0xfffe), uint16(9), uint16(6), make([]byte, 6))
	header = le(header, uint32(0), uint32(1), dirSector, uint32(0), uint32(4096))
	header = le(header, uint32(cfbEndOfChain), uint32(0), uint32(cfbEndOfChain), uint32(0))
	header = le(header, fatSector)
	for len(header) < cfbSectorSize {
		header = le(header, uint32(cfbFree))
	}

	fat := make([]byte, 0, cfbSectorSize)
	for i := range cfbSectorSize / 4 {
		switch uint32(i) {
		case fatSector:
			fat = le(fat, uint32(cfbFATSector))
		case dirSector:
			fat = le(fat, uint32(cfbEndOfChain))
		default:
			fat = le(fat, uint32(cfbFree))
		}
	}

	directory := concat(
		directoryEntry("Root Entry", 5, 1, rootCLSID),
		directoryEntry(streamName, 2, cfbFree, make([]byte, 16)),
		make([]byte, 2*128),
	)

	return concat(header, fat, make([]byte, padSectors*cfbSectorSize), directory)
}

func directoryEntry(name string, objectType byte, child uint32, clsid []byte) []byte {
	encoded := utf16.Encode([]rune(name + "\x00"))
	nameField := make([]byte, 64)
	for i, unit := range encoded {
		binary.LittleEndian.PutUint16(nameField[2*i:], unit)
	}

	entry := le(nameField, uint16(2*len(encoded)), objectType, uint8(1))
	entry = le(entry, uint32(cfbFree), uint32(cfbFree), child, clsid)
	entry = le(entry, uint32(0), make([]byte, 16), uint32(cfbEndOfChain), uint64(0))
	return entry
}

// Byte helpers.

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// le appends values in little-endian order; byte slices are appended as
// they are.
func le(b []byte, values ...any) []byte {
	for _, v := range values {
		if raw, ok := v.([]byte); ok {
			b = append(b, raw...)
			continue
		}
		var err error
		b, err = binary.Append(b, binary.LittleEndian, v)
		if err != nil {
			panic(err)
		}
	}
	return b
}

func le32(v uint32) []byte {
	return binary.LittleEndian.AppendUint32(nil, v)
}

func be(v uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, v)
}

func riff(form string, body []byte) []byte {
	return concat([]byte("RIFF"), le32(uint32(4+len(body))), []byte(form), body)
}

func chunk(id string, data []byte) []byte {
	out := concat([]byte(id), le32(uint32(len(data))), data)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}
