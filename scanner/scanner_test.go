package scanner

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
)

// sharedClamd is the clamd with default limits that most tests use. Tests
// that need other limits, or stop the daemon, start their own.
var sharedClamd clamavtest.Shared

func TestMain(m *testing.M) {
	m.Run()
	sharedClamd.Stop()
}

// transport is one way to reach a test clamd.
type transport struct {
	name string
	addr string
}

// transports returns the unix socket and TCP addresses of d.
func transports(d *clamavtest.Daemon) []transport {
	return []transport{
		{name: "unix", addr: d.SocketPath},
		{name: "tcp", addr: d.TCPAddr},
	}
}

func TestEICARBytes(t *testing.T) {
	b := EICAR()

	if len(b) != 68 {
		t.Errorf("len = %d, want 68", len(b))
	}
	sum := md5.Sum(b)
	if got := hex.EncodeToString(sum[:]); got != "44d88612fea8a8f36de82e1278abb02f" {
		t.Errorf("md5 = %s, want the published EICAR md5", got)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		signature string
		want      Verdict
	}{
		{name: "official", signature: "Win.Test.EICAR_HDB-1", want: Infected},
		{name: "unofficial", signature: "Eicar-Test-Signature.UNOFFICIAL", want: Infected},
		{name: "encrypted zip", signature: "Heuristics.Encrypted.Zip", want: Unscannable},
		{name: "encrypted pdf", signature: "Heuristics.Encrypted.PDF", want: Unscannable},
		{name: "max file size", signature: "Heuristics.Limits.Exceeded.MaxFileSize", want: Unscannable},
		{name: "max recursion", signature: "Heuristics.Limits.Exceeded.MaxRecursion", want: Unscannable},
		{name: "other heuristic", signature: "Heuristics.Broken.Executable", want: Infected},
		{name: "phishing", signature: "Heuristics.Phishing.Email.SpoofedDomain", want: Infected},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(tt.signature)

			if got.Verdict != tt.want {
				t.Errorf("verdict = %q, want %q", got.Verdict, tt.want)
			}
			if got.Signature != tt.signature {
				t.Errorf("signature = %q, want %q", got.Signature, tt.signature)
			}
			if tt.want == Unscannable && got.Reason == "" {
				t.Error("reason is empty for an unscannable verdict")
			}
		})
	}
}

func TestResultErr(t *testing.T) {
	tests := []struct {
		name   string
		result Result
		want   error
	}{
		{name: "clean", result: Result{Verdict: Clean}, want: nil},
		{name: "infected", result: Classify("Eicar-Test-Signature"), want: ErrInfected},
		{name: "unscannable", result: Classify("Heuristics.Encrypted.Zip"), want: ErrUnscannable},
		{name: "zero", result: Result{}, want: ErrProtocol},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.result.Err()

			if tt.want == nil && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		want    Version
		wantErr bool
	}{
		{
			name:  "official",
			reply: "ClamAV 1.4.3/27500/Wed Dec  3 09:00:00 2026",
			want: Version{
				Engine:        "1.4.3",
				Signatures:    27500,
				SignatureDate: time.Date(2026, time.December, 3, 9, 0, 0, 0, time.Local),
			},
		},
		{name: "unofficial only", reply: "ClamAV 1.4.3", want: Version{Engine: "1.4.3"}},
		{name: "trailing newline", reply: "ClamAV 1.0.7\n", want: Version{Engine: "1.0.7"}},
		{name: "no date", reply: "ClamAV 1.4.3/27500", want: Version{Engine: "1.4.3", Signatures: 27500}},
		{name: "other product", reply: "ClamXAV 1.4.3", wantErr: true},
		{name: "empty", reply: "", wantErr: true},
		{name: "no engine", reply: "ClamAV /27500", wantErr: true},
		{name: "bad signatures", reply: "ClamAV 1.4.3/abc/Wed Dec  3 09:00:00 2026", wantErr: true},
		{name: "bad date", reply: "ClamAV 1.4.3/27500/yesterday", wantErr: true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseVersion(tt.reply)

			if tt.wantErr {
				if !errors.Is(err, ErrProtocol) {
					t.Errorf("err = %v, want ErrProtocol", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got.Engine != tt.want.Engine {
				t.Errorf("engine = %q, want %q", got.Engine, tt.want.Engine)
			}
			if got.Signatures != tt.want.Signatures {
				t.Errorf("signatures = %d, want %d", got.Signatures, tt.want.Signatures)
			}
			if !got.SignatureDate.Equal(tt.want.SignatureDate) {
				t.Errorf("signature date = %v, want %v", got.SignatureDate, tt.want.SignatureDate)
			}
		})
	}
}

func TestVersionString(t *testing.T) {
	tests := []struct {
		name    string
		version Version
		want    string
	}{
		{name: "official", version: Version{Engine: "1.4.3", Signatures: 27500}, want: "1.4.3/27500"},
		{name: "unofficial only", version: Version{Engine: "1.4.3"}, want: "1.4.3"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.version.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
