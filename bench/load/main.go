// Command load is vaultdrop's load test: it builds the server, starts it on
// loopback with its default limits, and runs concurrent clients that mix
// uploads, downloads, share-link downloads and listings for a fixed time.
// It prints throughput, latency percentiles, errors by status and the
// server's peak resident memory as a Markdown section.
//
// Every request goes to 127.0.0.1, and the run stops by itself after
// -duration or -max-requests, whichever comes first.
//
//	go run ./bench/load -duration 60s -clients 50
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"
)

// options are the command line of the load test.
type options struct {
	duration    time.Duration
	clients     int
	users       int
	maxRequests int
	maxUpload   int
	binary      string
	keep        bool
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", time.Minute, "how long the clients send requests")
	flag.IntVar(&o.clients, "clients", 50, "concurrent clients; each is one address behind the trusted proxy")
	flag.IntVar(&o.users, "users", 10, "accounts the clients share, clients/users each")
	flag.IntVar(&o.maxRequests, "max-requests", 200000, "stop after this many requests in all")
	flag.IntVar(&o.maxUpload, "max-upload", 1<<20, "largest upload in bytes; sizes are uniform from 1 KiB")
	flag.StringVar(&o.binary, "binary", "", "vaultdrop binary to test; default: build the module in the current folder")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary data directory and server log")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.clients < 1 || o.users < 1 || o.users > o.clients {
		return fmt.Errorf("need at least one client and one user, and no more users (%d) than clients (%d)", o.users, o.clients)
	}
	work, err := os.MkdirTemp("", "vaultdrop-load")
	if err != nil {
		return fmt.Errorf("create work folder: %w", err)
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "keeping", work)
	} else {
		defer os.RemoveAll(work)
	}

	binary := o.binary
	if binary == "" {
		binary = filepath.Join(work, "vaultdrop")
		if err := buildServer(ctx, binary); err != nil {
			return err
		}
	}

	srv, err := startServer(ctx, binary, filepath.Join(work, "data"), filepath.Join(work, "server.log"), o)
	if err != nil {
		return err
	}
	defer srv.stop()

	accounts, err := prepareAccounts(ctx, srv, o)
	if err != nil {
		return err
	}

	fmt.Fprintf(os.Stderr, "running %d clients for %s against %s\n", o.clients, o.duration, srv.url)
	results := runClients(ctx, srv.url, accounts, o)
	peak, err := peakMemory(srv.pid())
	if err != nil {
		return err
	}

	printReport(os.Stdout, o, results, peak)
	return nil
}
