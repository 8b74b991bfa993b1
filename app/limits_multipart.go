package app

import (
	"fmt"
	"io"
	"net/http"

	"github.com/vaultdrop/vaultdrop/app/config"
)

// maxPartHeaderBytes bounds the bytes the multipart reader may take to find
// the next part and read its headers: the boundary line, any text before
// the first part, and the part's header block. An honest part header (a
// name, a file name of at most a few hundred bytes, a content type) is
// well under 1 KiB. The standard library alone allows 10 MiB of headers
// per part (mime/multipart's maxMIMEHeaderSize in Go 1.26), all held in
// memory.
const maxPartHeaderBytes = 64 << 10

// multipartPeekSlack is how far the multipart reader may read ahead of
// what it has parsed: its own read buffer, 4096 bytes in Go 1.26
// (mime/multipart's peekBufferSize).
const multipartPeekSlack = 4096

// partHeaderGuard sits between the request body and the multipart reader.
// While armed (inside formReader.next) it lets through at most
// maxPartHeaderBytes plus the reader's look-ahead, and then fails the read.
type partHeaderGuard struct {
	r      io.Reader
	armed  bool
	budget int64
}

func (g *partHeaderGuard) arm() {
	g.armed = true
	g.budget = maxPartHeaderBytes + multipartPeekSlack
}

func (g *partHeaderGuard) disarm() {
	g.armed = false
}

func (g *partHeaderGuard) Read(p []byte) (int, error) {
	if !g.armed {
		return g.r.Read(p)
	}
	if g.budget <= 0 {
		return 0, errPartHeaderTooLarge
	}
	if int64(len(p)) > g.budget {
		p = p[:g.budget]
	}
	n, err := g.r.Read(p)
	g.budget -= int64(n)
	return n, err
}

var errPartHeaderTooLarge = apiError(http.StatusRequestEntityTooLarge, "too_large",
	fmt.Sprintf("A part of the multipart form has more than %s of headers, or of text before the first part. "+
		"Send each part with short headers: a name, a file name and a content type.", config.FormatBytes(maxPartHeaderBytes)))
