package scanner

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
)

// EICAR returns the 68-byte EICAR antivirus test file, a harmless file
// that antivirus engines detect on purpose. It is built
// from two halves at run time so that this source file does not itself
// match antivirus signatures.
func EICAR() []byte {
	head := `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR`
	tail := `-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
	return []byte(head + tail)
}

// ProbeLimit finds the largest file, up to maxSize bytes, in which s still
// detects malware. It scans zip archives whose first entry is stored filler
// and whose last entry is the EICAR test file, starting at maxSize bytes and
// halving the size until the scanner reports the archive as Infected. The
// last probe is the smallest such archive, a few hundred bytes.
//
// The result is 0 when even the smallest archive is not detected, and
// otherwise a lower bound of the real limit, which lies below twice the
// result. A size rejected with ErrStreamLimit, or reported Clean or
// Unscannable, counts as not detected. Any other error ends the probe.
//
// The archive is generated into the scan stream as it is read, so clamd
// needs no memory or disk on this side. Clamscan copies each probe to a
// temporary file.
//
// ProbeLimit exists because clamd replies "stream: OK" without scanning a
// stream over MaxFileSize or MaxScanSize (unless AlertExceedsMax is set),
// so a StreamMaxLength above those limits lets larger files through.
func ProbeLimit(ctx context.Context, s Scanner, maxSize int64) (int64, error) {
	smallest, err := probeOverhead()
	if err != nil {
		return 0, err
	}
	if maxSize < smallest {
		return 0, fmt.Errorf("probe limit: max %d is below the smallest probe archive of %d bytes", maxSize, smallest)
	}

	for size := maxSize; ; size /= 2 {
		size = max(size, smallest)

		detected, err := probeSize(ctx, s, size, size-smallest)
		if err != nil {
			return 0, err
		}
		if detected {
			return size, nil
		}

		if size == smallest {
			return 0, nil
		}
	}
}

// probeSize scans one probe archive of size bytes whose first entry
// contains filler bytes.
func probeSize(ctx context.Context, s Scanner, size, filler int64) (bool, error) {
	pr, pw := io.Pipe()
	written := make(chan struct{})
	go func() {
		pw.CloseWithError(writeProbeZip(pw, filler))
		close(written)
	}()

	res, err := s.Scan(ctx, pr)
	// Closing the reader unblocks the writer when the scan stopped early.
	pr.Close()
	<-written

	switch {
	case errors.Is(err, ErrStreamLimit):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("probe limit at %d bytes: %w", size, err)
	default:
		return res.Verdict == Infected, nil
	}
}

// writeProbeZip writes a zip archive with filler zero bytes stored in its
// first entry and the EICAR test file deflated in its last entry, so that a
// scanner must unpack the archive past the filler to find it.
func writeProbeZip(w io.Writer, filler int64) error {
	zw := zip.NewWriter(w)

	f, err := zw.CreateHeader(&zip.FileHeader{Name: "filler.bin", Method: zip.Store})
	if err != nil {
		return err
	}
	if err := writeZeros(f, filler); err != nil {
		return err
	}

	e, err := zw.CreateHeader(&zip.FileHeader{Name: "eicar.com", Method: zip.Deflate})
	if err != nil {
		return err
	}
	if _, err := e.Write(EICAR()); err != nil {
		return err
	}

	return zw.Close()
}

// probeOverhead returns the size of the probe archive without filler. It
// is the same for any filler below 4 GiB, where zip64 records start, so
// larger probes are a few bytes over their nominal size.
func probeOverhead() (int64, error) {
	var cw countingWriter
	if err := writeProbeZip(&cw, 0); err != nil {
		return 0, fmt.Errorf("build probe archive: %w", err)
	}
	return cw.n, nil
}

func writeZeros(w io.Writer, n int64) error {
	zeros := make([]byte, 32<<10)
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
