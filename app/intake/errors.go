package intake

import (
	"errors"
	"fmt"
)

// Rejections. Each is a sentinel that errors.Is finds through *Rejection,
// which carries the message for the uploader.
var (
	ErrTooLarge            = errors.New("too large")
	ErrInsufficientStorage = errors.New("insufficient storage")
	ErrInfected            = errors.New("infected")
	ErrUnscannable         = errors.New("unscannable")
)

// Rejection is an upload refused for a reason the uploader can act on.
type Rejection struct {
	Kind      error  // one of the sentinels above
	Message   string // says what was wrong and what to do
	Signature string // for ErrInfected and ErrUnscannable: the scanner's name for it
}

func (r *Rejection) Error() string { return r.Message }

func (r *Rejection) Unwrap() error { return r.Kind }

func reject(kind error, format string, args ...any) *Rejection {
	return &Rejection{Kind: kind, Message: fmt.Sprintf(format, args...)}
}
