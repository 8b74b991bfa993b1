package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// opStats sums the samples of one operation.
type opStats struct {
	requests  int
	throttled int         // 429 too_many_requests: the intended refusals
	errors    map[int]int // by status; 0 means no response
	latencies []time.Duration
	sent      int64
	received  int64
}

func summarize(samples []sample) map[string]*opStats {
	stats := map[string]*opStats{}
	for _, s := range samples {
		st := stats[s.op]
		if st == nil {
			st = &opStats{errors: map[int]int{}}
			stats[s.op] = st
		}
		st.requests++
		st.latencies = append(st.latencies, s.latency)
		st.sent += s.sent
		st.received += s.received
		switch {
		case s.status == http.StatusTooManyRequests:
			st.throttled++
		case s.status < 200 || s.status > 299:
			st.errors[s.status]++
		}
	}
	for _, st := range stats {
		slices.Sort(st.latencies)
	}
	return stats
}

// percentile returns the p-th percentile of sorted latencies, by the
// nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// printReport writes the run as a Markdown section for docs/benchmarks.md.
func printReport(w io.Writer, o options, samples []sample, peak int64) {
	stats := summarize(samples)
	fmt.Fprintf(w, "## Load test\n\n")
	fmt.Fprintf(w, "`go run ./bench/load -duration %s -clients %d -users %d -max-upload %d`, %s, %s, %d CPUs (%s).\n\n",
		o.duration, o.clients, o.users, o.maxUpload, time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU(), cpuModel())
	fmt.Fprintf(w, "| Operation | Requests | Per second | p50 | p99 | Max | 429 | Errors |\n")
	fmt.Fprintf(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")

	var total, throttled, failed int
	var sent, received int64
	for _, op := range []string{opUpload, opDownload, opShare, opList} {
		st := stats[op]
		if st == nil {
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %s | %s | %s | %d | %s |\n", op, st.requests,
			float64(st.requests)/o.duration.Seconds(), ms(percentile(st.latencies, 50)),
			ms(percentile(st.latencies, 99)), ms(st.latencies[len(st.latencies)-1]), st.throttled, errorText(st.errors))
		total += st.requests
		throttled += st.throttled
		for _, n := range st.errors {
			failed += n
		}
		sent += st.sent
		received += st.received
	}

	fmt.Fprintf(w, "\n%d requests (%.1f per second), %d answered 429, %d errors; %.1f MiB uploaded, %.1f MiB downloaded; "+
		"server peak resident memory (VmHWM) %.1f MiB.\n",
		total, float64(total)/o.duration.Seconds(), throttled, failed,
		float64(sent)/(1<<20), float64(received)/(1<<20), float64(peak)/(1<<20))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func errorText(errors map[int]int) string {
	if len(errors) == 0 {
		return "0"
	}
	var parts []string
	for status, n := range errors {
		label := fmt.Sprint(status)
		if status == 0 {
			label = "no response"
		}
		parts = append(parts, fmt.Sprintf("%d × %s", n, label))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// cpuModel returns the CPU's model name from /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return "unknown CPU"
}
