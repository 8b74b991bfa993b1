package scanner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// clamdConn is one connection to clamd whose I/O also stops when the
// caller's context ends: a done context moves both deadlines into the past,
// and later deadline changes cannot move them back.
type clamdConn struct {
	net.Conn

	mu      sync.Mutex
	expired bool
	stop    func() bool
}

// expiredTime is a deadline in the past that fails pending I/O at once.
var expiredTime = time.Unix(1, 0)

func (c *Clamd) dial(ctx context.Context) (*clamdConn, error) {
	if c.configErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, c.configErr)
	}

	dialer := net.Dialer{Timeout: c.cfg.ConnectTimeout}
	nc, err := dialer.DialContext(ctx, c.network, c.address)
	if err != nil {
		if ctx.Err() != nil {
			return nil, classify(ctx, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}

	conn := &clamdConn{Conn: nc}
	conn.stop = context.AfterFunc(ctx, conn.expire)
	return conn, nil
}

func (c *clamdConn) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.expired = true
	c.Conn.SetDeadline(expiredTime)
}

func (c *clamdConn) setReadDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if !c.expired {
		c.Conn.SetReadDeadline(t)
	}
}

func (c *clamdConn) setWriteDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if !c.expired {
		c.Conn.SetWriteDeadline(t)
	}
}

// write writes b, failing if clamd takes no data for idle or the write
// runs past limit.
func (c *clamdConn) write(b []byte, idle time.Duration, limit time.Time) error {
	c.setWriteDeadline(earliest(time.Now().Add(idle), limit))

	_, err := c.Conn.Write(b)
	return err
}

func (c *clamdConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// classify wraps a network error in ErrTimeout or ErrUnavailable, or
// returns the context's error when the caller gave up. Errors that already
// wrap a scanner sentinel pass unchanged.
func classify(ctx context.Context, err error) error {
	for _, sentinel := range []error{ErrUnavailable, ErrTimeout, ErrStreamLimit, ErrProtocol} {
		if errors.Is(err, sentinel) {
			return err
		}
	}

	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %w", ErrTimeout, ctxErr)
		}
		return ctxErr
	}

	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
