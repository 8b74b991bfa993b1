package scanner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()

	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClamscanScanFile(t *testing.T) {
	d := sharedClamd.Daemon(t)
	c := NewClamscan(ClamscanConfig{DatabaseDir: d.DatabaseDir})
	dir := t.TempDir()

	tests := []struct {
		name          string
		data          []byte
		wantVerdict   Verdict
		wantSignature string
	}{
		{name: "clean", data: []byte("hello, vault"), wantVerdict: Clean},
		{name: "empty", data: nil, wantVerdict: Clean},
		{name: "eicar", data: EICAR(), wantVerdict: Infected, wantSignature: clamavtest.EICARSignature},
		{name: "marker", data: []byte(clamavtest.Marker), wantVerdict: Infected, wantSignature: clamavtest.MarkerSignature},
		{name: "eicar in zip", data: zipWith(t, "a.com", EICAR()), wantVerdict: Infected, wantSignature: clamavtest.EICARSignature},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A name with a space and a colon checks the output parsing.
			path := writeFile(t, dir, "up load: "+tt.name, tt.data)

			res, err := c.ScanFile(context.Background(), path)

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

func TestClamscanScanStream(t *testing.T) {
	d := sharedClamd.Daemon(t)
	tempDir := t.TempDir()
	c := NewClamscan(ClamscanConfig{DatabaseDir: d.DatabaseDir, TempDir: tempDir})

	res, err := c.Scan(context.Background(), bytes.NewReader(EICAR()))

	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if res.Verdict != Infected {
		t.Errorf("verdict = %q, want infected", res.Verdict)
	}
	left, err := os.ReadDir(tempDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestClamscanLimitArgs(t *testing.T) {
	d := sharedClamd.Daemon(t)
	data := append(bytes.Repeat([]byte("z"), 4096), EICAR()...)
	path := writeFile(t, t.TempDir(), "big", data)

	tests := []struct {
		name        string
		args        []string
		wantVerdict Verdict
	}{
		// clamscan skips a file over --max-filesize and reports it clean.
		{name: "skipped silently", args: []string{"--max-filesize=1K"}, wantVerdict: Clean},
		{name: "alert exceeds max", args: []string{"--max-filesize=1K", "--alert-exceeds-max=yes"}, wantVerdict: Unscannable},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewClamscan(ClamscanConfig{DatabaseDir: d.DatabaseDir, Args: tt.args})

			res, err := c.ScanFile(context.Background(), path)

			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if res.Verdict != tt.wantVerdict {
				t.Errorf("verdict = %q, want %q", res.Verdict, tt.wantVerdict)
			}
		})
	}
}

func TestClamscanMissingDatabase(t *testing.T) {
	sharedClamd.Daemon(t)
	missing := filepath.Join(t.TempDir(), "no-such-db")
	c := NewClamscan(ClamscanConfig{DatabaseDir: missing})
	path := writeFile(t, t.TempDir(), "file", EICAR())

	res, err := c.ScanFile(context.Background(), path)
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("scan err = %v, want ErrUnavailable", err)
	}
	if err != nil && !strings.Contains(err.Error(), missing) {
		t.Errorf("scan err = %v, want clamscan's message naming %s", err, missing)
	}
	if res.Verdict == Clean {
		t.Error("verdict is clean without a database")
	}

	if err := c.Ping(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("ping err = %v, want ErrUnavailable", err)
	}
}

func TestClamscanVersion(t *testing.T) {
	d := sharedClamd.Daemon(t)
	c := NewClamscan(ClamscanConfig{DatabaseDir: d.DatabaseDir})

	got, err := c.Version(context.Background())
	if err != nil {
		t.Fatalf("err = %v", err)
	}

	want, err := NewClamd(ClamdConfig{Address: d.SocketPath}).Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Engine != want.Engine {
		t.Errorf("engine = %q, want clamd's %q", got.Engine, want.Engine)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Errorf("ping err = %v", err)
	}
}

func TestClamscanMissingProgram(t *testing.T) {
	c := NewClamscan(ClamscanConfig{Path: filepath.Join(t.TempDir(), "clamscan")})

	if err := c.Ping(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("ping err = %v, want ErrUnavailable", err)
	}

	res, err := c.Scan(context.Background(), bytes.NewReader(EICAR()))
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("scan err = %v, want ErrUnavailable", err)
	}
	if res.Verdict == Clean {
		t.Error("verdict is clean without clamscan")
	}
}

// fakeClamscan writes a shell script standing in for clamscan. Tests that
// use it do not run in parallel, because executing a file that another
// goroutine's fork may still hold open for writing fails with ETXTBSY.
func fakeClamscan(t *testing.T, script string) string {
	t.Helper()

	path := filepath.Join(t.TempDir(), "clamscan")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClamscanTimeout(t *testing.T) {
	path := fakeClamscan(t, "exec sleep 60")
	c := NewClamscan(ClamscanConfig{Path: path, Timeout: 200 * time.Millisecond, TempDir: t.TempDir()})

	start := time.Now()
	res, err := c.Scan(context.Background(), bytes.NewReader([]byte("hello")))
	elapsed := time.Since(start)

	if !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want ErrTimeout", err)
	}
	if res.Verdict == Clean {
		t.Error("verdict is clean after a timeout")
	}
	if elapsed > 5*time.Second {
		t.Errorf("Scan returned after %s, want soon after the 200ms timeout", elapsed)
	}
}

func TestClamscanOutputs(t *testing.T) {
	tests := []struct {
		name          string
		script        string
		wantVerdict   Verdict
		wantSignature string
		wantErr       error
	}{
		{
			name:        "ok line",
			script:      `echo "$4: OK"`,
			wantVerdict: Clean,
		},
		{
			name:          "encrypted",
			script:        `echo "$4: Heuristics.Encrypted.Zip FOUND"; exit 1`,
			wantVerdict:   Unscannable,
			wantSignature: "Heuristics.Encrypted.Zip",
		},
		{
			name:    "exit 0 without ok line",
			script:  `echo "$4: Symbolic link"`,
			wantErr: ErrProtocol,
		},
		{
			name:    "exit 1 without found line",
			script:  `echo "something else"; exit 1`,
			wantErr: ErrProtocol,
		},
		{
			name:    "exit 2",
			script:  `echo "LibClamAV Error: broken" >&2; exit 2`,
			wantErr: ErrUnavailable,
		},
		{
			name:    "killed by signal",
			script:  `kill -SEGV $$`,
			wantErr: ErrUnavailable,
		},
	}

	file := writeFile(t, t.TempDir(), "upload", []byte("hello"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The fake gets: --no-summary --stdout -- PATH, so $4 is PATH.
			c := NewClamscan(ClamscanConfig{Path: fakeClamscan(t, tt.script)})

			res, err := c.ScanFile(context.Background(), file)

			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if res.Verdict == Clean {
					t.Error("verdict is clean")
				}
				return
			}
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

func TestClamscanExitTwoMessage(t *testing.T) {
	c := NewClamscan(ClamscanConfig{Path: fakeClamscan(t, `echo "LibClamAV Error: cl_load(): broken database" >&2; exit 2`)})

	_, err := c.ScanFile(context.Background(), "/nonexistent")

	if err == nil || !strings.Contains(err.Error(), "cl_load(): broken database") {
		t.Errorf("err = %v, want it to carry clamscan's stderr", err)
	}
}
