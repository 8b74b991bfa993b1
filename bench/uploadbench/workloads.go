package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// scanPoll is how often the client asks whether a pending file's scan
// finished before it downloads the file.
const scanPoll = 200 * time.Millisecond

// transfer is one timed large upload or download.
type transfer struct {
	bytes   int64
	elapsed time.Duration
	idleRSS int64 // server's resident set size when the transfer started
	peakRSS int64 // server's peak resident set size during it; 0 when not measured
	cpu     cpuTimes
}

// megabytesPerSecond returns the rate in MB/s, 10^6 bytes per second.
func (t transfer) megabytesPerSecond() float64 {
	return float64(t.bytes) / t.elapsed.Seconds() / 1e6
}

// batch is one timed batch of small uploads.
type batch struct {
	succeeded int
	failed    int // errors, unexpected statuses and uploads skipped at the time limit
	elapsed   time.Duration
	latencies []time.Duration // of the successful uploads
	firstErr  error
}

func (b batch) requestsPerSecond() float64 {
	return float64(b.succeeded) / b.elapsed.Seconds()
}

// measurements are every round's results for one server.
type measurements struct {
	multipart []transfer
	raw       []transfer
	download  []transfer
	small     []batch
}

// results are the measurements of a whole run.
type results struct {
	ceiling  []transfer // raw uploads that the reference server discards
	byTarget map[*target]*measurements
}

// bench runs the workloads.
type bench struct {
	opts     options
	client   *client
	progress *progress
}

// runRounds runs every workload against every server opts.rounds times.
// Each round starts with the next server in turn, so that no server always
// runs first, before the others have loaded the disk.
func (b *bench) runRounds(ctx context.Context, t targets) (results, error) {
	res := results{byTarget: map[*target]*measurements{}}
	for _, tg := range t.all() {
		res.byTarget[tg] = &measurements{}
	}

	for round := range b.opts.rounds {
		ceiling, err := b.ceiling(ctx, t.reference)
		if err != nil {
			return res, err
		}
		res.ceiling = append(res.ceiling, ceiling)
		b.progress.log("round %d: client and loopback ceiling %.0f MB/s", round+1, ceiling.megabytesPerSecond())

		order := rotate(t.all(), round)
		for _, tg := range order {
			if err := b.largeWorkloads(ctx, tg, res.byTarget[tg], round); err != nil {
				return res, fmt.Errorf("round %d, %s: %w\nlast lines of its log:\n%s", round+1, tg.name, err, tg.proc.logTail())
			}
		}
		for _, tg := range order {
			small := b.smallUploads(ctx, tg, round)
			res.byTarget[tg].small = append(res.byTarget[tg].small, small)
			b.logBatch(round, tg, small)
		}
	}
	return res, ctx.Err()
}

func rotate(list []*target, n int) []*target {
	n %= len(list)
	return append(append([]*target{}, list[n:]...), list[:n]...)
}

// ceiling uploads the large body to the reference server's discard route,
// which writes nothing to disk. Its rate is the most that the client and
// loopback carry, so a server close to it is limited by the client.
func (b *bench) ceiling(ctx context.Context, ref *target) (transfer, error) {
	start := time.Now()
	if _, err := b.client.uploadRaw(ctx, ref.server, "/discard/big.txt", b.opts.bigSize); err != nil {
		return transfer{}, fmt.Errorf("measure the client's ceiling: %w", err)
	}
	return transfer{bytes: b.opts.bigSize, elapsed: time.Since(start)}, nil
}

// largeWorkloads uploads the large file as multipart and as a raw PUT,
// measuring the server's peak memory during each, downloads the second
// copy, and deletes both.
func (b *bench) largeWorkloads(ctx context.Context, tg *target, m *measurements, round int) error {
	size := b.opts.bigSize
	name := fmt.Sprintf("big-r%d.txt", round+1)

	multipart, file, err := b.measureUpload(ctx, tg, func() (fileJSON, error) {
		return b.client.uploadMultipart(ctx, tg.server, name, size)
	})
	if err != nil {
		return fmt.Errorf("multipart upload: %w", err)
	}
	m.multipart = append(m.multipart, multipart)
	b.logTransfer(round, tg, "multipart upload", multipart)
	if err := b.client.deleteFile(ctx, tg.server, file.ID); err != nil {
		return err
	}

	raw, file, err := b.measureUpload(ctx, tg, func() (fileJSON, error) {
		return b.client.uploadRaw(ctx, tg.server, "/api/v1/files/"+name, size)
	})
	if err != nil {
		return fmt.Errorf("raw PUT upload: %w", err)
	}
	m.raw = append(m.raw, raw)
	b.logTransfer(round, tg, "raw PUT upload", raw)

	download, err := b.measureDownload(ctx, tg, file)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	m.download = append(m.download, download)
	b.logTransfer(round, tg, "download", download)

	return b.client.deleteFile(ctx, tg.server, file.ID)
}

// measureUpload times one upload and reads the server's peak resident set
// size over it, after resetting the peak to the size at the start.
func (b *bench) measureUpload(ctx context.Context, tg *target, upload func() (fileJSON, error)) (transfer, fileJSON, error) {
	pid := tg.proc.pid()
	idle, err := resetPeak(pid)
	if err != nil {
		return transfer{}, fileJSON{}, err
	}

	meter, err := startCPUMeter(pid)
	if err != nil {
		return transfer{}, fileJSON{}, err
	}

	start := time.Now()
	file, err := upload()
	elapsed := time.Since(start)
	if err != nil {
		return transfer{}, fileJSON{}, err
	}

	cpu, err := meter.stop()
	if err != nil {
		return transfer{}, fileJSON{}, err
	}
	mem, err := readMemory(pid)
	if err != nil {
		return transfer{}, fileJSON{}, err
	}
	return transfer{bytes: file.Size, elapsed: elapsed, idleRSS: idle, peakRSS: mem.peak, cpu: cpu}, file, nil
}

// measureDownload times the download of file. A file still waiting for its
// virus scan is downloaded once the scan has passed, and that wait is not
// timed.
func (b *bench) measureDownload(ctx context.Context, tg *target, file fileJSON) (transfer, error) {
	if tg.scanned && file.Status != "clean" {
		if err := b.waitForClean(ctx, tg, file.ID); err != nil {
			return transfer{}, err
		}
	}

	meter, err := startCPUMeter(tg.proc.pid())
	if err != nil {
		return transfer{}, err
	}

	start := time.Now()
	n, err := b.client.download(ctx, tg.server, file.ID)
	elapsed := time.Since(start)
	if err != nil {
		return transfer{}, err
	}
	if n != file.Size {
		return transfer{}, fmt.Errorf("downloaded %d bytes of %s, want %d", n, file.ID, file.Size)
	}

	cpu, err := meter.stop()
	if err != nil {
		return transfer{}, err
	}
	return transfer{bytes: n, elapsed: elapsed, cpu: cpu}, nil
}

// waitForClean polls a pending file until its scan passes, for at most the
// request time limit.
func (b *bench) waitForClean(ctx context.Context, tg *target, id string) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.requestLimit)
	defer cancel()
	for {
		file, err := b.client.fileStatus(ctx, tg.server, id)
		if err != nil {
			return fmt.Errorf("wait for the scan of %s: %w", id, err)
		}
		switch file.Status {
		case "clean":
			return nil
		case "pending":
		default:
			return fmt.Errorf("wait for the scan of %s: status %q, want clean", id, file.Status)
		}
		if err := sleep(ctx, scanPoll); err != nil {
			return fmt.Errorf("wait for the scan of %s: %w", id, err)
		}
	}
}

// smallUploads sends opts.smallCount multipart uploads of opts.smallSize
// bytes with opts.concurrency in flight. It stops sending at
// opts.smallBudget, and counts the uploads it did not finish as failed.
func (b *bench) smallUploads(ctx context.Context, tg *target, round int) batch {
	ctx, cancel := context.WithTimeout(ctx, b.opts.smallBudget)
	defer cancel()

	var (
		mu  sync.Mutex
		out batch
		wg  sync.WaitGroup
	)
	record := func(latency time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			out.failed++
			if out.firstErr == nil {
				out.firstErr = err
			}
			return
		}
		out.succeeded++
		out.latencies = append(out.latencies, latency)
	}

	jobs := make(chan int)
	start := time.Now()
	for range b.opts.concurrency {
		wg.Go(func() {
			for i := range jobs {
				name := fmt.Sprintf("small-r%d-%04d.txt", round+1, i)
				began := time.Now()
				_, err := b.client.uploadMultipart(ctx, tg.server, name, b.opts.smallSize)
				record(time.Since(began), err)
			}
		})
	}

	sent := feedJobs(ctx, jobs, b.opts.smallCount)
	wg.Wait()
	out.elapsed = time.Since(start)

	if skipped := b.opts.smallCount - sent; skipped > 0 {
		out.failed += skipped
		if out.firstErr == nil {
			out.firstErr = fmt.Errorf("%d uploads not sent within --small-budget %s", skipped, b.opts.smallBudget)
		}
	}
	return out
}

// feedJobs sends the indexes 0 to n-1 until ctx ends, closes jobs, and
// returns how many it sent.
func feedJobs(ctx context.Context, jobs chan<- int, n int) int {
	defer close(jobs)
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			return i
		}
	}
	return n
}

func (b *bench) logTransfer(round int, tg *target, workload string, t transfer) {
	memory := ""
	if t.peakRSS > 0 {
		memory = fmt.Sprintf(", server peak RSS %.1f MiB (%.1f MiB at the start)", mib(t.peakRSS), mib(t.idleRSS))
	}
	b.progress.log("round %d: %s %s: %.0f MB/s in %.2f s%s", round+1, tg.name, workload, t.megabytesPerSecond(), t.elapsed.Seconds(), memory)
}

func (b *bench) logBatch(round int, tg *target, s batch) {
	b.progress.log("round %d: %s small uploads: %.0f requests/s, p50 %.1f ms, p99 %.1f ms, %d errors",
		round+1, tg.name, s.requestsPerSecond(), ms(percentile(s.latencies, 0.50)), ms(percentile(s.latencies, 0.99)), s.failed)
	if s.firstErr != nil {
		b.progress.log("round %d: %s first small upload error: %v", round+1, tg.name, s.firstErr)
	}
}

// progress prints timestamped lines to standard error while the run goes.
type progress struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, start: time.Now()}
}

func (p *progress) log(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

func newBench(opts options, c *client, p *progress) *bench {
	return &bench{opts: opts, client: c, progress: p}
}
