package hostile

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image/png"
	"sync"
	"testing"

	"github.com/vaultdrop/vaultdrop/scanner"
)

// The small samples the cases upload. Each is the smallest file that the
// content sniffer (mimetype v1.4.16) and clamd recognise for what it
// claims to be.
var (
	plainText = []byte("owned\n")
	minPDF    = []byte("%PDF-1.4\n%%EOF\n")
	minJPEG   = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\xff\xd9")
	minGIF    = []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")

	scriptSVG = []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><script>alert(1)</script></svg>`)
	// inlineHTML sniffs as text/plain: "<h3" is not one of mimetype's HTML
	// signatures.
	inlineHTML = []byte(`<h3 onclick="alert(document.domain)">x</h3><script>alert(1)</script>`)
	pageHTML   = []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n")
	pageXHTML  = []byte(`<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>`)
	scriptJS   = []byte("alert(document.domain)")

	// jsPDF opens with a JavaScript action.
	jsPDF = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction 3 0 R>>endobj\n" +
		"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" +
		"3 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

	// mvgScript is an ImageMagick vector-graphics script whose fill URL
	// would run a shell command in an unpatched converter (before 6.9.3-10).
	mvgScript = []byte("push graphic-context\nviewbox 0 0 640 480\n" +
		"fill 'url(https://127.0.0.1/x.jpg\"|touch \"/tmp/h18_pwned)'\npop graphic-context\n")

	// elfHeader and peHeader are program headers only, not runnable.
	elfHeader = append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 57)...)
	peHeader  = append([]byte("MZ\x90\x00"), make([]byte, 60)...)

	shellScript = []byte("#!/bin/sh\necho hi\n")
	phpScript   = []byte("<?php system($_GET['c']); ?>\n")
)

// htmlInJPEG is a JPEG with an HTML document between its markers.
func htmlInJPEG() []byte {
	return concat(minJPEG[:len(minJPEG)-2], []byte("<html><script>alert(1)</script></html>"), minJPEG[len(minJPEG)-2:])
}

// xlFolderZip is a stored zip whose only folder is xl/: mimetype reports
// it as an Excel workbook.
func xlFolderZip() []byte {
	return zipArchive(zip.Store, zipEntry{"xl/a", []byte("x")})
}

// plainZip holds an ELF header, deflated.
func plainZip() []byte {
	return zipArchive(zip.Deflate, zipEntry{"tool", elfHeader})
}

// appJAR is a zip with a manifest and a class file: a Java program.
func appJAR() []byte {
	return zipArchive(zip.Deflate,
		zipEntry{"META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\nMain-Class: A\n")},
		zipEntry{"A.class", []byte("\xca\xfe\xba\xbe\x00\x00\x00\x34")})
}

// gifar is a GIF with a zip appended: valid as both.
func gifar() []byte {
	return concat(minGIF, zipArchive(zip.Deflate, zipEntry{"a.txt", []byte("x")}))
}

func eicar() []byte { return scanner.EICAR() }

func eicarZip() []byte { return zipArchive(zip.Deflate, zipEntry{"eicar.txt", eicar()}) }

func eicarAfterPDF() []byte { return concat(minPDF, eicar()) }

// eicarAfterGIF is a GIF followed by a zip that holds the test file.
func eicarAfterGIF() []byte {
	return concat(minGIF, zipArchive(zip.Deflate, zipEntry{"eicar.com", eicar()}))
}

// smallPNG is a valid 2x2 RGB image.
func smallPNG(t *testing.T) []byte {
	t.Helper()
	row := []byte{0, 0xff, 0, 0, 0xff, 0, 0}
	data := deflateZlib(t, concat(row, row), zlib.DefaultCompression)
	return pngFile(2, 2, 8, 2, data)
}

// pngFile assembles a PNG from its header fields and compressed pixel rows.
func pngFile(width, height uint32, depth, colorType byte, idat []byte) []byte {
	header := binary.BigEndian.AppendUint32(nil, width)
	header = binary.BigEndian.AppendUint32(header, height)
	header = append(header, depth, colorType, 0, 0, 0)

	out := []byte("\x89PNG\r\n\x1a\n")
	out = appendPNGChunk(out, "IHDR", header)
	out = appendPNGChunk(out, "IDAT", idat)
	return appendPNGChunk(out, "IEND", nil)
}

func appendPNGChunk(out []byte, kind string, data []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	chunk := append([]byte(kind), data...)
	out = append(out, chunk...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
}

func deflateZlib(t *testing.T, data []byte, level int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var (
	pixelFloodOnce sync.Once
	pixelFlood     []byte
)

// pixelFloodPNG is a 1-bit greyscale PNG of 50000 x 50000 pixels, all
// zero: about 380 KB that a naive decoder inflates to 2.5 gigapixels.
func pixelFloodPNG(t *testing.T) []byte {
	t.Helper()
	pixelFloodOnce.Do(func() {
		const side = 50000
		var idat bytes.Buffer
		w, _ := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
		row := make([]byte, 1+(side+7)/8)
		for range side {
			w.Write(row)
		}
		w.Close()
		pixelFlood = pngFile(side, side, 1, 0, idat.Bytes())
	})
	return pixelFlood
}

// zipOfZeros is a zip bomb: entries entries of size zero bytes each,
// deflated to about a thousandth of that.
func zipOfZeros(t *testing.T, entries int, size int64) []byte {
	t.Helper()
	compressed := deflateRaw(t, func(w *flate.Writer) { writeZeros(w, size) })
	crc := crc32.NewIEEE()
	writeZeros(crc, size)

	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := range entries {
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name: "f" + string(rune('0'+i)), Method: zip.Deflate, CRC32: crc.Sum32(),
			CompressedSize64: uint64(len(compressed)), UncompressedSize64: uint64(size),
		})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(compressed)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// deepZip holds the EICAR test file behind 30 MB of zeros in one entry, so
// a scanner must unpack 30 MB to find it.
func deepZip(t *testing.T) []byte {
	t.Helper()
	const padding = 30 << 20
	compressed := deflateRaw(t, func(w *flate.Writer) {
		writeZeros(w, padding)
		w.Write(eicar())
	})
	crc := crc32.NewIEEE()
	writeZeros(crc, padding)
	crc.Write(eicar())

	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: "pad.bin", Method: zip.Deflate, CRC32: crc.Sum32(),
		CompressedSize64: uint64(len(compressed)), UncompressedSize64: padding + uint64(len(eicar())),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(compressed)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func deflateRaw(t *testing.T, write func(*flate.Writer)) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	write(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type writer interface{ Write([]byte) (int, error) }

func writeZeros(w writer, n int64) {
	block := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, int64(len(block)))
		w.Write(block[:k])
		n -= k
	}
}

type zipEntry struct {
	name string
	data []byte
}

// zipArchive builds a zip whose local headers carry each entry's sizes and
// CRC, as most zip tools write them, rather than a trailing data
// descriptor: clamd finds a zip inside another file by its local headers.
func zipArchive(method uint16, entries ...zipEntry) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		body := e.data
		if method == zip.Deflate {
			var d bytes.Buffer
			fw, _ := flate.NewWriter(&d, flate.DefaultCompression)
			fw.Write(e.data)
			fw.Close()
			body = d.Bytes()
		}
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name: e.name, Method: method, CRC32: crc32.ChecksumIEEE(e.data),
			CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(len(e.data)),
		})
		if err != nil {
			panic("build zip: " + err.Error()) // writing to memory cannot fail
		}
		w.Write(body)
	}
	if err := zw.Close(); err != nil {
		panic("build zip: " + err.Error())
	}
	return b.Bytes()
}

// eicarZip64 is a zip whose one entry, eicar.txt, has zip64 size records
// in its local header, as streaming zip writers often emit even for small
// entries: the sizes in the header are 0xFFFFFFFF and the real ones are in
// the zip64 extra field. archive/zip writes zip64 records only for entries
// over 4 GiB, so the archive is assembled by hand.
func eicarZip64() []byte {
	const name = "eicar.txt"
	data := eicar()
	var d bytes.Buffer
	fw, _ := flate.NewWriter(&d, flate.DefaultCompression)
	fw.Write(data)
	fw.Close()
	compressed := d.Bytes()
	crc := crc32.ChecksumIEEE(data)

	le := binary.LittleEndian
	var out []byte

	// Local file header with a zip64 extra field of both sizes.
	out = le.AppendUint32(out, 0x04034b50)
	out = le.AppendUint16(out, 45) // version needed: zip64
	out = le.AppendUint16(out, 0)  // flags
	out = le.AppendUint16(out, zip.Deflate)
	out = le.AppendUint16(out, 0) // modification time
	out = le.AppendUint16(out, 0x21)
	out = le.AppendUint32(out, crc)
	out = le.AppendUint32(out, 0xFFFFFFFF)
	out = le.AppendUint32(out, 0xFFFFFFFF)
	out = le.AppendUint16(out, uint16(len(name)))
	out = le.AppendUint16(out, 20) // extra field length
	out = append(out, name...)
	out = le.AppendUint16(out, 0x0001) // zip64 extended information
	out = le.AppendUint16(out, 16)
	out = le.AppendUint64(out, uint64(len(data)))
	out = le.AppendUint64(out, uint64(len(compressed)))
	out = append(out, compressed...)

	// Central directory entry with ordinary 32-bit sizes.
	directory := len(out)
	out = le.AppendUint32(out, 0x02014b50)
	out = le.AppendUint16(out, 45) // version made by
	out = le.AppendUint16(out, 45) // version needed
	out = le.AppendUint16(out, 0)
	out = le.AppendUint16(out, zip.Deflate)
	out = le.AppendUint16(out, 0)
	out = le.AppendUint16(out, 0x21)
	out = le.AppendUint32(out, crc)
	out = le.AppendUint32(out, uint32(len(compressed)))
	out = le.AppendUint32(out, uint32(len(data)))
	out = le.AppendUint16(out, uint16(len(name)))
	out = le.AppendUint16(out, 0) // extra field length
	out = le.AppendUint16(out, 0) // comment length
	out = le.AppendUint16(out, 0) // disk number
	out = le.AppendUint16(out, 0) // internal attributes
	out = le.AppendUint32(out, 0) // external attributes
	out = le.AppendUint32(out, 0) // local header offset
	out = append(out, name...)
	directorySize := len(out) - directory

	// End of central directory.
	out = le.AppendUint32(out, 0x06054b50)
	out = le.AppendUint16(out, 0)
	out = le.AppendUint16(out, 0)
	out = le.AppendUint16(out, 1)
	out = le.AppendUint16(out, 1)
	out = le.AppendUint32(out, uint32(directorySize))
	out = le.AppendUint32(out, uint32(directory))
	return le.AppendUint16(out, 0)
}

func concat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// TestSamplesAreWellFormed checks that the generated images and archives
// parse, so a failing case is never a broken sample.
func TestSamplesAreWellFormed(t *testing.T) {
	t.Parallel()
	if _, err := png.Decode(bytes.NewReader(smallPNG(t))); err != nil {
		t.Errorf("smallPNG: %v", err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(pixelFloodPNG(t))); err != nil || cfg.Width != 50000 || cfg.Height != 50000 {
		t.Errorf("pixelFloodPNG: %v, %dx%d, want 50000x50000", err, cfg.Width, cfg.Height)
	}
	if n := len(pixelFloodPNG(t)); n > 1<<20 {
		t.Errorf("pixelFloodPNG is %d bytes, want under 1 MiB", n)
	}

	archives := map[string][]byte{
		"xlFolderZip": xlFolderZip(), "plainZip": plainZip(), "appJAR": appJAR(),
		"eicarZip": eicarZip(), "eicarZip64": eicarZip64(), "deepZip": deepZip(t),
		"zipOfZeros": zipOfZeros(t, 2, 1<<20),
	}
	for name, data := range archives {
		r, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, f := range r.File {
			rc, err := f.Open()
			if err != nil {
				t.Errorf("%s: open %s: %v", name, f.Name, err)
				continue
			}
			var sink bytes.Buffer
			if _, err := sink.ReadFrom(rc); err != nil {
				t.Errorf("%s: read %s: %v", name, f.Name, err)
			}
			rc.Close()
		}
	}
}
