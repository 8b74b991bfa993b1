package scanner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
)

// logRecords decodes the JSON log lines in buf.
func logRecords(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()

	var records []map[string]any
	dec := json.NewDecoder(buf)
	for dec.More() {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		records = append(records, rec)
	}
	return records
}

// findRecord returns the first record with message msg, or nil.
func findRecord(records []map[string]any, msg string) map[string]any {
	for _, rec := range records {
		if rec["msg"] == msg {
			return rec
		}
	}
	return nil
}

func testLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestDetectClamdAddress(t *testing.T) {
	d := sharedClamd.Daemon(t)

	for _, tr := range transports(d) {
		t.Run(tr.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := DetectConfig{ClamdAddress: tr.addr, ClamdCandidates: []string{}}

			s, err := Detect(context.Background(), cfg, testLogger(&logs))

			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if s.Name() != "clamd" {
				t.Errorf("scanner = %s, want clamd", s.Name())
			}
			rec := findRecord(logRecords(t, &logs), "scanner selected")
			if rec == nil {
				t.Fatal("no \"scanner selected\" log record")
			}
			if rec["address"] != tr.addr {
				t.Errorf("logged address = %v, want %s", rec["address"], tr.addr)
			}
			if rec["engine"] == "" || rec["engine"] == nil {
				t.Error("logged engine is empty")
			}
		})
	}
}

func TestDetectCandidates(t *testing.T) {
	d := sharedClamd.Daemon(t)
	missing := filepath.Join(t.TempDir(), "clamd.sock")
	cfg := DetectConfig{ClamdCandidates: []string{missing, d.SocketPath}}

	s, err := Detect(context.Background(), cfg, nil)

	if err != nil {
		t.Fatalf("err = %v", err)
	}
	c, ok := s.(*Clamd)
	if !ok {
		t.Fatalf("scanner = %T, want *Clamd", s)
	}
	if c.Address() != d.SocketPath {
		t.Errorf("address = %s, want %s", c.Address(), d.SocketPath)
	}
}

func TestDetectFallsBackToClamscan(t *testing.T) {
	d := sharedClamd.Daemon(t)
	missing := filepath.Join(t.TempDir(), "clamd.sock")
	var logs bytes.Buffer
	cfg := DetectConfig{ClamdAddress: missing, ClamdCandidates: []string{}, DatabaseDir: d.DatabaseDir}

	s, err := Detect(context.Background(), cfg, testLogger(&logs))

	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if s.Name() != "clamscan" {
		t.Errorf("scanner = %s, want clamscan", s.Name())
	}
	records := logRecords(t, &logs)
	if findRecord(records, "configured scanner not reachable, trying others") == nil {
		t.Error("no warning for the configured clamd address")
	}
	if findRecord(records, "scanner selected") == nil {
		t.Error("no \"scanner selected\" log record")
	}

	res, err := s.Scan(context.Background(), bytes.NewReader(EICAR()))
	if err != nil {
		t.Fatalf("scan err = %v", err)
	}
	if res.Verdict != Infected {
		t.Errorf("verdict = %q, want infected", res.Verdict)
	}
}

func TestDetectNotFound(t *testing.T) {
	t.Setenv("PATH", "")
	missing := filepath.Join(t.TempDir(), "clamd.sock")
	cfg := DetectConfig{ClamdAddress: missing, ClamdCandidates: []string{missing + ".2"}}

	s, err := Detect(context.Background(), cfg, nil)

	if !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
	if s != nil {
		t.Errorf("scanner = %v, want nil", s)
	}
}

func TestDetectCandidateOrder(t *testing.T) {
	cfg := DetectConfig{ClamdAddress: "/run/clamav/clamd.ctl"}

	got := cfg.candidates()

	want := DefaultClamdAddresses()
	if len(got) != len(want) {
		t.Fatalf("candidates = %v, want %v without duplicates", got, want)
	}
	if got[0] != cfg.ClamdAddress {
		t.Errorf("first candidate = %s, want the configured address", got[0])
	}
}

func TestNewModes(t *testing.T) {
	d := sharedClamd.Daemon(t)
	missing := filepath.Join(t.TempDir(), "clamd.sock")

	tests := []struct {
		name     string
		mode     string
		cfg      DetectConfig
		wantName string
		wantErr  bool
	}{
		{name: "clamd", mode: ModeClamd, cfg: DetectConfig{ClamdAddress: d.TCPAddr}, wantName: "clamd"},
		{name: "clamd down", mode: ModeClamd, cfg: DetectConfig{ClamdAddress: missing}, wantName: "clamd"},
		{name: "clamd without address", mode: ModeClamd, wantErr: true},
		{name: "clamd bad address", mode: ModeClamd, cfg: DetectConfig{ClamdAddress: "clamd"}, wantErr: true},
		{name: "clamscan", mode: ModeClamscan, cfg: DetectConfig{DatabaseDir: d.DatabaseDir}, wantName: "clamscan"},
		{name: "auto", mode: ModeAuto, cfg: DetectConfig{ClamdAddress: d.SocketPath, ClamdCandidates: []string{}}, wantName: "clamd"},
		{name: "unknown", mode: "sophos", wantErr: true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(context.Background(), tt.mode, tt.cfg, nil)

			if tt.wantErr {
				if err == nil {
					t.Errorf("scanner = %v, err = nil, want an error", s)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if s.Name() != tt.wantName {
				t.Errorf("scanner = %s, want %s", s.Name(), tt.wantName)
			}
		})
	}
}

func TestDetectInvalidAddress(t *testing.T) {
	cfg := DetectConfig{ClamdAddress: "clamd", ClamdCandidates: []string{}}

	s, err := Detect(context.Background(), cfg, nil)

	if err == nil {
		t.Fatalf("scanner = %v, err = nil, want an error", s)
	}
	if errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want a configuration error, not ErrNotFound", err)
	}
}
