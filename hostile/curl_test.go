package hostile

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// requireCurlEnv makes the curl tests fail instead of skip without curl.
const requireCurlEnv = "VAULTDROP_TEST_REQUIRE_CURL"

// curlPath returns curl's path, or skips the test when it is missing.
func curlPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv(requireCurlEnv) == "1" {
			t.Fatalf("curl is not installed and %s=1: install Debian's curl package", requireCurlEnv)
		}
		t.Skipf("curl is not installed: install Debian's curl package, or set %s=1 to fail instead", requireCurlEnv)
	}
	return path
}

// endless is a body that never ends, as `curl -T -` reading a device sends.
type endless struct{ fill byte }

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.fill
		if e.fill != 0 && i%64 == 63 {
			p[i] = '\n'
		}
	}
	return len(p), nil
}

// TestRefusalReachesCurl streams endless chunked bodies with curl, which
// sends and reads on one thread, so a server that closes while the body is
// still arriving destroys the response with a reset before curl reads it.
// Every attempt must print the server's status, not curl's 100 Continue.
func TestRefusalReachesCurl(t *testing.T) {
	t.Parallel()
	curl := curlPath(t)
	s := startServer(t, serverOptions{maxFileSize: "1MB"})

	cases := []struct {
		name string
		body endless
		want string
	}{
		{"zeros named .txt", endless{fill: 0}, "415"},
		{"text over the file size limit", endless{fill: 'a'}, "413"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.snapshot(t)
			for attempt := range 8 {
				cmd := exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}",
					"-H", "Authorization: Bearer "+aliceToken,
					"-T", "-", s.URL+"/api/v1/files/endless.txt")
				cmd.Stdin = tc.body
				out, _ := cmd.Output() // curl exits 55 when the server stops reading; the status is what counts
				if got := strings.TrimSpace(string(out)); got != tc.want {
					t.Errorf("attempt %d: curl saw status %q, want %s", attempt, got, tc.want)
				}
			}
			s.assertNothingStored(t, before)
		})
	}
}

// TestRefusalLingerEnds sends a refused upload's headers and then nothing:
// a client that announces a body and stops. The server waits a bounded
// time for the body it drains after the refusal, then closes the
// connection, so such clients cannot hold connections open or stall a
// shutdown.
func TestRefusalLingerEnds(t *testing.T) {
	t.Parallel()
	s := offServer(t)

	for _, length := range []int{100_000, 10_000_000} {
		t.Run(fmt.Sprintf("Content-Length %d", length), func(t *testing.T) {
			before := s.snapshot(t)
			conn := s.dialRaw(t)
			fmt.Fprintf(conn, "PUT /api/v1/files/stalled.exe HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n",
				strings.TrimPrefix(s.URL, "http://"), aliceToken, length)
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))

			start := time.Now()
			reply, err := io.ReadAll(conn)
			if err != nil {
				t.Fatalf("connection still open %v after the refusal: %v", time.Since(start).Round(time.Second), err)
			}
			if !strings.HasPrefix(string(reply), "HTTP/1.1 415 ") {
				t.Errorf("reply starts %q, want the 415 refusal", firstLine(reply))
			}
			if !strings.Contains(string(reply), `"code":"type_not_allowed"`) {
				t.Errorf("reply does not carry the type_not_allowed error code: %q", reply)
			}
			s.assertNothingStored(t, before)
		})
	}
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\r\n")
	return line
}
