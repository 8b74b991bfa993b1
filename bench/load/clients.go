package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Operations the clients mix, with their weights out of 100.
const (
	opUpload   = "upload"
	opDownload = "download"
	opShare    = "share download"
	opList     = "list"
)

var opWeights = []struct {
	name   string
	weight int
}{{opUpload, 25}, {opDownload, 40}, {opShare, 15}, {opList, 20}}

// seedFiles is how many files each account stores before the clients start,
// so downloads and the share have something to fetch.
const seedFiles = 5

// account is one user's API token, files and share link.
type account struct {
	name     string
	token    string
	files    []string // ids of the seed files
	shareURL string   // "" when the server has no share links
}

// sample is one finished request.
type sample struct {
	op       string
	status   int // 0 when the request failed without a response
	latency  time.Duration
	sent     int64
	received int64
}

// prepareAccounts creates the users and their tokens with the CLI, stores
// the seed files and shares them.
func prepareAccounts(ctx context.Context, srv *server, o options) ([]*account, error) {
	text := randomText(rand.New(rand.NewPCG(1, 1)), o.maxUpload)
	var accounts []*account
	for i := 0; i < o.users; i++ {
		a := &account{name: fmt.Sprintf("load%02d", i)}
		if _, err := srv.command(ctx, "load test password "+a.name+"\n", "user", "add", a.name, "--password-stdin"); err != nil {
			return nil, err
		}
		token, err := srv.command(ctx, "", "token", "create", "--user", a.name, "--name", "load")
		if err != nil {
			return nil, err
		}
		a.token = string(bytes.TrimSpace([]byte(token)))

		c := newClient(srv.url, fmt.Sprintf("198.51.100.%d", i+1))
		for j := 0; j < seedFiles; j++ {
			id, s := c.upload(a, fmt.Sprintf("seed%d.txt", j), text[:(j+1)*len(text)/seedFiles])
			if s.status != http.StatusCreated {
				return nil, fmt.Errorf("store seed file %d of %s: status %d", j, a.name, s.status)
			}
			a.files = append(a.files, id)
		}
		if a.shareURL, err = c.createShare(a); err != nil {
			return nil, err
		}
		accounts = append(accounts, a)
	}
	return accounts, nil
}

// runClients runs o.clients clients until o.duration passes or
// o.maxRequests were sent, and returns every sample.
func runClients(ctx context.Context, baseURL string, accounts []*account, o options) []sample {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	text := randomText(rand.New(rand.NewPCG(2, 2)), o.maxUpload)

	var sent atomic.Int64
	results := make([][]sample, o.clients)
	var wg sync.WaitGroup
	for i := 0; i < o.clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(baseURL, fmt.Sprintf("203.0.113.%d", i+1))
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			a := accounts[i%len(accounts)]
			for n := 0; ctx.Err() == nil && sent.Add(1) <= int64(o.maxRequests); n++ {
				s := c.one(a, rng, text, fmt.Sprintf("c%02d-%d.txt", i, n))
				results[i] = append(results[i], s)
				c.backOff(ctx, s)
			}
		}()
	}
	wg.Wait()

	var all []sample
	for _, r := range results {
		all = append(all, r...)
	}
	return all
}

// client is one simulated client address.
type client struct {
	http    *http.Client
	baseURL string
	addr    string // sent as X-Forwarded-For through the trusted proxy
	wait    time.Duration
}

func newClient(baseURL, addr string) *client {
	transport := &http.Transport{MaxIdleConnsPerHost: 2}
	return &client{http: &http.Client{Transport: transport, Timeout: 2 * time.Minute}, baseURL: baseURL, addr: addr}
}

// one sends one request of a randomly chosen operation.
func (c *client) one(a *account, rng *rand.Rand, text []byte, name string) sample {
	roll := rng.IntN(100)
	op := opWeights[len(opWeights)-1].name
	for _, w := range opWeights {
		if roll < w.weight {
			op = w.name
			break
		}
		roll -= w.weight
	}

	switch {
	case op == opUpload:
		size := 1<<10 + rng.IntN(len(text)-1<<10+1)
		_, s := c.upload(a, name, text[:size])
		return s
	case op == opShare && a.shareURL != "":
		return c.get(opShare, a.shareURL+"/files/"+a.files[rng.IntN(len(a.files))], "")
	case op == opList:
		return c.get(opList, c.baseURL+"/api/v1/files", a.token)
	}
	return c.get(opDownload, c.baseURL+"/api/v1/files/"+a.files[rng.IntN(len(a.files))]+"/content", a.token)
}

// backOff waits for the Retry-After of a 429, at most 5 seconds,
// as a polite client does.
func (c *client) backOff(ctx context.Context, s sample) {
	if s.status != http.StatusTooManyRequests || c.wait <= 0 {
		return
	}
	timer := time.NewTimer(min(c.wait, 5*time.Second))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

func (c *client) upload(a *account, name string, content []byte) (string, sample) {
	req, _ := http.NewRequest(http.MethodPut, c.baseURL+"/api/v1/files/"+name, bytes.NewReader(content))
	req.Header.Set("Authorization", "Bearer "+a.token)
	s, body := c.do(opUpload, req)
	s.sent = int64(len(content))

	var f struct {
		ID string `json:"id"`
	}
	if s.status == http.StatusCreated {
		json.Unmarshal(body, &f)
	}
	return f.ID, s
}

func (c *client) get(op, url, token string) sample {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	s, _ := c.do(op, req)
	return s
}

// createShare shares the account's seed files and returns the link, or ""
// when the server has no share links.
func (c *client) createShare(a *account) (string, error) {
	body, _ := json.Marshal(map[string]any{"file_ids": a.files})
	req, _ := http.NewRequest(http.MethodPost, c.baseURL+"/api/v1/shares", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	s, respBody := c.do("share create", req)
	switch s.status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return "", nil
	case http.StatusCreated, http.StatusOK:
	default:
		return "", fmt.Errorf("create share for %s: status %d: %s", a.name, s.status, respBody)
	}

	var share struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(respBody, &share); err != nil || share.URL == "" {
		return "", fmt.Errorf("create share for %s: no URL in %s", a.name, respBody)
	}
	// Share downloads must go to the server under test and nowhere else.
	if !strings.HasPrefix(share.URL, c.baseURL+"/") {
		return "", fmt.Errorf("create share for %s: link %s is not on the server under test %s", a.name, share.URL, c.baseURL)
	}
	return share.URL, nil
}

// do sends req from the client's address and reads the whole response. It
// keeps at most 64 KiB of the body for the caller.
func (c *client) do(op string, req *http.Request) (sample, []byte) {
	req.Header.Set("X-Forwarded-For", c.addr)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return sample{op: op, latency: time.Since(start)}, nil
	}
	defer resp.Body.Close()

	var kept bytes.Buffer
	n, _ := io.Copy(io.MultiWriter(&limitedBuffer{buf: &kept, max: 64 << 10}), resp.Body)
	s := sample{op: op, status: resp.StatusCode, latency: time.Since(start), received: n}
	c.wait = 0
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		c.wait = time.Duration(secs) * time.Second
	}
	return s, kept.Bytes()
}

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// randomText returns n bytes of lowercase letters and newlines, which
// vaultdrop's type policy accepts as a .txt file.
func randomText(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		if i%64 == 63 {
			b[i] = '\n'
		} else {
			b[i] = byte('a' + rng.IntN(26))
		}
	}
	return b
}
