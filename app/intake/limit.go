package intake

import (
	"io"

	"github.com/vaultdrop/vaultdrop/app/config"
)

// limitedReader reads at most max bytes and fails with a too-large
// rejection on the first byte past it, so an oversized upload is stopped as
// soon as it crosses the limit instead of after it has been stored.
type limitedReader struct {
	r    io.Reader
	max  int64
	read int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	// Ask for one byte more than allowed, to tell "exactly max" from "over".
	if room := l.max + 1 - l.read; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.max {
		return n, reject(ErrTooLarge,
			"The file is larger than the maximum file size of %s. Upload a smaller file, or ask the operator to raise --max-file-size.",
			config.FormatBytes(l.max))
	}
	return n, err
}
