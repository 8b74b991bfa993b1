package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// readBufferSize is the client's read size for downloads. At 1 MiB one read
// takes whatever the socket holds, so the client needs few system calls.
const readBufferSize = 1 << 20

// client sends the benchmark's requests. The same code drives every
// server, so differences in the results come from the servers.
type client struct {
	http *http.Client
}

// newClient returns a client that keeps up to maxConns connections per
// server open for reuse and dials only loopback addresses.
func newClient(maxConns int, requestTimeout time.Duration) *client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		Proxy:               nil, // every request goes straight to loopback
		DialContext:         loopbackOnly(dialer),
		MaxIdleConns:        4 * maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      64 << 10,
	}
	return &client{http: &http.Client{Transport: transport, Timeout: requestTimeout}}
}

// loopbackOnly rejects any address outside 127.0.0.0/8 and ::1 when
// dialing, because the benchmark must never send traffic off this machine.
func loopbackOnly(d *net.Dialer) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("dial %s: not a loopback address, and the benchmark only talks to loopback", addr)
		}
		return d.DialContext(ctx, network, addr)
	}
}

// server is the address of one server under test, a base URL such as
// http://127.0.0.1:41234, with the bearer token to send it.
type server struct {
	baseURL string
	token   string
}

// fileJSON has the fields of the API's file object that the client reads.
type fileJSON struct {
	ID     string `json:"id"`
	Size   int64  `json:"size"`
	Status string `json:"status"`
}

// statusError is a response with an unexpected status.
type statusError struct {
	method, url string
	status      int
	body        string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.url, e.status, e.body)
}

// uploadMultipart posts a multipart form with one text part of size bytes.
func (c *client) uploadMultipart(ctx context.Context, s server, fileName string, size int64) (fileJSON, error) {
	body, err := newMultipartBody(fileName, size)
	if err != nil {
		return fileJSON{}, err
	}
	req, err := s.newRequest(ctx, http.MethodPost, "/api/v1/files", body.reader)
	if err != nil {
		return fileJSON{}, err
	}
	req.ContentLength = body.length
	req.Header.Set("Content-Type", body.contentType)

	return c.sendUpload(req, size)
}

// uploadRaw puts size bytes of text as the raw body under path, which is
// /api/v1/files/NAME for a server.
func (c *client) uploadRaw(ctx context.Context, s server, path string, size int64) (fileJSON, error) {
	req, err := s.newRequest(ctx, http.MethodPut, path, newTextStream(size))
	if err != nil {
		return fileJSON{}, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "text/plain")

	return c.sendUpload(req, size)
}

// sendUpload sends an upload and checks that the server stored all of it:
// 201, or 202 when the file waits for its virus scan.
func (c *client) sendUpload(req *http.Request, size int64) (fileJSON, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return fileJSON{}, err
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted {
		return fileJSON{}, responseError(req, resp)
	}
	file, err := decodeFile(req, resp)
	if err != nil {
		return fileJSON{}, err
	}
	if file.Size != size {
		return file, fmt.Errorf("%s %s: the server stored %d bytes, want %d", req.Method, req.URL, file.Size, size)
	}
	return file, nil
}

// download reads a file's content to its end, discarding it, and returns
// the number of bytes read.
func (c *client) download(ctx context.Context, s server, id string) (int64, error) {
	req, err := s.newRequest(ctx, http.MethodGet, "/api/v1/files/"+url.PathEscape(id)+"/content", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, responseError(req, resp)
	}

	// A plain loop instead of io.Copy to io.Discard, which reads in 8 KiB
	// pieces and would make the client the slower side.
	buf := make([]byte, readBufferSize)
	var total int64
	for {
		n, err := resp.Body.Read(buf)
		total += int64(n)
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("GET %s: read the content after %d bytes: %w", req.URL, total, err)
		}
	}
}

// fileStatus returns the file object of id, for waiting on a scan.
func (c *client) fileStatus(ctx context.Context, s server, id string) (fileJSON, error) {
	req, err := s.newRequest(ctx, http.MethodGet, "/api/v1/files/"+url.PathEscape(id), nil)
	if err != nil {
		return fileJSON{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fileJSON{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fileJSON{}, responseError(req, resp)
	}
	return decodeFile(req, resp)
}

// deleteFile removes a file, so that the rounds do not fill the disk.
func (c *client) deleteFile(ctx context.Context, s server, id string) error {
	req, err := s.newRequest(ctx, http.MethodDelete, "/api/v1/files/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return responseError(req, resp)
	}
	return nil
}

func (s server) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.baseURL+path, body)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	return req, nil
}

// decodeFile reads the file object of a response, and drains what follows
// it so the connection can be reused.
func decodeFile(req *http.Request, resp *http.Response) (fileJSON, error) {
	var file fileJSON
	err := json.NewDecoder(resp.Body).Decode(&file)
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fileJSON{}, fmt.Errorf("%s %s: decode the file object: %w", req.Method, req.URL, err)
	}
	return file, nil
}

// responseError reads the start of an unexpected response into an error,
// and drains the rest so the connection can be reused.
func responseError(req *http.Request, resp *http.Response) error {
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return &statusError{method: req.Method, url: req.URL.String(), status: resp.StatusCode, body: string(text)}
}
