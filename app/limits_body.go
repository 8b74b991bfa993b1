package app

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/config"
)

// bodyTimeouts guards every request body against slow-loris clients. A read
// that waits longer than --body-idle-timeout for the next byte fails, and so
// does a body that arrives slower than --min-upload-rate over
// --min-upload-window. Only the time the handler spends waiting inside Read
// counts, so a server that pauses to write to disk or to the virus scanner
// never makes an honest client look slow. There is no deadline for the
// whole request: a large upload over a slow line finishes.
func (s *Server) bodyTimeouts(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body == nil || r.Body == http.NoBody {
			return next(c)
		}

		body := &timedBody{
			body:       r.Body,
			controller: http.NewResponseController(c.Response()),
			idle:       s.cfg.BodyIdleTimeout,
			minRate:    int64(s.cfg.MinUploadRate),
			window:     s.cfg.MinUploadRateWindow,
			now:        time.Now,
		}
		r.Body = body
		err := next(c)
		body.finish(c.Response(), r.ProtoMajor)
		return err
	}
}

// finish runs after the handler. When the handler did not read the body to
// its end, net/http's HTTP/1 server reads up to 256 KiB more before it
// writes the response, with no deadline, so a client that sends nothing
// could hold the connection forever. Such a request gets "Connection:
// close" when its response is not written yet, and otherwise a deadline for
// that read. HTTP/2 resets the stream instead and needs neither.
func (b *timedBody) finish(resp *echo.Response, protoMajor int) {
	if b.sawEOF || protoMajor >= 2 {
		b.clearDeadline()
		return
	}
	if !resp.Committed {
		resp.Header().Set(echo.HeaderConnection, "close")
	}
	b.setDeadline(b.now().Add(b.idle))
}

// timedBody is a request body with an idle timeout and a minimum rate.
type timedBody struct {
	body       io.ReadCloser
	controller *http.ResponseController
	idle       time.Duration
	minRate    int64 // bytes per second; 0 means no minimum
	window     time.Duration
	now        func() time.Time

	// waited is the time spent inside Read in the current window, and
	// received the bytes that arrived in it.
	waited   time.Duration
	received int64
	// noDeadlines is set when the connection cannot take read deadlines
	// (a test recorder); the rate check still applies then.
	noDeadlines bool
	failed      error
	sawEOF      bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	if b.failed != nil {
		return 0, b.failed
	}

	b.setDeadline(b.now().Add(b.idle))
	start := b.now()
	n, err := b.body.Read(p)
	waited := b.now().Sub(start)
	// The deadline must not outlive this Read: once the body is done the
	// server reads the connection in the background, and a deadline that
	// fires then would cancel the request's context.
	b.clearDeadline()

	if err == io.EOF {
		b.sawEOF = true
	}
	if isTimeout(err) {
		b.failed = bodyIdleError(b.idle)
		return n, b.failed
	}
	if rateErr := b.account(n, waited); rateErr != nil {
		b.failed = rateErr
		return n, b.failed
	}
	return n, err
}

// account adds one read to the current window and fails the body when a
// whole window of waiting brought less than the minimum rate.
func (b *timedBody) account(n int, waited time.Duration) error {
	if b.minRate <= 0 {
		return nil
	}
	b.waited += waited
	b.received += int64(n)
	if b.waited < b.window {
		return nil
	}

	want := int64(float64(b.minRate) * b.waited.Seconds())
	if b.received < want {
		return slowBodyError(b.minRate, b.received, b.waited)
	}
	b.waited, b.received = 0, 0
	return nil
}

func (b *timedBody) Close() error {
	return b.body.Close()
}

func (b *timedBody) setDeadline(t time.Time) {
	if b.noDeadlines {
		return
	}
	if err := b.controller.SetReadDeadline(t); err != nil {
		b.noDeadlines = true
	}
}

func (b *timedBody) clearDeadline() {
	b.setDeadline(time.Time{})
}

// isTimeout reports whether a body read failed on its deadline.
func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func bodyIdleError(idle time.Duration) *Error {
	return apiError(http.StatusRequestTimeout, "request_timeout",
		fmt.Sprintf("The request body sent nothing for %s, so the server stopped waiting. Check the connection and send the request again.", idle))
}

func slowBodyError(minRate, received int64, waited time.Duration) *Error {
	return apiError(http.StatusRequestTimeout, "request_timeout",
		fmt.Sprintf("The request body arrived at %s/s over %s, below the minimum of %s/s, so the server stopped waiting. Upload over a faster connection, or ask the operator to lower --min-upload-rate.",
			config.FormatBytes(int64(float64(received)/waited.Seconds())), waited.Round(time.Second), config.FormatBytes(minRate)))
}
