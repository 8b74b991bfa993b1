package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// largeEnv turns on TestBrowserLargeUpload, which needs about 7 GiB of
// free disk and a few minutes.
const largeEnv = "VAULTDROP_TEST_LARGE"

// largeSize is the upload's size: 2 GiB, the default --max-file-size.
const largeSize = 2 << 30

// TestBrowserLargeUpload sends a 2 GiB file through Chromium to the built
// vaultdrop binary over loopback and reloads the page twice during the
// transfer, which then resumes. It checks that the stored file is byte for
// byte the one sent and that the resumed transfers did not send the file
// again. It logs the time taken and the server process's peak memory.
func TestBrowserLargeUpload(t *testing.T) {
	if os.Getenv(largeEnv) != "1" {
		t.Skip("set " + largeEnv + "=1 to send a 2 GiB file through the browser (needs 7 GiB of free disk)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the server's peak memory from /proc")
	}
	tab := newBrowser(t, 1280, 800, 15*time.Minute)
	work := t.TempDir()

	prepared := time.Now()
	source := filepath.Join(work, "large.txt")
	want := writeLargeText(t, source, largeSize)
	srv := startBinary(t, work)
	t.Logf("wrote the 2 GiB file and built the server in %s", time.Since(prepared).Round(time.Second))
	proxy := startCountingProxy(t, srv.addr)

	signIn(t, tab, "http://"+proxy.addr, "alice", alicePassword)
	idle := peakMemory(t, srv.pid)
	start := time.Now()
	do(t, tab, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{source}))

	for _, reloadAt := range []int64{largeSize / 3, largeSize * 2 / 3} {
		waitForPartial(t, srv.dataDir, reloadAt, 5*time.Minute)
		do(t, tab, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`form.upload-form.enhanced`)))
		do(t, tab, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{source}))
	}

	items := waitForItems(t, tab, 10*time.Minute, "the large file stored", allSettled("large.txt"))
	elapsed := time.Since(start)
	item := items["large.txt"]
	if item.State != "stored" {
		t.Fatalf("state %q, want stored: %s", item.State, item.Message)
	}

	got := hashFile(t, filepath.Join(srv.dataDir, "vault", item.FileID[:2], item.FileID))
	if got != want {
		t.Errorf("stored file's SHA-256 %x, want %x", got, want)
	}
	sent := proxy.upstream.Load()
	if sent > largeSize+largeSize/20 {
		t.Errorf("the browser sent %d bytes for a %d-byte file; resuming must not send it again", sent, largeSize)
	}
	peak := peakMemory(t, srv.pid)
	t.Logf("2 GiB through Chromium with two reloads: %s, %.1f MiB/s; browser sent %d bytes (%.2f%% over the file); "+
		"server peak RSS (VmHWM) %s, %s before the upload",
		elapsed.Round(time.Second), float64(largeSize)/(1<<20)/elapsed.Seconds(), sent,
		100*float64(sent-largeSize)/largeSize, peak, idle)
}

// writeLargeText writes size bytes of numbered lines, so that every
// position of the file differs from every other, and returns their SHA-256.
func writeLargeText(t *testing.T, path string, size int64) [sha256.Size]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	hash := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, hash), 1<<20)
	line := []byte("000000000000 a line of a large plain text file for vaultdrop\n")
	for written, n := int64(0), int64(0); written < size; n++ {
		digits := strconv.FormatInt(n, 10)
		copy(line[12-len(digits):12], digits)
		chunk := line
		if rest := size - written; rest < int64(len(chunk)) {
			chunk = chunk[:rest]
		}
		w.Write(chunk)
		written += int64(len(chunk))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var sum [sha256.Size]byte
	copy(sum[:], hash.Sum(nil))
	return sum
}

func hashFile(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, f); err != nil {
		t.Fatal(err)
	}
	var sum [sha256.Size]byte
	copy(sum[:], hash.Sum(nil))
	return sum
}

// binaryServer is "vaultdrop serve" running as its own process.
type binaryServer struct {
	addr    string
	dataDir string
	pid     int
}

// startBinary builds vaultdrop, adds alice and starts the server with
// scanning off: clamd cannot scan a 2 GiB stream, and this test measures
// the transfer.
func startBinary(t *testing.T, work string) binaryServer {
	t.Helper()
	bin := filepath.Join(work, "vaultdrop")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("build vaultdrop: %v\n%s", err, out)
	}
	dataDir := filepath.Join(work, "data")

	add := exec.Command(bin, "user", "add", "alice", "--admin", "--password-stdin", "--data-dir", dataDir)
	add.Stdin = strings.NewReader(alicePassword + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("add alice: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0", "--scanner", "off")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", stderr.String())
		}
	})

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server printed no URL: %v\n%s", err, stderr.String())
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "vaultdrop is listening on "))
	return binaryServer{addr: strings.TrimPrefix(url, "http://"), dataDir: dataDir, pid: cmd.Process.Pid}
}

// countingProxy passes TCP connections to the server and counts the bytes
// the browser sends.
type countingProxy struct {
	addr     string
	upstream atomic.Int64
}

func startCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{addr: ln.Addr().String()}
	var (
		mu      sync.Mutex
		clients []net.Conn
		relays  sync.WaitGroup
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range clients {
			c.Close() // idle keep-alive connections would otherwise stay open
		}
		mu.Unlock()
		relays.Wait()
	})

	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			clients = append(clients, client)
			mu.Unlock()
			relays.Add(1)
			go func() {
				defer relays.Done()
				p.relay(client, target)
			}()
		}
	}()
	return p
}

func (p *countingProxy) relay(client net.Conn, target string) {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer server.Close()

	done := make(chan struct{})
	go func() {
		io.Copy(client, server)
		client.Close()
		close(done)
	}()
	io.Copy(countingWriter{w: server, n: &p.upstream}, client)
	server.Close()
	<-done
}

// countingWriter adds the bytes written through it to n as they pass.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// waitForPartial waits until the server's partial upload file holds at
// least n bytes.
func waitForPartial(t *testing.T, dataDir string, n int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		entries, _ := os.ReadDir(filepath.Join(dataDir, "uploads"))
		for _, e := range entries {
			if info, err := e.Info(); err == nil && !strings.Contains(e.Name(), ".") && info.Size() >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the partial upload did not reach %d bytes within %s", n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// peakMemory returns the VmHWM line of a process: its peak resident set.
func peakMemory(t *testing.T, pid int) string {
	t.Helper()
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if value, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(value)
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return ""
}
