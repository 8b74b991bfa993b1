package clamavtest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash/crc32"
	"io"
)

// EICAR returns the standard 68-byte anti-virus test file. It is built from
// two halves, so that this source file does not trip a real antivirus.
func EICAR() []byte {
	return eicar()
}

// Zip returns a zip archive with one deflated entry, name, holding data.
// The sizes are written in the local header, as most zip tools do, rather
// than in a trailing data descriptor as archive/zip's streaming writer does:
// ClamAV finds a zip embedded in another file by its local headers.
func Zip(name string, data []byte) []byte {
	var deflated bytes.Buffer
	fw, err := flate.NewWriter(&deflated, flate.DefaultCompression)
	if err == nil {
		_, err = fw.Write(data)
	}
	if err == nil {
		err = fw.Close()
	}

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if err == nil {
		var w io.Writer
		w, err = zw.CreateRaw(&zip.FileHeader{
			Name:               name,
			Method:             zip.Deflate,
			CRC32:              crc32.ChecksumIEEE(data),
			CompressedSize64:   uint64(deflated.Len()),
			UncompressedSize64: uint64(len(data)),
		})
		if err == nil {
			_, err = w.Write(deflated.Bytes())
		}
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		panic("build zip: " + err.Error()) // writing to memory cannot fail
	}
	return buf.Bytes()
}

// EncryptedZip returns a zip archive whose one entry has the traditional
// PKWARE encryption flag set, because archive/zip cannot encrypt. The entry
// starts with the 12-byte encryption header that such entries carry. A
// clamd with AlertEncrypted reports it as Heuristics.Encrypted.Zip.
func EncryptedZip() []byte {
	plain := []byte("quarterly numbers")
	payload := append(bytes.Repeat([]byte{0x5a}, 12), plain...)

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name:               "secret.txt",
		Method:             zip.Store,
		Flags:              0x1, // encrypted
		CRC32:              crc32.ChecksumIEEE(plain),
		CompressedSize64:   uint64(len(payload)),
		UncompressedSize64: uint64(len(plain)),
	})
	if err == nil {
		_, err = w.Write(payload)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		panic("build encrypted zip: " + err.Error())
	}
	return buf.Bytes()
}
