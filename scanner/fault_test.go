package scanner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeClamd serves one broken behaviour that a real clamd cannot be made to
// show. Handlers get a channel that closes when the test ends, so hanging
// handlers can return.
type fakeClamd struct {
	ln    net.Listener
	done  chan struct{}
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// startFake listens on network ("unix" or "tcp" on 127.0.0.1) and runs
// handle for each connection. It returns the address for ClamdConfig.
func startFake(t *testing.T, network string, handle func(conn net.Conn, done <-chan struct{})) string {
	t.Helper()

	addr := "127.0.0.1:0"
	if network == "unix" {
		// A short directory, because t.TempDir paths can pass the 108-byte
		// limit of unix socket paths.
		dir, err := os.MkdirTemp("/tmp", "fake")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		addr = filepath.Join(dir, "clamd.sock")
	}

	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}

	f := &fakeClamd{ln: ln, done: make(chan struct{})}
	f.wg.Go(func() { f.serve(handle) })
	t.Cleanup(f.close)

	return ln.Addr().String()
}

func (f *fakeClamd) serve(handle func(net.Conn, <-chan struct{})) {
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}

		f.mu.Lock()
		f.conns = append(f.conns, conn)
		f.mu.Unlock()

		f.wg.Go(func() {
			handle(conn, f.done)
			conn.Close()
		})
	}
}

func (f *fakeClamd) close() {
	f.ln.Close()
	close(f.done)

	f.mu.Lock()
	for _, conn := range f.conns {
		conn.Close()
	}
	f.mu.Unlock()

	f.wg.Wait()
}

// readInstream reads an INSTREAM command and its chunks up to the
// zero-length chunk.
func readInstream(conn net.Conn) error {
	cmd := make([]byte, len("zINSTREAM\x00"))
	if _, err := io.ReadFull(conn, cmd); err != nil {
		return err
	}

	var size [4]byte
	for {
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(size[:])
		if n == 0 {
			return nil
		}
		if _, err := io.CopyN(io.Discard, conn, int64(n)); err != nil {
			return err
		}
	}
}

// replyAfterStream reads the whole stream and then sends reply.
func replyAfterStream(reply string) func(net.Conn, <-chan struct{}) {
	return func(conn net.Conn, _ <-chan struct{}) {
		if readInstream(conn) == nil {
			conn.Write([]byte(reply))
		}
	}
}

func TestFakeClamdScan(t *testing.T) {
	small := bytes.Repeat([]byte("a"), 1000)
	large := bytes.Repeat([]byte("a"), 16<<20)

	tests := []struct {
		name   string
		handle func(net.Conn, <-chan struct{})
		data   []byte
		// want is the sentinel the error must wrap. Nil accepts any error.
		want error
	}{
		{
			name:   "hang after connect",
			handle: func(_ net.Conn, done <-chan struct{}) { <-done },
			data:   large,
			want:   ErrTimeout,
		},
		{
			name: "hang after stream",
			handle: func(conn net.Conn, done <-chan struct{}) {
				readInstream(conn)
				<-done
			},
			data: small,
			want: ErrTimeout,
		},
		{
			name: "close mid-stream",
			handle: func(conn net.Conn, _ <-chan struct{}) {
				io.CopyN(io.Discard, conn, 1000)
			},
			data: large,
			want: ErrUnavailable,
		},
		{
			name:   "close without reply",
			handle: replyAfterStream(""),
			data:   small,
			want:   ErrUnavailable,
		},
		{name: "garbage", handle: replyAfterStream("hello there\x00"), data: small, want: ErrProtocol},
		{name: "empty reply", handle: replyAfterStream("\x00"), data: small, want: ErrProtocol},
		{name: "unterminated ok", handle: replyAfterStream("stream: OK"), data: small, want: ErrProtocol},
		{name: "ok with newline", handle: replyAfterStream("stream: OK\n\x00"), data: small, want: ErrProtocol},
		{name: "endless reply", handle: replyAfterStream(string(bytes.Repeat([]byte("A"), 8192))), data: small, want: ErrProtocol},
		{name: "error reply", handle: replyAfterStream("stream: Can't allocate memory ERROR\x00"), data: small, want: ErrProtocol},
		{name: "found without name", handle: replyAfterStream("stream:  FOUND\x00"), data: small, want: ErrProtocol},
		{name: "found with control bytes", handle: replyAfterStream("stream: Bad\x1bName FOUND\x00"), data: small, want: ErrProtocol},
		{
			name: "ok then close",
			handle: func(conn net.Conn, _ <-chan struct{}) {
				io.ReadFull(conn, make([]byte, 10))
				conn.Write([]byte("stream: OK\x00"))
			},
			data: large,
			want: nil,
		},
	}

	for _, network := range []string{"unix", "tcp"} {
		for _, tt := range tests {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				addr := startFake(t, network, tt.handle)
				c := NewClamd(ClamdConfig{Address: network + ":" + addr, IOTimeout: 200 * time.Millisecond, ScanTimeout: time.Second})

				res, err := c.Scan(context.Background(), bytes.NewReader(tt.data))

				if err == nil {
					t.Fatalf("err = nil with verdict %q, want an error", res.Verdict)
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
				if res.Verdict == Clean {
					t.Error("verdict is clean")
				}
			})
		}
	}
}

// gatedReader returns first, then waits for open to close before returning
// the rest, so a test can act while the stream is half sent.
type gatedReader struct {
	first  []byte
	open   <-chan struct{}
	rest   io.Reader
	opened bool
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if len(r.first) > 0 {
		n := copy(p, r.first)
		r.first = r.first[n:]
		return n, nil
	}

	if !r.opened {
		select {
		case <-r.open:
		case <-time.After(10 * time.Second):
			return 0, errors.New("gate never opened")
		}
		r.opened = true
	}
	return r.rest.Read(p)
}

// TestFakeClamdEarlyOK covers a server that replies "stream: OK" before it
// has the whole stream and keeps reading, which a client that only reads
// the reply at the end would take as clean.
func TestFakeClamdEarlyOK(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			replied := make(chan struct{})
			addr := startFake(t, network, func(conn net.Conn, _ <-chan struct{}) {
				io.ReadFull(conn, make([]byte, 10))
				conn.Write([]byte("stream: OK\x00"))
				close(replied)
				io.Copy(io.Discard, conn)
			})
			c := NewClamd(ClamdConfig{Address: network + ":" + addr, ChunkSize: 1024})
			r := &gatedReader{
				first: bytes.Repeat([]byte("a"), 1024),
				open:  replied,
				rest:  bytes.NewReader(bytes.Repeat([]byte("b"), 64<<10)),
			}

			res, err := c.Scan(context.Background(), r)

			if !errors.Is(err, ErrProtocol) {
				t.Errorf("err = %v, want ErrProtocol", err)
			}
			if res.Verdict == Clean {
				t.Error("verdict is clean")
			}
		})
	}
}

// replyToCommand reads one NUL-terminated command and then sends reply.
func replyToCommand(reply string) func(net.Conn, <-chan struct{}) {
	return func(conn net.Conn, _ <-chan struct{}) {
		b := make([]byte, 1)
		for {
			if _, err := conn.Read(b); err != nil {
				return
			}
			if b[0] == 0 {
				break
			}
		}
		conn.Write([]byte(reply))
	}
}

func TestFakeClamdCommands(t *testing.T) {
	tests := []struct {
		name   string
		handle func(net.Conn, <-chan struct{})
		call   func(context.Context, *Clamd) error
		want   error
	}{
		{
			name:   "ping wrong reply",
			handle: replyToCommand("PANG\x00"),
			call:   func(ctx context.Context, c *Clamd) error { return c.Ping(ctx) },
			want:   ErrProtocol,
		},
		{
			name:   "ping hang",
			handle: func(_ net.Conn, done <-chan struct{}) { <-done },
			call:   func(ctx context.Context, c *Clamd) error { return c.Ping(ctx) },
			want:   ErrTimeout,
		},
		{
			name:   "ping close",
			handle: func(net.Conn, <-chan struct{}) {},
			call:   func(ctx context.Context, c *Clamd) error { return c.Ping(ctx) },
			want:   ErrUnavailable,
		},
		{
			name:   "version junk",
			handle: replyToCommand("hello\x00"),
			call: func(ctx context.Context, c *Clamd) error {
				_, err := c.Version(ctx)
				return err
			},
			want: ErrProtocol,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := startFake(t, "unix", tt.handle)
			c := NewClamd(ClamdConfig{Address: addr, IOTimeout: 200 * time.Millisecond})

			err := tt.call(context.Background(), c)

			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFakeClamdContext(t *testing.T) {
	hang := func(conn net.Conn, done <-chan struct{}) {
		readInstream(conn)
		<-done
	}

	tests := []struct {
		name  string
		ctx   func() (context.Context, context.CancelFunc)
		wants []error
	}{
		{
			name: "canceled",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(100*time.Millisecond, cancel)
				return ctx, cancel
			},
			wants: []error{context.Canceled},
		},
		{
			name: "deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 100*time.Millisecond)
			},
			wants: []error{ErrTimeout, context.DeadlineExceeded},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := startFake(t, "unix", hang)
			c := NewClamd(ClamdConfig{Address: addr})
			ctx, cancel := tt.ctx()
			defer cancel()

			start := time.Now()
			res, err := c.Scan(ctx, bytes.NewReader([]byte("hello")))
			elapsed := time.Since(start)

			for _, want := range tt.wants {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want %v", err, want)
				}
			}
			if res.Verdict == Clean {
				t.Error("verdict is clean")
			}
			if elapsed > 5*time.Second {
				t.Errorf("Scan took %s after the context ended", elapsed)
			}
		})
	}
}

func TestClamdReaderError(t *testing.T) {
	addr := startFake(t, "unix", replyAfterStream("stream: OK\x00"))
	c := NewClamd(ClamdConfig{Address: addr})
	readErr := errors.New("client went away")
	r := io.MultiReader(bytes.NewReader([]byte("partial upload")), &failingReader{err: readErr})

	res, err := c.Scan(context.Background(), r)

	if !errors.Is(err, readErr) {
		t.Errorf("err = %v, want the reader's error", err)
	}
	if res.Verdict == Clean {
		t.Error("verdict is clean for a stream that failed")
	}
}

type failingReader struct{ err error }

func (r *failingReader) Read([]byte) (int, error) { return 0, r.err }
