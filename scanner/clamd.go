package scanner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults for the zero fields of ClamdConfig.
const (
	DefaultChunkSize      = 64 << 10
	DefaultConnectTimeout = 5 * time.Second
	DefaultIOTimeout      = 30 * time.Second
	DefaultScanTimeout    = 10 * time.Minute

	// MaxChunkSize is the largest ChunkSize accepted.
	MaxChunkSize = 8 << 20
)

const (
	// maxReplyLength bounds a clamd reply. Real replies are a signature name
	// and a few words, so anything longer is junk.
	maxReplyLength = 4096

	// streamLimitReply starts the reply clamd sends, before closing the
	// connection, when an INSTREAM passes its StreamMaxLength.
	streamLimitReply = "INSTREAM size limit exceeded"

	// readTimeoutReply is what clamd 1.4 sends, ending it with a newline
	// instead of a NUL, before closing a connection that sent no data for
	// its ReadTimeout.
	readTimeoutReply = "COMMAND READ TIMED OUT"
)

// ClamdConfig configures a Clamd client.
type ClamdConfig struct {
	// Address is a unix socket path, "unix:PATH", "host:port" or
	// "tcp:host:port". See ParseAddress.
	Address string

	// ConnectTimeout bounds connecting to clamd. A connection that cannot
	// be made in time counts as ErrUnavailable. Zero means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// IOTimeout bounds each write to clamd and the wait for a PING or
	// VERSION reply, so a clamd that stops reading fails with ErrTimeout.
	// Time spent waiting for the caller's reader does not count. Zero
	// means DefaultIOTimeout.
	IOTimeout time.Duration

	// ScanTimeout bounds a whole Scan call. It includes the time spent
	// waiting for the caller's reader, so with a streamed upload it must
	// cover the slowest upload accepted, and the time clamd spends
	// scanning after the last byte, when it sends nothing. Zero means
	// DefaultScanTimeout.
	ScanTimeout time.Duration

	// ChunkSize is the largest INSTREAM chunk in bytes. Zero means
	// DefaultChunkSize.
	ChunkSize int
}

// Validate checks the address and that no field is negative or too large.
func (c ClamdConfig) Validate() error {
	if _, _, err := ParseAddress(c.Address); err != nil {
		return err
	}

	if c.ConnectTimeout < 0 || c.IOTimeout < 0 || c.ScanTimeout < 0 {
		return fmt.Errorf("invalid clamd timeouts for %s: must not be negative", c.Address)
	}
	if c.ChunkSize < 0 || c.ChunkSize > MaxChunkSize {
		return fmt.Errorf("invalid clamd chunk size %d: must be between 0 (default) and %d bytes", c.ChunkSize, MaxChunkSize)
	}

	return nil
}

func (c ClamdConfig) withDefaults() ClamdConfig {
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.IOTimeout == 0 {
		c.IOTimeout = DefaultIOTimeout
	}
	if c.ScanTimeout == 0 {
		c.ScanTimeout = DefaultScanTimeout
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	return c
}

// ParseAddress splits a clamd address into a network and an address for
// net.Dial. It accepts "unix:PATH", "tcp:host:port", a path containing a
// slash (a unix socket) and "host:port" (TCP).
func ParseAddress(addr string) (network, address string, err error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return "", "", fmt.Errorf("invalid clamd address %q: the socket path is empty", addr)
		}
		return "unix", path, nil
	}

	if hostPort, ok := strings.CutPrefix(addr, "tcp:"); ok {
		return "tcp", hostPort, checkHostPort(addr, hostPort)
	}

	if strings.Contains(addr, "/") {
		return "unix", addr, nil
	}

	return "tcp", addr, checkHostPort(addr, addr)
}

func checkHostPort(addr, hostPort string) error {
	const want = "want a socket path, unix:PATH, host:port or tcp:host:port"

	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || host == "" {
		return fmt.Errorf("invalid clamd address %q: %s", addr, want)
	}

	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid clamd address %q: port %q is not a number from 1 to 65535", addr, port)
	}

	return nil
}

var _ Scanner = (*Clamd)(nil)

// Clamd scans streams with a clamd daemon over the INSTREAM command. It
// opens one connection per call, so it is safe for concurrent use and holds
// no connection between calls.
type Clamd struct {
	cfg       ClamdConfig
	network   string
	address   string
	configErr error
}

// NewClamd returns a client for the clamd at cfg.Address. It does not
// connect. An invalid cfg makes every call fail with ErrUnavailable and the
// reason, so call cfg.Validate first to reject it at startup.
func NewClamd(cfg ClamdConfig) *Clamd {
	c := &Clamd{cfg: cfg.withDefaults()}

	c.configErr = cfg.Validate()
	if c.configErr == nil {
		c.network, c.address, _ = ParseAddress(cfg.Address)
	}

	return c
}

// Name returns "clamd".
func (c *Clamd) Name() string { return "clamd" }

// Address returns the configured address, as given.
func (c *Clamd) Address() string { return c.cfg.Address }

// Ping sends PING and expects PONG.
func (c *Clamd) Ping(ctx context.Context) error {
	reply, err := c.command(ctx, "zPING\x00")
	if err != nil {
		return fmt.Errorf("clamd PING to %s: %w", c.cfg.Address, err)
	}

	if reply != "PONG" {
		return fmt.Errorf("clamd PING to %s: %w: reply %q, want PONG", c.cfg.Address, ErrProtocol, shorten(reply))
	}
	return nil
}

// Version sends VERSION and parses the reply with ParseVersion.
func (c *Clamd) Version(ctx context.Context) (Version, error) {
	reply, err := c.command(ctx, "zVERSION\x00")
	if err != nil {
		return Version{}, fmt.Errorf("clamd VERSION to %s: %w", c.cfg.Address, err)
	}

	v, err := ParseVersion(reply)
	if err != nil {
		return Version{}, fmt.Errorf("clamd VERSION to %s: %w", c.cfg.Address, err)
	}
	return v, nil
}

// Scan streams r to clamd with INSTREAM and returns its verdict. Only the
// reply "stream: OK" after the whole stream is Clean.
//
// Scan holds at most one chunk of r in memory. It stops reading r at the
// first failure, so a caller feeding r through an io.Pipe must close the
// pipe's reader when Scan returns, or its writer blocks forever. A read
// error from r is returned wrapped, without a scanner sentinel.
//
// A stream longer than clamd's StreamMaxLength fails with ErrStreamLimit.
// A reader that stalls longer than clamd's ReadTimeout (120 seconds by
// default) makes clamd close the connection, which fails with ErrTimeout.
//
// NOTE: clamd skips files over its MaxFileSize or MaxScanSize and replies
// "stream: OK" for them unless AlertExceedsMax is set. Keep StreamMaxLength
// at or below both limits, or find the real limit with ProbeLimit.
func (c *Clamd) Scan(ctx context.Context, r io.Reader) (Result, error) {
	res, err := c.instream(ctx, r)
	if err != nil {
		return Result{}, fmt.Errorf("clamd INSTREAM to %s: %w", c.cfg.Address, err)
	}
	return res, nil
}

func (c *Clamd) instream(ctx context.Context, r io.Reader) (Result, error) {
	limit := time.Now().Add(c.cfg.ScanTimeout)

	conn, err := c.dial(ctx)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	conn.setReadDeadline(limit)

	err = c.sendStream(conn, r, limit)
	var uploadErr *readError
	switch {
	case errors.As(err, &uploadErr):
		return Result{}, fmt.Errorf("read stream: %w", uploadErr.err)
	case errors.Is(err, errEarlyReply):
		return Result{}, c.earlyReply(ctx, conn)
	case err != nil:
		return Result{}, c.replyAfterWriteError(ctx, conn, limit, err)
	}

	reply, err := readReply(conn)
	if err != nil {
		return Result{}, classify(ctx, err)
	}
	return parseScanReply(reply)
}

// errEarlyReply means clamd sent something before the stream ended.
var errEarlyReply = errors.New("clamd replied before the end of the stream")

// readError carries a read error from the caller's reader, which is not a
// scanner failure.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

// sendStream sends the INSTREAM command, the chunks of r each after a
// 4-byte big-endian length, and the zero-length chunk that ends the stream.
func (c *Clamd) sendStream(conn *clamdConn, r io.Reader, limit time.Time) error {
	if err := conn.write([]byte("zINSTREAM\x00"), c.cfg.IOTimeout, limit); err != nil {
		return err
	}

	chunk := make([]byte, 4+c.cfg.ChunkSize)
	for {
		n, err := r.Read(chunk[4:])
		if n > 0 {
			if err := c.sendChunk(conn, chunk[:4+n], limit); err != nil {
				return err
			}
		}

		if err == io.EOF {
			break
		}
		if err != nil {
			return &readError{err}
		}
	}

	return c.sendChunk(conn, chunk[:4], limit)
}

// sendChunk writes one length-prefixed chunk, whose first 4 bytes are free
// for the length. It first checks for a reply, because clamd only replies
// before the end of a stream to reject it.
func (c *Clamd) sendChunk(conn *clamdConn, chunk []byte, limit time.Time) error {
	if replyWaiting(conn.Conn) {
		return errEarlyReply
	}

	binary.BigEndian.PutUint32(chunk, uint32(len(chunk)-4))
	return conn.write(chunk, c.cfg.IOTimeout, limit)
}

// earlyReply reads the reply that arrived before the end of the stream.
// clamd sends one only to reject a stream over StreamMaxLength. Any other
// early reply, a verdict included, means the server did not scan the whole
// stream.
func (c *Clamd) earlyReply(ctx context.Context, conn *clamdConn) error {
	reply, err := readReply(conn)
	if err != nil {
		return classify(ctx, err)
	}
	return rejectEarlyReply(reply)
}

// replyAfterWriteError looks for a reply after a failed write, because
// clamd closes the connection right after rejecting a stream over
// StreamMaxLength, which fails the next write. Without a reply the write
// error decides.
func (c *Clamd) replyAfterWriteError(ctx context.Context, conn *clamdConn, limit time.Time, writeErr error) error {
	if ctx.Err() != nil || errors.Is(writeErr, os.ErrDeadlineExceeded) {
		return classify(ctx, writeErr)
	}

	conn.setReadDeadline(earliest(time.Now().Add(c.cfg.IOTimeout), limit))
	reply, err := readReply(conn)
	if err != nil {
		return classify(ctx, writeErr)
	}
	return rejectEarlyReply(reply)
}

func rejectEarlyReply(reply string) error {
	if strings.HasPrefix(reply, streamLimitReply) {
		return fmt.Errorf("%w: clamd replied %q", ErrStreamLimit, shorten(reply))
	}
	return fmt.Errorf("%w: clamd replied %q before the end of the stream", ErrProtocol, shorten(reply))
}

// parseScanReply turns the reply to a complete INSTREAM into a Result.
func parseScanReply(reply string) (Result, error) {
	if strings.HasPrefix(reply, streamLimitReply) {
		return Result{}, fmt.Errorf("%w: clamd replied %q", ErrStreamLimit, shorten(reply))
	}

	rest, ok := strings.CutPrefix(reply, "stream: ")
	if !ok {
		return Result{}, fmt.Errorf("%w: reply %q is not a verdict", ErrProtocol, shorten(reply))
	}
	if rest == "OK" {
		return Result{Verdict: Clean}, nil
	}

	if name, ok := strings.CutSuffix(rest, " FOUND"); ok && validSignature(name) {
		return Classify(name), nil
	}
	if strings.HasSuffix(rest, " ERROR") {
		return Result{}, fmt.Errorf("%w: clamd could not scan the stream: %q", ErrProtocol, shorten(reply))
	}

	return Result{}, fmt.Errorf("%w: reply %q is not a verdict", ErrProtocol, shorten(reply))
}

// validSignature accepts printable ASCII without spaces, so that a
// garbled reply never becomes a signature name in logs and pages.
func validSignature(name string) bool {
	if name == "" {
		return false
	}

	for _, r := range name {
		if r <= ' ' || r >= 0x7f {
			return false
		}
	}
	return true
}

// command sends a command that needs no data and returns the reply.
func (c *Clamd) command(ctx context.Context, cmd string) (string, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()

	limit := time.Now().Add(c.cfg.IOTimeout)
	if err := conn.write([]byte(cmd), c.cfg.IOTimeout, limit); err != nil {
		return "", classify(ctx, err)
	}

	conn.setReadDeadline(limit)
	reply, err := readReply(conn)
	if err != nil {
		return "", classify(ctx, err)
	}
	return reply, nil
}

// readReply reads a NUL-terminated reply. It returns an error wrapping
// ErrUnavailable when the connection closes before any byte, ErrTimeout
// when clamd closes it after its ReadTimeout, ErrProtocol for a reply cut
// short or too long, and network errors unchanged.
func readReply(r io.Reader) (string, error) {
	var reply []byte
	buf := make([]byte, 512)

	for {
		n, err := r.Read(buf)
		reply = append(reply, buf[:n]...)

		if i := bytes.IndexByte(reply, 0); i >= 0 {
			return string(reply[:i]), nil
		}
		if len(reply) > maxReplyLength {
			return "", fmt.Errorf("%w: reply longer than %d bytes", ErrProtocol, maxReplyLength)
		}

		switch {
		case err == io.EOF && len(reply) == 0:
			return "", fmt.Errorf("%w: connection closed without a reply", ErrUnavailable)
		case err == io.EOF && strings.TrimSpace(string(reply)) == readTimeoutReply:
			return "", fmt.Errorf("%w: clamd received no data for its ReadTimeout and closed the connection", ErrTimeout)
		case err == io.EOF:
			return "", fmt.Errorf("%w: connection closed inside the reply %q", ErrProtocol, shorten(string(reply)))
		case err != nil:
			return "", err
		}
	}
}

// shorten cuts a reply for an error message, because a broken server may
// send anything.
func shorten(s string) string {
	const maxLength = 200
	if len(s) <= maxLength {
		return s
	}
	return s[:maxLength] + "..."
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
