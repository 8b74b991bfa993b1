package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Defaults for the zero fields of ClamscanConfig.
const (
	DefaultClamscanPath    = "clamscan"
	DefaultClamscanTimeout = 10 * time.Minute
)

const (
	// clamscanWaitDelay bounds the wait for clamscan's output pipes after
	// it was killed or exited, in case a child process still holds them.
	clamscanWaitDelay = 2 * time.Second

	// maxClamscanOutput bounds the stdout and stderr kept from one run.
	maxClamscanOutput = 64 << 10
)

// ClamscanConfig configures a Clamscan runner.
type ClamscanConfig struct {
	// Path is the clamscan program, looked up on PATH when it has no
	// slash. Empty means DefaultClamscanPath.
	Path string

	// DatabaseDir, when set, is passed as -d so clamscan loads only the
	// signatures in that directory.
	DatabaseDir string

	// Timeout bounds one run of clamscan, loading the signatures included.
	// clamscan is killed when it runs longer. Zero means
	// DefaultClamscanTimeout.
	Timeout time.Duration

	// TempDir is the directory for the temporary copy of the stream that
	// Scan writes. Empty means os.TempDir().
	TempDir string

	// Log receives warnings that clamscan prints beside a clean result,
	// such as an outdated signature database. Nil discards them.
	Log *slog.Logger

	// Args are extra clamscan options placed before the file, such as
	// "--max-filesize=200M" or "--alert-exceeds-max=yes".
	Args []string
}

var (
	_ Scanner     = (*Clamscan)(nil)
	_ FileScanner = (*Clamscan)(nil)
)

// Clamscan scans files by running the clamscan program once per file. Each
// run loads the whole signature database, so every scan pays the load time
// of the official databases. It suits low upload rates or machines without
// clamd. It is safe for concurrent use.
//
// NOTE: clamscan reports files over its --max-filesize (100 MB by default)
// or --max-scansize as clean without scanning them. Raise the limits in Args,
// add --alert-exceeds-max=yes, or check the limit with ProbeLimit.
type Clamscan struct {
	cfg ClamscanConfig
}

// NewClamscan returns a runner for cfg. It does not run clamscan.
func NewClamscan(cfg ClamscanConfig) *Clamscan {
	if cfg.Path == "" {
		cfg.Path = DefaultClamscanPath
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultClamscanTimeout
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}

	return &Clamscan{cfg: cfg}
}

// Name returns "clamscan".
func (c *Clamscan) Name() string { return "clamscan" }

// Ping checks that clamscan runs and that DatabaseDir, if set, is a
// directory. It does not load the signatures.
func (c *Clamscan) Ping(ctx context.Context) error {
	if c.cfg.DatabaseDir != "" {
		info, err := os.Stat(c.cfg.DatabaseDir)
		if err != nil {
			return fmt.Errorf("clamscan database directory: %w: %w", ErrUnavailable, err)
		}
		if !info.IsDir() {
			return fmt.Errorf("clamscan database directory %s: %w: not a directory", c.cfg.DatabaseDir, ErrUnavailable)
		}
	}

	if _, err := c.Version(ctx); err != nil {
		return err
	}
	return nil
}

// Version runs "clamscan --version" and parses its output with
// ParseVersion.
func (c *Clamscan) Version(ctx context.Context) (Version, error) {
	out, err := c.run(ctx, "--version")
	if err != nil {
		return Version{}, fmt.Errorf("clamscan --version: %w", err)
	}
	if out.exitCode != 0 {
		return Version{}, fmt.Errorf("clamscan --version: %w", out.failure())
	}

	firstLine, _, _ := strings.Cut(out.stdout, "\n")
	v, err := ParseVersion(firstLine)
	if err != nil {
		return Version{}, fmt.Errorf("clamscan --version: %w", err)
	}
	return v, nil
}

// Scan copies r into a temporary file in TempDir, readable only by this
// user, scans it with ScanFile and removes it. A read error from r is
// returned wrapped, without a scanner sentinel.
func (c *Clamscan) Scan(ctx context.Context, r io.Reader) (Result, error) {
	f, err := os.CreateTemp(c.cfg.TempDir, "vaultdrop-scan-*")
	if err != nil {
		return Result{}, fmt.Errorf("clamscan stream: %w: %w", ErrUnavailable, err)
	}
	defer os.Remove(f.Name())

	if err := copyToFile(f, r); err != nil {
		f.Close()
		return Result{}, fmt.Errorf("clamscan stream: %w", err)
	}
	if err := f.Close(); err != nil {
		return Result{}, fmt.Errorf("clamscan stream: close %s: %w: %w", f.Name(), ErrUnavailable, err)
	}

	return c.ScanFile(ctx, f.Name())
}

// copyToFile copies r into f, telling read errors from r (the caller's)
// apart from write errors on f (the scanner's).
func copyToFile(f *os.File, r io.Reader) error {
	src := &recordingReader{r: r}

	_, err := io.Copy(f, src)
	switch {
	case err == nil:
		return nil
	case src.err != nil:
		return fmt.Errorf("read stream: %w", src.err)
	default:
		return fmt.Errorf("write %s: %w: %w", f.Name(), ErrUnavailable, err)
	}
}

type recordingReader struct {
	r   io.Reader
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// ScanFile runs "clamscan --no-summary --stdout [-d DIR] [Args] -- path".
// Exit status 0 with the line "PATH: OK" (or "PATH: Empty file") is
// Clean, and exit status 1 with "PATH: NAME FOUND" is the verdict Classify
// gives for NAME. Exit status 2, any other status and output that does not
// match are errors carrying clamscan's stderr.
func (c *Clamscan) ScanFile(ctx context.Context, path string) (Result, error) {
	res, err := c.scanFile(ctx, path)
	if err != nil {
		return Result{}, fmt.Errorf("clamscan %s: %w", path, err)
	}
	return res, nil
}

func (c *Clamscan) scanFile(ctx context.Context, path string) (Result, error) {
	args := []string{"--no-summary", "--stdout"}
	if c.cfg.DatabaseDir != "" {
		args = append(args, "-d", c.cfg.DatabaseDir)
	}
	args = append(args, c.cfg.Args...)
	args = append(args, "--", path)

	out, err := c.run(ctx, args...)
	if err != nil {
		return Result{}, err
	}

	switch out.exitCode {
	case 0:
		c.logWarnings(out.stderr)
		return parseClean(out.stdout, path)
	case 1:
		return parseFound(out.stdout, path)
	default:
		return Result{}, out.failure()
	}
}

// logWarnings logs what clamscan printed on stderr with a clean exit, cut to
// 512 bytes: a warning there (old signatures, a skipped limit) is no
// verdict, but an operator must see it.
func (c *Clamscan) logWarnings(stderr string) {
	stderr = strings.TrimSpace(stderr)
	if stderr == "" || c.cfg.Log == nil {
		return
	}
	if len(stderr) > 512 {
		stderr = strings.ToValidUTF8(stderr[:512], "") + "…"
	}
	c.cfg.Log.Warn("clamscan printed a warning", "path", c.cfg.Path, "stderr", stderr)
}

// parseClean confirms a clean exit with clamscan's line for path, because
// clamscan also exits 0 for paths it skips, such as a directory it walks.
func parseClean(stdout, path string) (Result, error) {
	for _, line := range strings.Split(stdout, "\n") {
		if line == path+": OK" || line == path+": Empty file" {
			return Result{Verdict: Clean}, nil
		}
	}
	return Result{}, fmt.Errorf("%w: exit status 0 without an OK line in %q", ErrProtocol, shorten(stdout))
}

func parseFound(stdout, path string) (Result, error) {
	for _, line := range strings.Split(stdout, "\n") {
		rest, ok := strings.CutPrefix(line, path+": ")
		if !ok {
			continue
		}
		if name, ok := strings.CutSuffix(rest, " FOUND"); ok && validSignature(name) {
			return Classify(name), nil
		}
	}
	return Result{}, fmt.Errorf("%w: exit status 1 without a FOUND line in %q", ErrProtocol, shorten(stdout))
}

// clamscanOutput is the output and exit status of one clamscan run.
type clamscanOutput struct {
	stdout   string
	stderr   string
	exitCode int    // -1 when a signal ended clamscan
	status   string // "exit status 2", "signal: segmentation fault"
}

// failure describes a run that ended with an error status.
func (o clamscanOutput) failure() error {
	msg := strings.TrimSpace(o.stderr)
	if msg == "" {
		msg = strings.TrimSpace(o.stdout)
	}
	return fmt.Errorf("%w: %s: %s", ErrUnavailable, o.status, shorten(msg))
}

// run runs clamscan with args, killing it after Timeout. It returns an
// error only when clamscan did not run to an exit status.
func (c *Clamscan) run(ctx context.Context, args ...string) (clamscanOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	var stdout, stderr limitedBuffer
	cmd := exec.CommandContext(ctx, c.cfg.Path, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = clamscanWaitDelay

	err := cmd.Run()
	if ctxErr := ctx.Err(); err != nil && ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return clamscanOutput{}, fmt.Errorf("%w: killed after %s: %w", ErrTimeout, c.cfg.Timeout, ctxErr)
		}
		return clamscanOutput{}, ctxErr
	}

	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
		return clamscanOutput{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}

	return clamscanOutput{
		stdout:   stdout.String(),
		stderr:   stderr.String(),
		exitCode: cmd.ProcessState.ExitCode(),
		status:   cmd.ProcessState.String(),
	}, nil
}

// limitedBuffer keeps the first maxClamscanOutput bytes written to it and
// drops the rest, so a runaway program cannot fill memory.
type limitedBuffer struct {
	bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	room := maxClamscanOutput - b.Len()
	if room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
