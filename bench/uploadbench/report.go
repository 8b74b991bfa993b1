package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Targets that vaultdrop with scanning off is held to. Throughput targets
// are ratios to the reference server in the same run.
const (
	uploadTarget   = 0.9
	downloadTarget = 0.9
	smallTarget    = 0.7
	peakRSSTarget  = 32 << 20 // bytes, during the large upload
)

// report is everything the markdown report shows.
type report struct {
	opts      options
	machine   machine
	version   string // which vaultdrop code was measured
	started   time.Time
	duration  time.Duration
	loadAtEnd string
	targets   targets
	results   results
}

// writeReport prints the report to stdout and, unless path is "-", writes
// it to path as well.
func writeReport(rep report, path string, stdout io.Writer) error {
	text := rep.markdown()
	if _, err := io.WriteString(stdout, text); err != nil {
		return fmt.Errorf("print report: %w", err)
	}
	if path == "-" {
		return nil
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create report folder for %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

func (r report) markdown() string {
	var b strings.Builder
	r.writeHeader(&b)

	ref := r.results.byTarget[r.targets.reference]
	for _, tg := range r.targets.vaultdrop {
		fmt.Fprintf(&b, "\n## %s\n\n", tg.name)
		if tg.scanned {
			fmt.Fprintf(&b, "Scanned by %s, started by the benchmark with the two-signature test database of "+
				"scanner/clamavtest and StreamMaxLength, MaxFileSize and MaxScanSize of 2 GiB. "+
				"vaultdrop measured the largest file it scans as %s before the first round. "+
				"The targets apply to the run with scanning off, so this table has none.\n\n", r.targets.clamd, tg.scanLimit)
		}
		writeTable(&b, tg.name, r.rows(ref, r.results.byTarget[tg], !tg.scanned), !tg.scanned)
	}
	if len(r.targets.vaultdrop) < 2 {
		fmt.Fprintf(&b, "\nNo run with clamd: %s.\n", r.targets.clamd)
	}
	return b.String()
}

func (r report) writeHeader(b *strings.Builder) {
	m := r.machine
	o := r.opts
	fmt.Fprintf(b, "# Upload and download benchmark\n\n")
	fmt.Fprintf(b, "Run on %s with %s, vaultdrop %s: %s, %s in all.\n\n",
		r.started.UTC().Format("2006-01-02 15:04 UTC"), m.goVersion, r.version, plural(o.rounds, "round"), r.duration.Round(time.Second))
	fmt.Fprintf(b, "Machine: %s, %d logical CPUs, %s RAM, Linux %s. "+
		"Temporary data of both servers: %s. Load average (1, 5, 15 minutes): %s at the start, %s at the end.",
		m.cpu, m.cores, m.memory, m.kernel, m.filesystem, m.loadAvg, r.loadAtEnd)
	if busy(m.loadAvg, m.cores) || busy(r.loadAtEnd, m.cores) {
		fmt.Fprintf(b, " Other processes kept the machine busy, so ratios within this run are more reliable than its absolute rates.")
	}
	fmt.Fprintf(b, "\n\n")
	fmt.Fprintf(b, "Workloads, the same client for every server: a %s text file uploaded as multipart "+
		"(`POST /api/v1/files`) and as a raw `PUT /api/v1/files/NAME`, the download of the PUT copy "+
		"(`GET /api/v1/files/ID/content`), and %d multipart uploads of %s at concurrency %d. "+
		"MB/s is 10^6 bytes per second. Each figure is the median over the rounds with the range in brackets. "+
		"Peak RSS is the highest VmHWM over the rounds, followed by the server's median VmRSS at the start of the upload.\n\n",
		sizeText(o.bigSize), o.smallCount, sizeText(o.smallSize), o.concurrency)
	fmt.Fprintf(b, "The reference server (bench/refserver) streams each body to a file in 1 MiB writes, fsyncs and renames it, "+
		"reads multipart bodies through Request.MultipartReader with its standard 4 KiB buffer, and serves files with http.ServeFile.\n\n")
	ceiling := summarize(each(r.results.ceiling, transfer.megabytesPerSecond))
	fmt.Fprintf(b, "Client and loopback ceiling (a %s PUT that the reference server reads and discards): %s MB/s.\n",
		sizeText(o.bigSize), summaryText(ceiling, 0))
}

// busy reports whether a 1-minute load average, the first field of
// loadAvg, is above the number of CPUs.
func busy(loadAvg string, cores int) bool {
	fields := strings.Fields(loadAvg)
	if len(fields) == 0 {
		return false
	}
	load, err := strconv.ParseFloat(fields[0], 64)
	return err == nil && load > float64(cores)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// row is one line of a results table, already formatted.
type row struct {
	measure, reference, vaultdrop, ratio, target, met string
}

// rows compares one vaultdrop server with the reference. withTargets adds
// the target and whether it was met.
func (r report) rows(ref, vd *measurements, withTargets bool) []row {
	big := sizeText(r.opts.bigSize)
	rows := []row{
		throughputRow(big+" multipart upload, MB/s", ref.multipart, vd.multipart, uploadTarget),
		throughputRow(big+" raw PUT upload, MB/s", ref.raw, vd.raw, uploadTarget),
		throughputRow(big+" download, MB/s", ref.download, vd.download, downloadTarget),
		smallRateRow(fmt.Sprintf("%d × %s uploads, requests/s", r.opts.smallCount, sizeText(r.opts.smallSize)), ref.small, vd.small),
		latencyRow("small upload p50 latency, ms", ref.small, vd.small, 0.50),
		latencyRow("small upload p99 latency, ms", ref.small, vd.small, 0.99),
		errorRow("small upload errors, all rounds", ref.small, vd.small),
		memoryRow("peak RSS during the "+big+" multipart upload, MiB", ref.multipart, vd.multipart),
		memoryRow("peak RSS during the "+big+" raw PUT upload, MiB", ref.raw, vd.raw),
		cpuRow("server CPU time for the "+big+" multipart upload, s", ref.multipart, vd.multipart),
		cpuRow("server CPU time for the "+big+" raw PUT upload, s", ref.raw, vd.raw),
		cpuRow("server CPU time for the "+big+" download, s", ref.download, vd.download),
		clientCPURow("client CPU time for the "+big+" raw PUT upload, s", ref.raw, vd.raw),
	}
	if !withTargets {
		for i := range rows {
			rows[i].target, rows[i].met = "", ""
		}
	}
	return rows
}

func throughputRow(measure string, ref, vd []transfer, target float64) row {
	refRate := summarize(each(ref, transfer.megabytesPerSecond))
	vdRate := summarize(each(vd, transfer.megabytesPerSecond))
	ratio := vdRate.median / refRate.median
	return row{
		measure:   measure,
		reference: summaryText(refRate, 0),
		vaultdrop: summaryText(vdRate, 0),
		ratio:     fmt.Sprintf("%.2f", ratio),
		target:    fmt.Sprintf("≥ %.2f", target),
		met:       yesNo(ratio >= target),
	}
}

func smallRateRow(measure string, ref, vd []batch) row {
	refRate := summarize(each(ref, batch.requestsPerSecond))
	vdRate := summarize(each(vd, batch.requestsPerSecond))
	ratio := vdRate.median / refRate.median
	return row{
		measure:   measure,
		reference: summaryText(refRate, 0),
		vaultdrop: summaryText(vdRate, 0),
		ratio:     fmt.Sprintf("%.2f", ratio),
		target:    fmt.Sprintf("≥ %.2f", smallTarget),
		met:       yesNo(ratio >= smallTarget),
	}
}

// latencyRow has no target; its ratio is vaultdrop's latency over the
// reference's, so lower is better.
func latencyRow(measure string, ref, vd []batch, p float64) row {
	latency := func(b batch) float64 { return ms(percentile(b.latencies, p)) }
	refLatency := summarize(each(ref, latency))
	vdLatency := summarize(each(vd, latency))
	return row{
		measure:   measure,
		reference: summaryText(refLatency, 1),
		vaultdrop: summaryText(vdLatency, 1),
		ratio:     fmt.Sprintf("%.2f", vdLatency.median/refLatency.median),
	}
}

func errorRow(measure string, ref, vd []batch) row {
	failed := func(list []batch) int {
		n := 0
		for _, b := range list {
			n += b.failed
		}
		return n
	}
	return row{
		measure:   measure,
		reference: fmt.Sprint(failed(ref)),
		vaultdrop: fmt.Sprint(failed(vd)),
	}
}

// memoryRow shows the highest peak over the rounds and the median size at
// the start of the upload.
func memoryRow(measure string, ref, vd []transfer) row {
	text := func(list []transfer) (string, int64) {
		var peak int64
		for _, t := range list {
			peak = max(peak, t.peakRSS)
		}
		idle := summarize(each(list, func(t transfer) float64 { return mib(t.idleRSS) }))
		return fmt.Sprintf("%.1f (%.1f at start)", mib(peak), idle.median), peak
	}
	refText, _ := text(ref)
	vdText, vdPeak := text(vd)
	return row{
		measure:   measure,
		reference: refText,
		vaultdrop: vdText,
		target:    fmt.Sprintf("< %d MiB", peakRSSTarget>>20),
		met:       yesNo(vdPeak < peakRSSTarget),
	}
}

// cpuRow compares the user and system time a server used for one transfer.
// It has no target: with two servers and the client sharing the CPUs, it
// shows where a transfer's time went.
func cpuRow(measure string, ref, vd []transfer) row {
	return cpuTimeRow(measure, ref, vd, func(t transfer) time.Duration { return t.cpu.server })
}

// clientCPURow is cpuRow for the benchmark's own client.
func clientCPURow(measure string, ref, vd []transfer) row {
	return cpuTimeRow(measure, ref, vd, func(t transfer) time.Duration { return t.cpu.client })
}

func cpuTimeRow(measure string, ref, vd []transfer, of func(transfer) time.Duration) row {
	seconds := func(t transfer) float64 { return of(t).Seconds() }
	refCPU := summarize(each(ref, seconds))
	vdCPU := summarize(each(vd, seconds))
	return row{
		measure:   measure,
		reference: summaryText(refCPU, 2),
		vaultdrop: summaryText(vdCPU, 2),
		ratio:     fmt.Sprintf("%.2f", vdCPU.median/refCPU.median),
	}
}

func writeTable(b *strings.Builder, name string, rows []row, withTargets bool) {
	if withTargets {
		fmt.Fprintf(b, "| Measure | Reference | %s | Ratio | Target | Met |\n", name)
		fmt.Fprintf(b, "| --- | ---: | ---: | ---: | --- | --- |\n")
	} else {
		fmt.Fprintf(b, "| Measure | Reference | %s | Ratio |\n", name)
		fmt.Fprintf(b, "| --- | ---: | ---: | ---: |\n")
	}
	for _, r := range rows {
		if withTargets {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", r.measure, r.reference, r.vaultdrop, dash(r.ratio), dash(r.target), dash(r.met))
		} else {
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", r.measure, r.reference, r.vaultdrop, dash(r.ratio))
		}
	}
}

// summaryText formats a median with the range in brackets, or the value
// alone after one round.
func summaryText(s summary, decimals int) string {
	if math.IsNaN(s.median) {
		return "n/a"
	}
	if s.n < 2 {
		return fmt.Sprintf("%.*f", decimals, s.median)
	}
	return fmt.Sprintf("%.*f (%.*f–%.*f)", decimals, s.median, decimals, s.min, decimals, s.max)
}

// sizeText writes a byte count in the largest binary unit that divides it.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
