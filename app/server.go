// Package app is vaultdrop's web server: routes, handlers, middleware and
// the mapping from errors to HTTP responses.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/app/intake"
	"github.com/vaultdrop/vaultdrop/store"
)

// Deps are everything the server needs from outside.
type Deps struct {
	Config config.Config
	Store  *store.Store
	Vault  *store.Vault
	Intake *intake.Pipeline
	// Scanning is the scanning policy and current scanner, shared with the
	// intake pipeline.
	Scanning *intake.Scanning
	Log      *slog.Logger
	Now      func() time.Time // nil means time.Now
	Version  string
}

// Server is the vaultdrop HTTP server.
type Server struct {
	cfg      config.Config
	store    *store.Store
	vault    *store.Vault
	intake   *intake.Pipeline
	scanning *intake.Scanning
	log      *slog.Logger
	now      func() time.Time
	version  string

	echo         *echo.Echo
	limits       *loginLimits
	uploadGate   *uploadGate    // upload concurrency caps
	auditRepeats *auditThrottle // repeated rejections recorded once a minute
	retryWakeup  chan struct{}

	linkLimits       *linkLimits    // link password attempts
	dropUploadLimits *keyedLimiter  // drop uploads per client address
	webhook          *webhookSender // drop arrival notices

	uploads *resumableUploads // tus uploads

	metrics *Metrics // nil unless --metrics
}

// New builds the server and its routes.
func New(d Deps) (*Server, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		return nil, errors.New("app.New: Log is nil")
	}

	s := &Server{
		cfg:          d.Config,
		store:        d.Store,
		vault:        d.Vault,
		intake:       d.Intake,
		scanning:     d.Scanning,
		log:          d.Log,
		now:          d.Now,
		version:      d.Version,
		limits:       newLoginLimits(d.Now),
		uploadGate:   newUploadGate(d.Config.Limits),
		auditRepeats: newAuditThrottle(repeatAuditInterval, d.Now),
		retryWakeup:  make(chan struct{}, 1),

		linkLimits:       newLinkLimits(d.Now),
		dropUploadLimits: newDropUploadLimits(d.Now),
		webhook:          newWebhookSender(d.Log, d.Version),
	}
	uploads, err := s.newResumableUploads()
	if err != nil {
		return nil, err
	}
	s.uploads = uploads
	s.metrics = s.newMetrics()
	s.echo = s.routes()
	return s, nil
}

// RunWorkers runs the background work until ctx ends: retrying scans of
// pending files, measuring the scanner's size limit, removing expired
// resumable uploads and the janitor's cleanup (see janitor.go).
func (s *Server) RunWorkers(ctx context.Context) {
	if s.scanning != nil && !s.scanning.Off() {
		go s.runProbes(ctx)
	}
	go s.runUploadExpiry(ctx)
	go s.runJanitor(ctx)
	s.intake.RunRetries(ctx, s.retryWakeup)
}

// RetryPendingNow scans every pending file once with the current scanner
// and returns how many are still pending.
func (s *Server) RetryPendingNow(ctx context.Context) (int, error) {
	return s.intake.RetryPending(ctx)
}

// WakeRetries makes the retry worker scan pending files now.
func (s *Server) WakeRetries() {
	select {
	case s.retryWakeup <- struct{}{}:
	default:
	}
}

// Handler returns the server's HTTP handler, for tests and for Serve.
func (s *Server) Handler() http.Handler {
	return s.echo
}

// Serve handles requests on ln until ctx is cancelled, then stops taking new
// connections and lets requests in flight finish for up to 30 seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler: s.echo,
		// Headers must arrive within --header-timeout. Bodies have no
		// deadline as a whole, so an honest slow upload of a large file is
		// not cut off; bodyTimeouts ends bodies that stall or crawl.
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	s.log.Info("shutting down", "grace_seconds", 30)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.log.Info("server stopped: every request finished")
	return nil
}

// Listen opens a TCP listener on addr. Unless explicit is set, a taken port
// moves on to the next one, up to 100 ports further.
func Listen(addr string, explicit bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil || explicit || !isAddrInUse(err) {
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		return ln, nil
	}

	host, portText, splitErr := net.SplitHostPort(addr)
	if splitErr != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	var port int
	fmt.Sscanf(portText, "%d", &port)
	for next := port + 1; next <= port+100 && next < 65536; next++ {
		ln, err = net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(next)))
		if err == nil {
			return ln, nil
		}
	}
	return nil, fmt.Errorf("listen on %s and the 100 ports after it: all taken; give a free one with --addr", addr)
}
