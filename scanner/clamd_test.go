package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		name        string
		addr        string
		wantNetwork string
		wantAddress string
		wantErr     bool
	}{
		{name: "socket path", addr: "/run/clamav/clamd.ctl", wantNetwork: "unix", wantAddress: "/run/clamav/clamd.ctl"},
		{name: "relative path", addr: "run/clamd.sock", wantNetwork: "unix", wantAddress: "run/clamd.sock"},
		{name: "unix prefix", addr: "unix:/run/clamav/clamd.ctl", wantNetwork: "unix", wantAddress: "/run/clamav/clamd.ctl"},
		{name: "host port", addr: "127.0.0.1:3310", wantNetwork: "tcp", wantAddress: "127.0.0.1:3310"},
		{name: "tcp prefix", addr: "tcp:localhost:3310", wantNetwork: "tcp", wantAddress: "localhost:3310"},
		{name: "ipv6", addr: "[::1]:3310", wantNetwork: "tcp", wantAddress: "[::1]:3310"},
		{name: "empty", addr: "", wantErr: true},
		{name: "empty unix path", addr: "unix:", wantErr: true},
		{name: "bare name", addr: "clamd.sock", wantErr: true},
		{name: "no host", addr: ":3310", wantErr: true},
		{name: "port zero", addr: "127.0.0.1:0", wantErr: true},
		{name: "port too large", addr: "tcp:127.0.0.1:70000", wantErr: true},
		{name: "named port", addr: "localhost:clamd", wantErr: true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			network, address, err := ParseAddress(tt.addr)

			if tt.wantErr {
				if err == nil {
					t.Errorf("ParseAddress(%q) = %s %s, want an error", tt.addr, network, address)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if network != tt.wantNetwork {
				t.Errorf("network = %q, want %q", network, tt.wantNetwork)
			}
			if address != tt.wantAddress {
				t.Errorf("address = %q, want %q", address, tt.wantAddress)
			}
		})
	}
}

func TestClamdConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ClamdConfig
		wantErr bool
	}{
		{name: "defaults", cfg: ClamdConfig{Address: "/run/clamav/clamd.ctl"}},
		{name: "bad address", cfg: ClamdConfig{Address: "clamd"}, wantErr: true},
		{name: "negative timeout", cfg: ClamdConfig{Address: "/s", IOTimeout: -1}, wantErr: true},
		{name: "negative chunk", cfg: ClamdConfig{Address: "/s", ChunkSize: -1}, wantErr: true},
		{name: "huge chunk", cfg: ClamdConfig{Address: "/s", ChunkSize: MaxChunkSize + 1}, wantErr: true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()

			if tt.wantErr && err == nil {
				t.Error("err = nil, want an error")
			}
			if !tt.wantErr && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
		})
	}
}

func TestClamdInvalidConfigUnavailable(t *testing.T) {
	c := NewClamd(ClamdConfig{Address: "clamd"})

	res, err := c.Scan(context.Background(), strings.NewReader("hello"))

	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
	if res.Verdict == Clean {
		t.Error("verdict is clean for an invalid address")
	}
}

// zipWith returns a zip archive holding data as a deflated entry.
func zipWith(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	return clamavtest.Zip(name, data)
}

func encryptedZip(t *testing.T) []byte {
	t.Helper()
	return clamavtest.EncryptedZip()
}

func TestClamdScan(t *testing.T) {
	d := sharedClamd.Daemon(t)
	gif := append([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00"), bytes.Repeat([]byte{0}, 200)...)

	tests := []struct {
		name          string
		data          []byte
		wantVerdict   Verdict
		wantSignature string
	}{
		{name: "clean text", data: []byte("hello, vault"), wantVerdict: Clean},
		{name: "empty", data: nil, wantVerdict: Clean},
		{name: "clean megabytes", data: bytes.Repeat([]byte("abcdefgh"), 512<<10), wantVerdict: Clean},
		{name: "eicar", data: EICAR(), wantVerdict: Infected, wantSignature: clamavtest.EICARSignature},
		{name: "eicar in zip", data: zipWith(t, "readme.com", EICAR()), wantVerdict: Infected, wantSignature: clamavtest.EICARSignature},
		{name: "eicar after gif", data: append(gif, EICAR()...), wantVerdict: Infected, wantSignature: clamavtest.EICARSignature},
		{name: "marker", data: []byte("header\n" + clamavtest.Marker + "\nfooter"), wantVerdict: Infected, wantSignature: clamavtest.MarkerSignature},
		{name: "encrypted zip without alert", data: encryptedZip(t), wantVerdict: Clean},
	}

	for _, tr := range transports(d) {
		c := NewClamd(ClamdConfig{Address: tr.addr})
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()

				res, err := c.Scan(context.Background(), bytes.NewReader(tt.data))

				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if res.Verdict != tt.wantVerdict {
					t.Errorf("verdict = %q, want %q", res.Verdict, tt.wantVerdict)
				}
				if res.Signature != tt.wantSignature {
					t.Errorf("signature = %q, want %q", res.Signature, tt.wantSignature)
				}
			})
		}
	}
}

func TestClamdScanSplitChunks(t *testing.T) {
	d := sharedClamd.Daemon(t)
	padding := bytes.Repeat([]byte("p"), 30)
	data := append(padding, EICAR()...)

	tests := []struct {
		name      string
		chunkSize int
	}{
		{name: "one byte", chunkSize: 1},
		{name: "seven bytes", chunkSize: 7},
		{name: "mid signature", chunkSize: 64},
		{name: "default", chunkSize: 0},
	}

	for _, tr := range transports(d) {
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				c := NewClamd(ClamdConfig{Address: tr.addr, ChunkSize: tt.chunkSize})

				res, err := c.Scan(context.Background(), bytes.NewReader(data))

				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if res.Verdict != Infected {
					t.Errorf("verdict = %q, want infected", res.Verdict)
				}
			})
		}
	}
}

func TestClamdStreamLimit(t *testing.T) {
	d := sharedClamd.Daemon(t)

	tests := []struct {
		name string
		size int64
	}{
		{name: "one byte over", size: d.StreamMaxLength + 1},
		{name: "three times over", size: 3 * d.StreamMaxLength},
	}

	for _, tr := range transports(d) {
		c := NewClamd(ClamdConfig{Address: tr.addr})
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				// EICAR at the very end: a scanner that stopped early and
				// replied clean would let it through.
				data := io.MultiReader(io.LimitReader(zeroReader{}, tt.size-68), bytes.NewReader(EICAR()))

				res, err := c.Scan(context.Background(), data)

				if !errors.Is(err, ErrStreamLimit) {
					t.Errorf("err = %v, want ErrStreamLimit", err)
				}
				if res.Verdict == Clean {
					t.Error("verdict is clean for a stream over StreamMaxLength")
				}
			})
		}
	}
}

func TestClamdScanAtStreamLimit(t *testing.T) {
	d := sharedClamd.Daemon(t)
	c := NewClamd(ClamdConfig{Address: d.SocketPath})
	data := io.MultiReader(io.LimitReader(zeroReader{}, d.StreamMaxLength-68), bytes.NewReader(EICAR()))

	res, err := c.Scan(context.Background(), data)

	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if res.Verdict != Infected {
		t.Errorf("verdict = %q, want infected", res.Verdict)
	}
}

// zeroReader returns zero bytes forever.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestClamdPing(t *testing.T) {
	d := sharedClamd.Daemon(t)

	for _, tr := range transports(d) {
		t.Run(tr.name, func(t *testing.T) {
			c := NewClamd(ClamdConfig{Address: tr.addr})

			if err := c.Ping(context.Background()); err != nil {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestClamdVersion(t *testing.T) {
	d := sharedClamd.Daemon(t)
	engine := regexp.MustCompile(`^\d+\.\d+\.\d+`)

	for _, tr := range transports(d) {
		t.Run(tr.name, func(t *testing.T) {
			c := NewClamd(ClamdConfig{Address: tr.addr})

			v, err := c.Version(context.Background())

			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !engine.MatchString(v.Engine) {
				t.Errorf("engine = %q, want a version like 1.4.3", v.Engine)
			}
			// The test database is unofficial, so clamd reports no
			// signature version or date.
			if v.Signatures != 0 {
				t.Errorf("signatures = %d, want 0", v.Signatures)
			}
			if !v.SignatureDate.IsZero() {
				t.Errorf("signature date = %v, want zero", v.SignatureDate)
			}
		})
	}
}

func TestClamdConcurrentScans(t *testing.T) {
	d := sharedClamd.Daemon(t)
	c := NewClamd(ClamdConfig{Address: d.SocketPath, ChunkSize: 4096})

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			data, want := []byte(strings.Repeat("clean ", 10000)), Clean
			if i%2 == 0 {
				data, want = append(data, EICAR()...), Infected
			}

			res, err := c.Scan(context.Background(), bytes.NewReader(data))
			if err != nil {
				errs <- err
				return
			}
			if res.Verdict != want {
				errs <- fmt.Errorf("scan %d: verdict %q, want %q", i, res.Verdict, want)
			}
		})
	}
	wg.Wait()
	close(errs)

	for err := range errs {
		t.Error(err)
	}
}

// TestClamdOversizedSkipped shows why ProbeLimit exists: a clamd whose
// MaxFileSize is below its StreamMaxLength accepts a larger stream and
// replies clean without scanning it.
func TestClamdOversizedSkipped(t *testing.T) {
	t.Parallel()
	d := clamavtest.Start(t, clamavtest.Options{StreamMaxLength: 4 << 20, MaxFileSize: 1 << 20, QuietExceedsMax: true})
	c := NewClamd(ClamdConfig{Address: d.SocketPath})
	data := io.MultiReader(io.LimitReader(zeroReader{}, 2<<20), bytes.NewReader(EICAR()))

	res, err := c.Scan(context.Background(), data)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if res.Verdict != Clean {
		t.Errorf("verdict = %q, want clean (clamd skips files over MaxFileSize)", res.Verdict)
	}

	limit, err := ProbeLimit(context.Background(), c, d.StreamMaxLength)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if limit != d.MaxFileSize {
		t.Errorf("limit = %d, want MaxFileSize %d", limit, d.MaxFileSize)
	}
}

func TestClamdAlerts(t *testing.T) {
	t.Parallel()
	d := clamavtest.Start(t, clamavtest.Options{
		StreamMaxLength: 4 << 20,
		MaxFileSize:     1 << 20,
		AlertEncrypted:  true,
	})
	oversized, err := io.ReadAll(io.MultiReader(io.LimitReader(zeroReader{}, 2<<20), bytes.NewReader(EICAR())))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		data       []byte
		wantPrefix string
	}{
		{name: "over max file size", data: oversized, wantPrefix: "Heuristics.Limits.Exceeded"},
		{name: "encrypted zip", data: encryptedZip(t), wantPrefix: "Heuristics.Encrypted"},
	}

	for _, tr := range transports(d) {
		c := NewClamd(ClamdConfig{Address: tr.addr})
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				res, err := c.Scan(context.Background(), bytes.NewReader(tt.data))

				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if res.Verdict != Unscannable {
					t.Errorf("verdict = %q, want unscannable", res.Verdict)
				}
				if !strings.HasPrefix(res.Signature, tt.wantPrefix) {
					t.Errorf("signature = %q, want prefix %q", res.Signature, tt.wantPrefix)
				}
				if res.Reason == "" {
					t.Error("reason is empty")
				}
			})
		}
	}
}

func TestClamdKilledMidStream(t *testing.T) {
	t.Parallel()

	for _, name := range []string{"unix", "tcp"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := clamavtest.Start(t, clamavtest.Options{})
			addr := d.SocketPath
			if name == "tcp" {
				addr = d.TCPAddr
			}
			c := NewClamd(ClamdConfig{Address: addr})

			pr, pw := io.Pipe()
			go func() {
				chunk := bytes.Repeat([]byte("x"), 32<<10)
				// The pipe write returns once Scan has read the chunk, so
				// the INSTREAM is open when clamd dies.
				if _, err := pw.Write(chunk); err != nil {
					return
				}
				d.Kill()
				for range 64 {
					if _, err := pw.Write(chunk); err != nil {
						return
					}
				}
				pw.Close()
			}()

			res, err := c.Scan(context.Background(), pr)
			pr.Close()

			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("err = %v, want ErrUnavailable", err)
			}
			if res.Verdict == Clean {
				t.Error("verdict is clean after clamd died")
			}
		})
	}
}

// TestClamdStalledReader covers an upload that stalls longer than clamd's
// ReadTimeout, so clamd gives up on the stream. clamd 1.4.6 once let a
// 2.5-second stall pass with a ReadTimeout of 1 second on a loaded machine,
// so the stall lasts 4 seconds.
func TestClamdStalledReader(t *testing.T) {
	t.Parallel()

	for _, name := range []string{"unix", "tcp"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := clamavtest.Start(t, clamavtest.Options{ReadTimeout: time.Second})
			addr := d.SocketPath
			if name == "tcp" {
				addr = d.TCPAddr
			}
			c := NewClamd(ClamdConfig{Address: addr})
			stall := make(chan struct{})
			time.AfterFunc(4*time.Second, func() { close(stall) })
			r := &gatedReader{
				first: []byte("first bytes of an upload"),
				open:  stall,
				rest:  bytes.NewReader(EICAR()),
			}

			res, err := c.Scan(context.Background(), r)

			if !errors.Is(err, ErrTimeout) {
				t.Errorf("err = %v, want ErrTimeout", err)
			}
			if res.Verdict == Clean {
				t.Error("verdict is clean after clamd gave up")
			}
		})
	}
}

func TestClamdStopped(t *testing.T) {
	t.Parallel()
	d := clamavtest.Start(t, clamavtest.Options{})
	d.Stop()

	for _, tr := range transports(d) {
		t.Run(tr.name, func(t *testing.T) {
			c := NewClamd(ClamdConfig{Address: tr.addr})

			res, err := c.Scan(context.Background(), bytes.NewReader(EICAR()))
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("scan err = %v, want ErrUnavailable", err)
			}
			if res.Verdict == Clean {
				t.Error("verdict is clean with clamd stopped")
			}

			if err := c.Ping(context.Background()); !errors.Is(err, ErrUnavailable) {
				t.Errorf("ping err = %v, want ErrUnavailable", err)
			}
		})
	}
}
