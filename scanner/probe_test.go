package scanner

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
)

func TestProbeZip(t *testing.T) {
	overhead, err := probeOverhead()
	if err != nil {
		t.Fatal(err)
	}

	for _, filler := range []int64{0, 1, 100_000} {
		var buf bytes.Buffer
		if err := writeProbeZip(&buf, filler); err != nil {
			t.Fatal(err)
		}

		if got := int64(buf.Len()); got != overhead+filler {
			t.Errorf("filler %d: size = %d, want %d", filler, got, overhead+filler)
		}

		zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("filler %d: %v", filler, err)
		}
		if len(zr.File) != 2 {
			t.Fatalf("filler %d: %d entries, want 2", filler, len(zr.File))
		}
		if zr.File[0].Method != zip.Store {
			t.Errorf("filler %d: first entry method = %d, want stored", filler, zr.File[0].Method)
		}
		if got := readEntry(t, zr.File[1]); !bytes.Equal(got, EICAR()) {
			t.Errorf("filler %d: last entry is not the EICAR file", filler)
		}
	}
}

func readEntry(t *testing.T, f *zip.File) []byte {
	t.Helper()

	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()

	content, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return content
}

// sizeScanner is a fake Scanner that detects streams of up to limit bytes,
// returns overErr (or Clean when nil) for larger ones, and records the
// size of every stream it reads.
type sizeScanner struct {
	limit   int64
	overErr error

	mu    sync.Mutex
	sizes []int64
}

func (s *sizeScanner) Name() string                             { return "fake" }
func (s *sizeScanner) Ping(context.Context) error               { return nil }
func (s *sizeScanner) Version(context.Context) (Version, error) { return Version{Engine: "0"}, nil }

func (s *sizeScanner) Scan(_ context.Context, r io.Reader) (Result, error) {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return Result{}, err
	}

	s.mu.Lock()
	s.sizes = append(s.sizes, n)
	s.mu.Unlock()

	if n > s.limit {
		return Result{Verdict: Clean}, s.overErr
	}
	return Classify("Eicar-Test-Signature"), nil
}

func TestProbeLimitHalving(t *testing.T) {
	smallest, err := probeOverhead()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		maxSize   int64
		limit     int64
		overErr   error
		wantLimit int64
		wantSizes []int64
	}{
		{
			name:      "max detected",
			maxSize:   1 << 20,
			limit:     1 << 20,
			wantLimit: 1 << 20,
			wantSizes: []int64{1 << 20},
		},
		{
			name:      "quarter detected",
			maxSize:   1 << 20,
			limit:     300 << 10,
			wantLimit: 256 << 10,
			wantSizes: []int64{1 << 20, 512 << 10, 256 << 10},
		},
		{
			name:      "stream limit halves",
			maxSize:   1 << 20,
			limit:     600 << 10,
			overErr:   ErrStreamLimit,
			wantLimit: 512 << 10,
			wantSizes: []int64{1 << 20, 512 << 10},
		},
		{
			name:      "nothing detected",
			maxSize:   4 * smallest,
			limit:     0,
			wantLimit: 0,
			wantSizes: []int64{4 * smallest, 2 * smallest, smallest},
		},
		{
			name:      "smallest detected",
			maxSize:   3 * smallest,
			limit:     smallest,
			wantLimit: smallest,
			wantSizes: []int64{3 * smallest, 3 * smallest / 2, smallest},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sizeScanner{limit: tt.limit, overErr: tt.overErr}

			got, err := ProbeLimit(context.Background(), s, tt.maxSize)

			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tt.wantLimit {
				t.Errorf("limit = %d, want %d", got, tt.wantLimit)
			}
			if !slices.Equal(s.sizes, tt.wantSizes) {
				t.Errorf("probe sizes = %v, want %v", s.sizes, tt.wantSizes)
			}
		})
	}
}

func TestProbeLimitErrors(t *testing.T) {
	smallest, err := probeOverhead()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		scanner Scanner
		maxSize int64
		want    error
	}{
		{
			name:    "scanner down",
			scanner: &sizeScanner{limit: 0, overErr: ErrUnavailable},
			maxSize: 1 << 20,
			want:    ErrUnavailable,
		},
		{
			name:    "below smallest",
			scanner: &sizeScanner{limit: 1 << 20},
			maxSize: smallest - 1,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ProbeLimit(context.Background(), tt.scanner, tt.maxSize)

			if err == nil {
				t.Fatalf("limit = %d, err = nil, want an error", got)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if got != 0 {
				t.Errorf("limit = %d, want 0 with an error", got)
			}
		})
	}
}

func TestProbeLimitClamd(t *testing.T) {
	d := sharedClamd.Daemon(t)

	for _, tr := range transports(d) {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			c := NewClamd(ClamdConfig{Address: tr.addr})

			// Twice the StreamMaxLength: the first probe is rejected with
			// ErrStreamLimit and the second fits exactly.
			got, err := ProbeLimit(context.Background(), c, 2*d.StreamMaxLength)

			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != d.StreamMaxLength {
				t.Errorf("limit = %d, want StreamMaxLength %d", got, d.StreamMaxLength)
			}
		})
	}
}
