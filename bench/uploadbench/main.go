// Command uploadbench measures vaultdrop's upload and download speed, and
// its memory use during a large upload, against a minimal reference server
// on the same machine in the same run.
//
// Run it from the repository root:
//
//	go run ./bench/uploadbench
//
// It builds vaultdrop and bench/refserver into a temporary folder, creates a
// user and an API token with vaultdrop's CLI, and starts both servers on
// 127.0.0.1. The same client code then runs each workload against each
// server: a large upload as multipart and as a raw PUT, the download of that
// file, and many small uploads at a fixed concurrency. When clamd is
// installed, a second vaultdrop scans with a clamd that the benchmark
// starts. The results go to standard output and to bench/results/latest.md
// as markdown tables. At the end the benchmark stops every process it
// started and removes its temporary data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// options are the benchmark's settings. The defaults are the workloads
// that docs/benchmarks.md reports.
type options struct {
	bigSize      int64         // bytes of the large upload
	smallCount   int           // number of small uploads
	smallSize    int64         // bytes of each small upload
	concurrency  int           // small uploads in flight at once
	smallBudget  time.Duration // maximum time for one batch of small uploads
	rounds       int           // times every workload runs against every server
	clamd        string        // auto, on or off
	tempParent   string        // folder the temporary data goes in
	commit       string        // git revision of vaultdrop to build; empty means the work tree
	source       string        // folder of vaultdrop's source to build instead of the repository
	output       string        // markdown report path; "-" means none
	keep         bool          // keep the temporary folder and the servers' logs
	timeout      time.Duration // maximum time for the whole run
	requestLimit time.Duration // maximum time for one request
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("uploadbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Int64Var(&o.bigSize, "big-size", 1<<30, "`bytes` of the large upload")
	fs.IntVar(&o.smallCount, "small-count", 500, "`number` of small uploads in each batch")
	fs.Int64Var(&o.smallSize, "small-size", 64<<10, "`bytes` of each small upload")
	fs.IntVar(&o.concurrency, "concurrency", 8, "small uploads in flight at once")
	fs.DurationVar(&o.smallBudget, "small-budget", time.Minute, "maximum `duration` of one batch of small uploads; the rest are skipped and counted as errors")
	fs.IntVar(&o.rounds, "rounds", 3, "`number` of times each workload runs against each server; the report gives the median and the range")
	fs.StringVar(&o.clamd, "clamd", "auto", "`mode` of the extra run with a real clamd: auto (when clamd is installed), on or off")
	fs.StringVar(&o.tempParent, "dir", os.TempDir(), "`folder` for the temporary data of both servers, on the file system to measure")
	fs.StringVar(&o.commit, "commit", "", "git `revision` of vaultdrop to build and measure, such as HEAD; default: the work tree with its uncommitted changes")
	fs.StringVar(&o.source, "source", "", "`folder` with vaultdrop's source to build and measure instead, such as a patched copy")
	fs.StringVar(&o.output, "out", "", "`path` of the markdown report; default bench/results/latest.md in the repository, - for none")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder, with the servers' logs, instead of removing it")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "maximum `duration` of the whole run")
	fs.DurationVar(&o.requestLimit, "request-timeout", 5*time.Minute, "maximum `duration` of one request")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q; see --help", fs.Arg(0))
	}
	return o, o.validate()
}

func (o options) validate() error {
	var errs []error
	if o.bigSize < 1<<20 || o.bigSize > 2<<30 {
		errs = append(errs, fmt.Errorf("invalid --big-size %d: give 1 MiB to 2 GiB, the server's --max-file-size", o.bigSize))
	}
	if o.smallCount < 1 || o.smallCount > 100000 {
		errs = append(errs, fmt.Errorf("invalid --small-count %d: give 1 to 100000", o.smallCount))
	}
	if o.smallSize < 1<<10 || o.smallSize > 64<<20 {
		errs = append(errs, fmt.Errorf("invalid --small-size %d: give 1 KiB to 64 MiB", o.smallSize))
	}
	if o.concurrency < 1 || o.concurrency > 256 {
		errs = append(errs, fmt.Errorf("invalid --concurrency %d: give 1 to 256", o.concurrency))
	}
	if o.rounds < 1 || o.rounds > 10 {
		errs = append(errs, fmt.Errorf("invalid --rounds %d: give 1 to 10", o.rounds))
	}
	if o.commit != "" && o.source != "" {
		errs = append(errs, errors.New("give --commit or --source, not both"))
	}
	switch o.clamd {
	case "auto", "on", "off":
	default:
		errs = append(errs, fmt.Errorf("invalid --clamd %q: give auto, on or off", o.clamd))
	}
	if o.smallBudget <= 0 || o.timeout <= 0 || o.requestLimit <= 0 {
		errs = append(errs, errors.New("--small-budget, --timeout and --request-timeout must be positive"))
	}
	return errors.Join(errs...)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()

	repo, err := repoRoot(ctx)
	if err != nil {
		return err
	}
	if opts.output == "" {
		opts.output = filepath.Join(repo, "bench", "results", "latest.md")
	}

	work, err := os.MkdirTemp(opts.tempParent, "uploadbench-")
	if err != nil {
		return fmt.Errorf("create temporary folder in %s: %w", opts.tempParent, err)
	}
	progress := newProgress(stderr)
	if opts.keep {
		defer progress.log("kept the temporary folder %s", work)
	} else {
		defer os.RemoveAll(work)
	}

	src, err := prepareSource(ctx, opts, repo, work)
	if err != nil {
		return err
	}
	rep, err := benchmark(ctx, opts, src, work, progress)
	if err != nil {
		return err
	}
	return writeReport(rep, opts.output, stdout)
}

// benchmark starts the servers, runs every round and describes the run.
func benchmark(ctx context.Context, opts options, src source, work string, progress *progress) (report, error) {
	started := time.Now()
	machine := describeMachine(work)

	c := newClient(opts.concurrency, opts.requestLimit)
	targets, stopAll, err := startTargets(ctx, c, opts, src, work, progress)
	defer stopAll()
	if err != nil {
		return report{}, err
	}

	b := newBench(opts, c, progress)
	results, err := b.runRounds(ctx, targets)
	if err != nil {
		return report{}, err
	}

	return report{
		opts:      opts,
		machine:   machine,
		version:   src.version,
		started:   started,
		duration:  time.Since(started),
		loadAtEnd: loadAverage(),
		targets:   targets,
		results:   results,
	}, nil
}
