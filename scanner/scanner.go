// Package scanner judges uploaded bytes with a local ClamAV, either a clamd
// daemon spoken to over its socket or the clamscan program.
//
// Every outcome that is not a definite verdict is an error, never clean: a
// scanner that is down, slow, over its limits or replying garbage must not
// let a file through.
package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Verdict is the scanner's decision about one stream.
type Verdict string

const (
	// Clean means the scanner read every byte and found nothing.
	Clean Verdict = "clean"
	// Infected means a signature matched; Result.Signature names it.
	Infected Verdict = "infected"
	// Unscannable means the scanner could not judge the content, for
	// example an encrypted archive (Heuristics.Encrypted.*) or a file over
	// its size limits (Heuristics.Limits.Exceeded.*). Result.Signature
	// carries the heuristic name and Result.Reason a readable explanation.
	Unscannable Verdict = "unscannable"
)

// Result is the outcome of one scan.
type Result struct {
	Verdict   Verdict
	Signature string // signature or heuristic name, "" when clean
	Reason    string // human-readable explanation for Unscannable
}

// Err returns nil for Clean, an error wrapping ErrInfected or
// ErrUnscannable that names the signature, and an error wrapping ErrProtocol
// for a Result without a known verdict, such as the zero Result.
func (r Result) Err() error {
	switch r.Verdict {
	case Clean:
		return nil
	case Infected:
		return fmt.Errorf("%w: %s", ErrInfected, r.Signature)
	case Unscannable:
		return fmt.Errorf("%w: %s (%s)", ErrUnscannable, r.Reason, r.Signature)
	default:
		return fmt.Errorf("%w: no verdict %q", ErrProtocol, r.Verdict)
	}
}

// Heuristic name prefixes that mean clamd could not judge the content
// rather than found something in it.
const (
	encryptedPrefix      = "Heuristics.Encrypted"
	limitsExceededPrefix = "Heuristics.Limits.Exceeded"
)

// Classify turns a detection name reported by ClamAV into a Result. Names
// starting with Heuristics.Encrypted (an encrypted archive or document) or
// Heuristics.Limits.Exceeded (a file over MaxFileSize, MaxScanSize or
// MaxRecursion) are Unscannable, because ClamAV reports them instead of
// scanning the content. Every other name, other heuristics included, is
// Infected. The name is kept as sent, including a ".UNOFFICIAL" suffix.
func Classify(signature string) Result {
	switch {
	case strings.HasPrefix(signature, encryptedPrefix):
		return Result{
			Verdict:   Unscannable,
			Signature: signature,
			Reason:    "the file is encrypted, so the scanner cannot read its contents",
		}
	case strings.HasPrefix(signature, limitsExceededPrefix):
		return Result{
			Verdict:   Unscannable,
			Signature: signature,
			Reason:    "the file is over the scanner's size or nesting limits, so it was not fully scanned",
		}
	default:
		return Result{Verdict: Infected, Signature: signature}
	}
}

// Version identifies the engine and signatures that produced a verdict.
type Version struct {
	Engine        string    // "1.4.3"
	Signatures    int       // daily database version, 0 when unknown
	SignatureDate time.Time // zero when unknown
}

// String formats v as ClamAV's VERSION reply does, without the product name.
func (v Version) String() string {
	if v.Signatures == 0 {
		return v.Engine
	}
	return v.Engine + "/" + strconv.Itoa(v.Signatures)
}

// ParseVersion parses a VERSION reply or the first line of
// "clamscan --version": "ClamAV 1.4.3/27500/Wed Dec  3 09:00:00 2026", or
// "ClamAV 1.4.3" when no official database is loaded, which leaves
// Signatures and SignatureDate zero. Errors wrap ErrProtocol.
//
// NOTE: ClamAV prints the signature date in the scanner's local time zone
// without naming it, so SignatureDate is read in this process's zone and is
// off by the difference when the scanner runs elsewhere.
func ParseVersion(s string) (Version, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "ClamAV ")
	if !ok {
		return Version{}, fmt.Errorf("%w: version %q does not start with \"ClamAV \"", ErrProtocol, s)
	}

	parts := strings.SplitN(rest, "/", 3)
	v := Version{Engine: parts[0]}
	if v.Engine == "" || strings.ContainsAny(v.Engine, " \t") {
		return Version{}, fmt.Errorf("%w: version %q has no engine version", ErrProtocol, s)
	}

	if len(parts) > 1 {
		n, err := strconv.Atoi(parts[1])
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("%w: version %q has an invalid signature version", ErrProtocol, s)
		}
		v.Signatures = n
	}

	if len(parts) > 2 {
		t, err := time.ParseInLocation(time.ANSIC, parts[2], time.Local)
		if err != nil {
			return Version{}, fmt.Errorf("%w: version %q has an invalid signature date", ErrProtocol, s)
		}
		v.SignatureDate = t
	}

	return v, nil
}

// Scanner scans one stream of bytes. Implementations are safe for
// concurrent use.
type Scanner interface {
	// Name is "clamd" or "clamscan".
	Name() string

	// Scan reads r to its end and returns the verdict. A scan that cannot
	// finish returns an error wrapping ErrUnavailable, ErrTimeout,
	// ErrStreamLimit or ErrProtocol, the context's error when ctx ends, or
	// r's own read error, and never returns Clean with an error.
	//
	// Scan may stop reading r early when it fails, so a caller that feeds
	// r from an io.Pipe must close the pipe's reader once Scan returns.
	Scan(ctx context.Context, r io.Reader) (Result, error)

	// Ping checks that the scanner can take work now.
	Ping(ctx context.Context) error

	// Version reports the engine and signature versions.
	Version(ctx context.Context) (Version, error)
}

// FileScanner is implemented by scanners that work best on a file that is
// already on disk (clamscan). Callers that have the whole file on disk
// prefer ScanFile over Scan.
type FileScanner interface {
	ScanFile(ctx context.Context, path string) (Result, error)
}

var (
	// ErrUnavailable means the scanner could not be reached or started.
	ErrUnavailable = errors.New("scanner unavailable")
	// ErrTimeout means the scanner did not reply in time.
	ErrTimeout = errors.New("scanner timed out")
	// ErrStreamLimit means clamd stopped reading at its StreamMaxLength.
	ErrStreamLimit = errors.New("file is larger than the scanner's stream limit")
	// ErrProtocol means the scanner replied with something that is not a verdict.
	ErrProtocol = errors.New("scanner sent an unexpected reply")

	// ErrInfected is wrapped by Result.Err for an Infected verdict.
	ErrInfected = errors.New("file is infected")
	// ErrUnscannable is wrapped by Result.Err for an Unscannable verdict.
	ErrUnscannable = errors.New("file cannot be scanned")
)
