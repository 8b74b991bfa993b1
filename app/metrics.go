package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/app/intake"
	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/store"
)

// Metrics counts what the server does and serves it at GET /metrics in the
// Prometheus text format, from a registry of its own. A nil *Metrics
// ignores every call, so call sites need no check while --metrics is off.
//
// It implements intake.Observer, so upload and scan counts come from the
// places where the pipeline decides.
type Metrics struct {
	registry *prometheus.Registry
	reasonOf func(error) string // the API error code of a rejected upload

	uploadsStored   *prometheus.CounterVec
	uploadsRejected *prometheus.CounterVec
	scans           *prometheus.CounterVec
	scanDuration    prometheus.Histogram
	uploadSize      prometheus.Histogram
	activeUploads   prometheus.Gauge
	receivedBytes   prometheus.Counter
	sentBytes       prometheus.Counter
	shareDownloads  prometheus.Counter
	dropUploads     prometheus.Counter
}

// rejectionReasons are the error codes an upload can be rejected with,
// reported as 0 before the first rejection so that rate() works from the
// start. Other codes appear when they first occur.
var rejectionReasons = []string{
	"invalid_name", "invalid_request", "too_large", "type_not_allowed", "type_mismatch",
	"infected", "unscannable", "insufficient_storage", "too_many_requests", "canceled",
}

// newMetrics returns the server's metrics, or nil when --metrics is off.
// It registers them as the intake pipeline's observer.
func (s *Server) newMetrics() *Metrics {
	if !s.cfg.Metrics {
		return nil
	}

	m := newMetricsRegistry(s.version, s.rejectionReason, s.countPending, s.log)
	if s.intake != nil {
		s.intake.SetObserver(m)
	}
	return m
}

// newMetricsRegistry builds every metric in a private registry. pending
// returns the number of files waiting for a verdict at scrape time.
func newMetricsRegistry(version string, reasonOf func(error) string, pending func(context.Context) (int, error), log *slog.Logger) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		reasonOf: reasonOf,
		uploadsStored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vaultdrop_uploads_accepted_total",
			Help: "Uploads stored, by the status they were stored with: clean, pending or unscanned.",
		}, []string{"status"}),
		uploadsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vaultdrop_uploads_rejected_total",
			Help: "Uploads the intake pipeline did not store, by the API error code of the answer.",
		}, []string{"reason"}),
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vaultdrop_scans_total",
			Help: "Virus scans of uploads, pending files and rescans, by verdict: clean, infected, unscannable, or error when the scanner gave none.",
		}, []string{"verdict"}),
		scanDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vaultdrop_scan_duration_seconds",
			Help:    "Time from the start of a scan to its verdict; a streamed upload's scan starts with its first byte.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
		uploadSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vaultdrop_upload_size_bytes",
			Help:    "Sizes of stored uploads.",
			Buckets: prometheus.ExponentialBuckets(1<<10, 4, 12), // 1 KiB to 4 GiB
		}),
		activeUploads: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vaultdrop_active_uploads",
			Help: "Upload bodies being received right now.",
		}),
		receivedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vaultdrop_http_received_bytes_total",
			Help: "Bytes of request bodies read from clients.",
		}),
		sentBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vaultdrop_http_sent_bytes_total",
			Help: "Bytes of response bodies sent to clients.",
		}),
		shareDownloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vaultdrop_share_downloads_total",
			Help: "Counted downloads through share links: single files and zips of all files.",
		}),
		dropUploads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vaultdrop_drop_uploads_total",
			Help: "Files stored through drop links.",
		}),
	}

	pendingGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vaultdrop_pending_scans",
		Help: "Stored files waiting for a virus scan verdict; NaN when the database did not answer.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := pending(ctx)
		if err != nil {
			log.Warn("count pending files for metrics", "err", err)
			return math.NaN()
		}
		return float64(n)
	})
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "vaultdrop_build_info",
		Help:        "Always 1; the version label names the running build.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	buildInfo.Set(1)

	m.registry.MustRegister(
		m.uploadsStored, m.uploadsRejected, m.scans, m.scanDuration, m.uploadSize, m.activeUploads,
		m.receivedBytes, m.sentBytes, m.shareDownloads, m.dropUploads, pendingGauge, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.initLabels()
	return m
}

// initLabels reports every known label value as 0 until it first counts.
func (m *Metrics) initLabels() {
	for _, status := range []string{store.StatusClean, store.StatusPending, store.StatusUnscanned} {
		m.uploadsStored.WithLabelValues(status)
	}
	for _, reason := range rejectionReasons {
		m.uploadsRejected.WithLabelValues(reason)
	}
	for _, verdict := range []string{string(scanner.Clean), string(scanner.Infected), string(scanner.Unscannable), intake.ScanError} {
		m.scans.WithLabelValues(verdict)
	}
}

// UploadStarted implements intake.Observer.
func (m *Metrics) UploadStarted() {
	if m != nil {
		m.activeUploads.Inc()
	}
}

// UploadEnded implements intake.Observer.
func (m *Metrics) UploadEnded() {
	if m != nil {
		m.activeUploads.Dec()
	}
}

// UploadStored implements intake.Observer.
func (m *Metrics) UploadStored(file store.File) {
	if m == nil {
		return
	}
	m.uploadsStored.WithLabelValues(file.Status).Inc()
	m.uploadSize.Observe(float64(file.Size))
}

// UploadRejected implements intake.Observer.
func (m *Metrics) UploadRejected(err error) {
	if m != nil {
		m.uploadsRejected.WithLabelValues(m.reasonOf(err)).Inc()
	}
}

// ScanFinished implements intake.Observer.
func (m *Metrics) ScanFinished(outcome string, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.scans.WithLabelValues(outcome).Inc()
	m.scanDuration.Observe(elapsed.Seconds())
}

// ShareDownload counts one counted download through a share link: one
// file, or the zip of all its files. Resumed ranges do not count again.
func (m *Metrics) ShareDownload() {
	if m != nil {
		m.shareDownloads.Inc()
	}
}

// DropUpload counts one file stored through a drop link.
func (m *Metrics) DropUpload() {
	if m != nil {
		m.dropUploads.Inc()
	}
}

// rejectionReason returns the API error code of a rejected upload's
// response, so the metric's labels match what clients see.
func (s *Server) rejectionReason(err error) string {
	if errors.Is(err, context.Canceled) || errors.Is(err, errRequestCanceled) {
		return "canceled"
	}
	return s.classify(uploadError(err)).Code
}

func (s *Server) countPending(ctx context.Context) (int, error) {
	counts, err := s.store.CountByStatus(ctx)
	if err != nil {
		return 0, err
	}
	return counts[store.StatusPending], nil
}

// metricsRoutes serves GET /metrics and counts body bytes when --metrics
// is on. Without it the route does not exist, so requests get 404.
func (s *Server) metricsRoutes(e *echo.Echo) {
	if s.metrics == nil {
		return
	}

	// Pre runs before routing, so every request's bytes count, unknown
	// routes and rejected requests included.
	e.Pre(s.countBodyBytes)
	handler := promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError),
		Registry: s.metrics.registry,
	})
	e.GET("/metrics", func(c echo.Context) error {
		if !s.mayReadMetrics(c) {
			return errNotFound
		}
		handler.ServeHTTP(c.Response(), c.Request())
		return nil
	})
}

// mayReadMetrics lets through an admin's API token, and requests made
// directly on this machine, such as a local Prometheus scraping
// 127.0.0.1. Everyone else gets 404, as if metrics were off.
func (s *Server) mayReadMetrics(c echo.Context) bool {
	r := c.Request()
	if u, ok := currentUser(c); ok && u.IsAdmin && r.Header.Get(echo.HeaderAuthorization) != "" {
		return true
	}
	return !s.cfg.BehindProxy && directLoopbackRequest(r)
}

// forwardingHeaders are set by reverse proxies. A request from loopback
// that carries one came from elsewhere through a proxy on this machine.
var forwardingHeaders = []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded", "X-Forwarded-Host"}

// directLoopbackRequest reports whether r came from a loopback peer
// addressed by a loopback Host, without proxy headers.
//
// NOTE: a reverse proxy on this machine that sets none of the forwarding
// headers and passes a loopback Host (nginx's proxy_pass does by default)
// makes outside requests look local. docs/deployment.md shows how to
// block /metrics at such a proxy.
func directLoopbackRequest(r *http.Request) bool {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !peer.Addr().Unmap().IsLoopback() {
		return false
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if !config.IsLoopbackHost(host) {
		return false
	}
	for _, h := range forwardingHeaders {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	return true
}

// countBodyBytes adds every request's and response's body size to the
// byte counters.
func (s *Server) countBodyBytes(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		body := &countingBody{ReadCloser: c.Request().Body}
		c.Request().Body = body

		err := next(c)

		s.metrics.receivedBytes.Add(float64(body.n))
		s.metrics.sentBytes.Add(float64(c.Response().Size))
		return err
	}
}

// countingBody counts the bytes read from a request body. One request's
// body is read by one goroutine at a time, so n needs no lock.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
