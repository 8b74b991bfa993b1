package main

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
)

// textBlock is the repeating unit of every upload body: numbered lines of
// printable ASCII, which vaultdrop sniffs as text/plain and accepts as .txt.
var textBlock = makeTextBlock(64 << 10)

func makeTextBlock(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "line %06d of the vaultdrop upload benchmark: the quick brown fox jumps over the lazy dog\n", i)
	}
	return b.Bytes()
}

// textStream is a body of a given size generated from textBlock as it is
// read, so that a 1 GiB upload costs the client no memory and little CPU.
type textStream struct {
	offset int   // position in textBlock
	left   int64 // bytes still to produce
}

func newTextStream(size int64) *textStream {
	return &textStream{left: size}
}

func (t *textStream) Read(p []byte) (int, error) {
	if t.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > t.left {
		p = p[:t.left]
	}

	n := 0
	for n < len(p) {
		copied := copy(p[n:], textBlock[t.offset:])
		n += copied
		t.offset = (t.offset + copied) % len(textBlock)
	}
	t.left -= int64(n)
	return n, nil
}

// multipartBody is a multipart/form-data body with one part named "file",
// streamed from a textStream. Its length is known in advance, so the
// request carries a Content-Length like a browser's.
type multipartBody struct {
	contentType string
	length      int64
	reader      io.Reader
}

func newMultipartBody(fileName string, size int64) (multipartBody, error) {
	var framing bytes.Buffer
	w := multipart.NewWriter(&framing)

	header := textproto.MIMEHeader{}
	header.Set("Content-Disposition", multipart.FileContentDisposition("file", fileName))
	header.Set("Content-Type", "text/plain")
	if _, err := w.CreatePart(header); err != nil {
		return multipartBody{}, fmt.Errorf("write multipart header for %s: %w", fileName, err)
	}
	head := bytes.Clone(framing.Bytes())

	framing.Reset()
	if err := w.Close(); err != nil {
		return multipartBody{}, fmt.Errorf("write multipart end for %s: %w", fileName, err)
	}
	tail := bytes.Clone(framing.Bytes())

	return multipartBody{
		contentType: w.FormDataContentType(),
		length:      int64(len(head)) + size + int64(len(tail)),
		reader:      io.MultiReader(bytes.NewReader(head), newTextStream(size), bytes.NewReader(tail)),
	}, nil
}
