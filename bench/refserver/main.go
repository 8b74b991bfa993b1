// Command refserver is the reference server of the upload benchmark
// (bench/uploadbench). It does the least work a server can do to store an
// upload durably and send it back, so its rates are the practical limit of
// the machine. It streams each request body to a file in 1 MiB writes,
// fsyncs the file, renames it into place and serves files with
// http.ServeFile. It checks no name, type or token and scans nothing.
//
// It serves the same routes as vaultdrop's API, so one client drives both:
//
//	POST   /api/v1/files               multipart form, one part named "file"
//	PUT    /api/v1/files/{name}        the raw body is the file
//	GET    /api/v1/files/{id}/content  the bytes
//	DELETE /api/v1/files/{id}
//	PUT    /discard/{name}             reads and drops the body, to measure
//	                                   the client and loopback alone
//
// It listens only on a loopback address and prints "listening on URL" on
// standard output once it accepts connections.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// writeSize is the size of each write to disk, the same as vaultdrop's
// intake chunk, so the two servers make the same number of write calls.
const writeSize = 1 << 20

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("refserver", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "loopback `host:port` to listen on; port 0 picks a free port")
	dir := fs.String("dir", "", "`folder` for the stored files; required")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("missing --dir: give a folder for the stored files")
	}

	files, err := newFileStore(*dir)
	if err != nil {
		return err
	}
	ln, err := listenLoopback(*addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())

	return serve(ctx, ln, files.routes())
}

// listenLoopback rejects any address that is not on loopback, because this
// server has no authentication at all.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("invalid --addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("invalid --addr %q: give a loopback IP address such as 127.0.0.1:0", addr)
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// serve handles requests until ctx ends, then lets requests in flight
// finish for up to 10 seconds.
func serve(ctx context.Context, ln net.Listener, handler http.Handler) error {
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// fileStore keeps files under dir by a random id, with uploads in progress
// in dir/incoming so that a stored file is always complete.
type fileStore struct {
	dir      string
	incoming string
	log      *slog.Logger
}

func newFileStore(dir string) (*fileStore, error) {
	incoming := filepath.Join(dir, "incoming")
	if err := os.MkdirAll(incoming, 0o700); err != nil {
		return nil, fmt.Errorf("create folder %s: %w", incoming, err)
	}
	return &fileStore{dir: dir, incoming: incoming, log: slog.New(slog.NewTextHandler(os.Stderr, nil))}, nil
}

func (s *fileStore) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/files", s.uploadMultipart)
	mux.HandleFunc("PUT /api/v1/files/{name}", s.uploadRaw)
	mux.HandleFunc("GET /api/v1/files/{id}/content", s.download)
	mux.HandleFunc("DELETE /api/v1/files/{id}", s.delete)
	mux.HandleFunc("PUT /discard/{name}", discard)
	return mux
}

// fileJSON has the fields of vaultdrop's file object that the benchmark
// client reads.
type fileJSON struct {
	ID     string `json:"id"`
	Size   int64  `json:"size"`
	Status string `json:"status"`
}

// uploadMultipart reads the "file" part the plain way: the reader from
// Request.MultipartReader buffers 4 KiB of the body at a time.
func (s *fileStore) uploadMultipart(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, "send a multipart/form-data body: "+err.Error(), http.StatusBadRequest)
		return
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "file" {
		http.Error(w, "the first part must be named \"file\"", http.StatusBadRequest)
		return
	}

	s.store(w, part)
}

func (s *fileStore) uploadRaw(w http.ResponseWriter, r *http.Request) {
	s.store(w, r.Body)
}

// store writes body to a new file and responds 201 with its id and size.
func (s *fileStore) store(w http.ResponseWriter, body io.Reader) {
	id := newID()
	size, err := s.save(id, body)
	if err != nil {
		s.log.Error("store upload", "file_id", id, "err", err)
		http.Error(w, "the upload could not be stored", http.StatusInternalServerError)
		return
	}

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(fileJSON{ID: id, Size: size, Status: "stored"})
}

// save copies body into dir/incoming/ID in 1 MiB writes, fsyncs it and
// renames it to dir/ID. On error it removes the partial file.
func (s *fileStore) save(id string, body io.Reader) (int64, error) {
	tmp := filepath.Join(s.incoming, id)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", tmp, err)
	}

	size, err := copyChunks(f, body)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, id))
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("save %s: %w", id, err)
	}
	return size, nil
}

// copyChunks fills a 1 MiB buffer from src before each write, so every
// write but the last is exactly writeSize bytes.
func copyChunks(dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, writeSize)
	var total int64
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// download serves a stored file. http.ServeFile sends it with sendfile
// when the connection allows it.
func (s *fileStore) download(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		http.NotFound(w, r)
		return
	}
	http.ServeFile(w, r, filepath.Join(s.dir, id))
}

func (s *fileStore) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		http.NotFound(w, r)
		return
	}
	if err := os.Remove(filepath.Join(s.dir, id)); err != nil {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// discard reads the body into the same 1 MiB buffer as store but writes
// nothing, so its rate is the most the client and loopback can carry.
func discard(w http.ResponseWriter, r *http.Request) {
	size, err := copyChunks(io.Discard, r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(fileJSON{Size: size, Status: "discarded"})
}

// newID returns 128 random bits in hex, like vaultdrop's file ids.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
