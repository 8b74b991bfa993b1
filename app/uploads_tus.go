package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	tushandler "github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"
)

// tusResponse adapts tusd's responses to the rest of the API:
//   - Location becomes a path under the route's base, so it is right behind
//     a TLS-terminating proxy, where tusd would build an http:// URL, and
//     under a drop link, which tusd's one base path does not know;
//   - HEAD shows only the file name from the stored metadata;
//   - OPTIONS lists the expiration extension, which vaultdrop implements;
//   - tusd's plain-text errors become the API's JSON errors.
type tusResponse struct {
	http.ResponseWriter
	method   string
	base     string // the path upload URLs start with on this route
	filename string
	log      *slog.Logger

	wroteHeader bool
	tusStatus   int           // the status of a plain-text error held back for finish
	tusBody     *bytes.Buffer // its body, "ERR_CODE: message"
	bodyErr     *Error        // the server's own error for a failed body read, such as a body timeout
}

// Unwrap lets http.ResponseController reach the connection, which tusd
// uses to set read and write deadlines.
func (w *tusResponse) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *tusResponse) WriteHeader(status int) {
	if w.wroteHeader || w.tusBody != nil {
		return
	}
	h := w.Header()
	if location := h.Get("Location"); location != "" {
		if u, err := url.Parse(location); err == nil {
			h.Set("Location", w.base+path.Base(u.Path))
		}
	}
	if w.method == http.MethodHead && h.Get("Upload-Metadata") != "" {
		h.Set("Upload-Metadata", tushandler.SerializeMetadataHeader(map[string]string{metaFilename: w.filename}))
	}
	if extensions := h.Get("Tus-Extension"); extensions != "" {
		h.Set("Tus-Extension", extensions+",expiration")
	}
	if status >= 300 || h.Get(headerStatus) != "" {
		h.Del("Upload-Expires") // only an unfinished upload expires
	}

	if status >= 400 && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		w.tusStatus, w.tusBody = status, &bytes.Buffer{}
		return
	}
	w.wroteHeader = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *tusResponse) Write(b []byte) (int, error) {
	if w.tusBody != nil {
		return w.tusBody.Write(b)
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// finish writes a held-back tusd error as the API's JSON error.
func (w *tusResponse) finish() {
	if w.tusBody == nil {
		return
	}
	code, message, _ := strings.Cut(strings.TrimSpace(w.tusBody.String()), ": ")
	e := translateTusError(w.tusStatus, code)
	if w.bodyErr != nil {
		e = w.bodyErr
	}
	if e.Status >= 500 {
		w.log.Error("resumable upload request failed", "method", w.method, "tus_error", code, "err", message)
	}

	var body errorBody
	body.Error.Code, body.Error.Message = e.Code, e.Message
	data, _ := json.Marshal(body) // two strings always encode
	data = append(data, '\n')

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.wroteHeader = true
	w.ResponseWriter.WriteHeader(e.Status)
	if w.method != http.MethodHead {
		w.ResponseWriter.Write(data)
	}
}

// tusBody is a request body on its way to tusd. tusd turns a body error it
// does not know into a 500 with the error's text. So an error the server
// chose while reading (the body timeouts) is kept for finish, and tusd gets
// a read timeout instead, which it treats as an interrupted chunk.
type tusBody struct {
	io.ReadCloser
	response *tusResponse
}

func (b *tusBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var e *Error
	if errors.As(err, &e) {
		b.response.bodyErr = e
		return n, bodyTimeout{e}
	}
	return n, err
}

// bodyTimeout is a net.Error that reports a timeout.
type bodyTimeout struct{ err error }

func (t bodyTimeout) Error() string   { return t.err.Error() }
func (t bodyTimeout) Timeout() bool   { return true }
func (t bodyTimeout) Temporary() bool { return false }

// translateTusError maps tusd's error codes to the API's codes and
// messages. Internal errors never show their text.
func translateTusError(status int, code string) *Error {
	switch code {
	case "ERR_UPLOAD_NOT_FOUND":
		return errNotFound
	case "ERR_UNSUPPORTED_VERSION":
		return apiError(status, "unsupported_version",
			"This server speaks tus 1.0.0. Send the header Tus-Resumable: 1.0.0.")
	case "ERR_INVALID_CONTENT_TYPE":
		return apiError(status, "invalid_request",
			"Send the chunk with Content-Type: application/offset+octet-stream.")
	case "ERR_INVALID_OFFSET":
		return apiError(status, "invalid_request",
			"Send the offset the chunk starts at in the Upload-Offset header; a HEAD request returns the current offset.")
	case "ERR_MISMATCHED_OFFSET":
		return apiError(status, "offset_mismatch",
			"Upload-Offset does not match the bytes the server has. Send a HEAD request and continue from the Upload-Offset it returns.")
	case "ERR_UPLOAD_SIZE_EXCEEDED", "ERR_MAX_SIZE_EXCEEDED":
		return apiError(status, "too_large",
			"The chunk goes past the upload's declared Upload-Length. Send only the bytes that remain.")
	case "ERR_UPLOAD_LOCKED", "ERR_LOCK_TIMEOUT":
		return apiError(http.StatusLocked, "upload_busy",
			"Another request for this upload is still running. Try again in a moment.")
	case "ERR_UPLOAD_INTERRUPTED", "ERR_UNEXPECTED_EOF", "ERR_READ_TIMEOUT", "ERR_CONNECTION_RESET":
		return apiError(status, "interrupted",
			"The chunk did not arrive completely. Send a HEAD request and continue from the Upload-Offset it returns.")
	case "ERR_SERVER_SHUTDOWN":
		return apiError(status, "shutting_down",
			"The server is restarting. Continue the upload in a moment.")
	case "ERR_NOT_IMPLEMENTED":
		return apiError(status, "not_implemented",
			"This server does not support that tus feature. It supports core, creation, creation-with-upload, termination and expiration.")
	}
	if status >= 500 {
		return apiError(http.StatusInternalServerError, "internal",
			"Something went wrong on the server. Try again; if it keeps happening, tell the operator.")
	}
	return apiError(status, "invalid_request", "The resumable upload request is invalid ("+strings.ToLower(strings.TrimPrefix(code, "ERR_"))+").")
}

// tusLogHandler passes tusd's warnings and errors to the server's logger.
// tusd logs every request at Info; those records are dropped, because the
// request log already has them.
type tusLogHandler struct {
	log   *slog.Logger
	attrs []any
}

func newTusLogger(log *slog.Logger) *expslog.Logger {
	return expslog.New(tusLogHandler{log: log})
}

func (h tusLogHandler) Enabled(_ context.Context, level expslog.Level) bool {
	return level >= expslog.LevelWarn
}

func (h tusLogHandler) Handle(ctx context.Context, r expslog.Record) error {
	args := append([]any{"tus_event", r.Message}, h.attrs...)
	r.Attrs(func(a expslog.Attr) bool {
		args = append(args, tusLogKey(a.Key), a.Value.String())
		return true
	})

	// A client that hangs up mid-chunk is logged by tusd as an error, but
	// it is the ordinary way an upload pauses.
	level := slog.LevelWarn
	if r.Message == "InternalServerError" {
		level = slog.LevelError
	}
	h.log.Log(ctx, level, "resumable upload", args...)
	return nil
}

func (h tusLogHandler) WithAttrs(attrs []expslog.Attr) expslog.Handler {
	next := tusLogHandler{log: h.log, attrs: append([]any{}, h.attrs...)}
	for _, a := range attrs {
		next.attrs = append(next.attrs, tusLogKey(a.Key), a.Value.String())
	}
	return next
}

func (h tusLogHandler) WithGroup(string) expslog.Handler { return h }

// tusLogKey turns tusd's camelCase keys (requestId) into snake_case.
func tusLogKey(key string) string {
	var b strings.Builder
	for i, r := range key {
		if 'A' <= r && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return "tus_" + b.String()
}
