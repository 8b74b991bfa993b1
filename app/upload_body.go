package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/app/filename"
	"github.com/vaultdrop/vaultdrop/app/filetype"
	"github.com/vaultdrop/vaultdrop/app/intake"
)

// Multipart limits: a form field that is not a file is small text, and a
// form with very many parts is an attack, not an upload.
const (
	maxFieldSize = 64 << 10
	maxFormParts = 100
	// partBufferSize is the read buffer under the multipart reader. The
	// standard reader peeks only 4 KiB at a time unless it is handed a
	// larger bufio.Reader, and small reads cost a system call each.
	partBufferSize = 512 << 10
	// minPartBufferSize is the standard multipart reader's own buffer size;
	// it wraps any smaller reader in a buffer of this size again.
	minPartBufferSize = 4 << 10
)

// formReader reads multipart parts one at a time, counting them and
// bounding the size of each part's headers.
type formReader struct {
	mr      *multipart.Reader
	headers *partHeaderGuard
	parts   int
}

// newPartReader reads the parts of body. Its read buffer is partBufferSize,
// or the declared length of the body when that is smaller, so that a small
// upload does not allocate and zero a whole MiB.
func newPartReader(body io.Reader, boundary string, declaredLength int64) *formReader {
	size := partBufferSize
	if declaredLength >= 0 && declaredLength < partBufferSize {
		size = max(int(declaredLength), minPartBufferSize)
	}
	headers := &partHeaderGuard{r: bufio.NewReaderSize(body, size)}
	return &formReader{mr: multipart.NewReader(headers, boundary), headers: headers}
}

func (f *formReader) next() (*multipart.Part, error) {
	if f.parts >= maxFormParts {
		return nil, apiError(http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("The form has more than %d parts. Send fewer fields, and one file per request.", maxFormParts))
	}
	f.parts++
	// NextRawPart keeps Content-Transfer-Encoding as sent instead of
	// decoding quoted-printable behind the caller's back.
	f.headers.arm()
	defer f.headers.disarm()
	return f.mr.NextRawPart()
}

// skipField reads and drops a non-file form field, refusing a large one.
func skipField(part *multipart.Part) error {
	n, err := io.Copy(io.Discard, io.LimitReader(part, maxFieldSize+1))
	if err != nil {
		return multipartError(err)
	}
	if n > maxFieldSize {
		return apiError(http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("The form field %q is larger than %s. Send large content as the file part.", part.FormName(), config.FormatBytes(maxFieldSize)))
	}
	return nil
}

// multipartError maps a malformed multipart body to a 400, keeping size
// errors as 413.
func multipartError(err error) error {
	if e := bodyLimitError(err); e != nil {
		return e
	}
	return apiError(http.StatusBadRequest, "invalid_request",
		"The multipart body is malformed: "+err.Error()+". Send a valid multipart/form-data body.")
}

// checkContentLength refuses a body whose declared length is already over
// the request limit, before reading any of it.
func (s *Server) checkContentLength(r *http.Request) error {
	if r.ContentLength > int64(s.cfg.MaxRequestSize) {
		return s.requestTooLarge()
	}
	return nil
}

func (s *Server) requestTooLarge() *Error {
	return apiError(http.StatusRequestEntityTooLarge, "too_large",
		fmt.Sprintf("The request body is larger than the maximum request size of %s. Upload a smaller file, or ask the operator to raise --max-request-size.",
			s.cfg.MaxRequestSize))
}

// limitBody caps the request body at --max-request-size whatever its
// framing: a chunked body or one without Content-Length stops at the same
// limit. Past it the server stops reading and closes the connection.
func (s *Server) limitBody(c echo.Context) io.Reader {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, int64(s.cfg.MaxRequestSize))
	return &requestBody{r: r.Body, server: s}
}

// requestBody turns the body limit's error into the 413 rejection.
type requestBody struct {
	r      io.Reader
	server *Server
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return n, b.server.requestTooLarge()
	}
	return n, err
}

func bodyLimitError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apiError(http.StatusRequestEntityTooLarge, "too_large", "The request body is too large.")
	}
	return nil
}

// uploadError turns intake and body errors into the API's error responses.
func uploadError(err error) error {
	if e := bodyLimitError(err); e != nil {
		return e
	}
	if e := classifyIntake(err); e != nil {
		return e
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, multipart.ErrMessageTooLarge) {
		return multipartError(err)
	}
	return err
}

// classifyIntake maps the intake pipeline's rejections to statuses and
// error codes; nil when err is not one of them.
func classifyIntake(err error) *Error {
	var rej *intake.Rejection
	var fe *filetype.Error
	switch {
	case errors.Is(err, filename.ErrInvalid):
		return apiError(http.StatusBadRequest, "invalid_name", err.Error())
	case errors.As(err, &fe) && errors.Is(err, filetype.ErrMismatch):
		return apiError(http.StatusUnsupportedMediaType, "type_mismatch", fe.Error())
	case errors.As(err, &fe):
		return apiError(http.StatusUnsupportedMediaType, "type_not_allowed", fe.Error())
	case !errors.As(err, &rej):
		return nil
	case errors.Is(err, intake.ErrTooLarge):
		return apiError(http.StatusRequestEntityTooLarge, "too_large", rej.Message)
	case errors.Is(err, intake.ErrInsufficientStorage):
		return apiError(http.StatusInsufficientStorage, "insufficient_storage", rej.Message)
	case errors.Is(err, intake.ErrInfected):
		return apiError(http.StatusUnprocessableEntity, "infected", rej.Message)
	case errors.Is(err, intake.ErrUnscannable):
		return apiError(http.StatusUnprocessableEntity, "unscannable", rej.Message)
	}
	return nil
}
