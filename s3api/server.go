package s3api

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"s3mesh/s3api/s3err"
)

// Defaults for ServerConfig.
const (
	// DefaultReadHeaderTimeout bounds the reading of a request's header
	// section.
	DefaultReadHeaderTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a kept-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultWriteIdleTimeout is how long a write to a client may block.
	DefaultWriteIdleTimeout = 30 * time.Second
	// DefaultMaxConns bounds the open client connections.
	DefaultMaxConns = 1024
)

// ServerConfig configures Server, the HTTP/1.1 server in front of a Handler
// (or of a mux that mounts one). The zero value is valid.
type ServerConfig struct {
	// ReadHeaderTimeout bounds the time to read a request's header
	// section, from the connection's accept or its previous response. A
	// client that sent part of a request by then is answered 400
	// RequestTimeout; the connection is closed either way. Default
	// DefaultReadHeaderTimeout (30 s); negative means no bound.
	ReadHeaderTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its
	// next request before it is closed. Default DefaultIdleTimeout (2 min);
	// negative means no bound.
	IdleTimeout time.Duration
	// WriteIdleTimeout bounds each write to a client: a client that reads
	// nothing of its response for that long has its connection closed.
	// Default DefaultWriteIdleTimeout (30 s); negative means no bound.
	WriteIdleTimeout time.Duration
	// MaxHeaderBytes is the largest request header section net/http reads
	// (it allows 4 KiB more). A larger one is answered 400
	// RequestHeaderSectionTooLarge in S3 XML, not net/http's plain-text
	// 431. Default DefaultMaxHeaderBytes (64 KiB); negative means net/http's
	// default (1 MiB).
	MaxHeaderBytes int
	// MaxConns bounds the client connections open at once. At the limit,
	// the server accepts no more until one closes: further clients wait in
	// the kernel's listen backlog, costing the process neither memory nor
	// a descriptor. Slow or stalled clients are closed by the time bounds
	// above and by Config.BodyIdleTimeout. Default DefaultMaxConns;
	// negative means no limit.
	MaxConns int
	// Logger receives net/http's own error log at debug level. nil
	// discards.
	Logger *slog.Logger
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.WriteIdleTimeout == 0 {
		c.WriteIdleTimeout = DefaultWriteIdleTimeout
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first problem with the configuration.
func (c ServerConfig) Validate() error {
	if c.MaxHeaderBytes > 0 && c.MaxHeaderBytes < 1024 {
		return fmt.Errorf("s3api server config: max header bytes %d is below 1024", c.MaxHeaderBytes)
	}
	return nil
}

// Server is an HTTP/1.1 server for the S3 API that answers in S3 terms even
// where net/http answers before any handler runs: oversized or malformed
// header sections get S3 XML errors, a stalled header section gets 400
// RequestTimeout, and connections are bounded in number and in time.
type Server struct {
	cfg ServerConfig
	srv *http.Server
}

// NewServer returns a Server for handler.
func NewServer(cfg ServerConfig, handler http.Handler) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ec, ok := r.Context().Value(edgeConnKey{}).(*edgeConn); ok {
				ec.responding()
			}
			handler.ServeHTTP(w, r)
		}),
		MaxHeaderBytes: max(cfg.MaxHeaderBytes, 0),
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if ec, ok := c.(*edgeConn); ok {
				return context.WithValue(ctx, edgeConnKey{}, ec)
			}
			return ctx
		},
		// HTTP/2 is not offered: S3 clients speak HTTP/1.1, and the
		// edge's guarantees are written for it.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	if cfg.ReadHeaderTimeout > 0 {
		s.srv.ReadHeaderTimeout = cfg.ReadHeaderTimeout
	}
	if cfg.IdleTimeout > 0 {
		s.srv.IdleTimeout = cfg.IdleTimeout
	}
	return s, nil
}

// Serve accepts connections on ln until Shutdown or Close, within
// MaxConns. It always returns a non-nil error; http.ErrServerClosed after
// Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	return s.srv.Serve(s.Listener(ln))
}

// Listener wraps ln as Serve does: at most MaxConns connections open, each
// an edge connection. It is exported for servers built otherwise (tests).
func (s *Server) Listener(ln net.Listener) net.Listener {
	l := &edgeListener{Listener: ln, cfg: &s.cfg, done: make(chan struct{})}
	if s.cfg.MaxConns > 0 {
		l.slots = make(chan struct{}, s.cfg.MaxConns)
	}
	return l
}

// Shutdown stops accepting, waits for in-flight requests until ctx is done,
// and closes idle connections; see http.Server.Shutdown.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close closes the listeners and every connection at once.
func (s *Server) Close() error { return s.srv.Close() }

// edgeListener bounds the open connections and wraps each in an edgeConn.
type edgeListener struct {
	net.Listener
	cfg       *ServerConfig
	slots     chan struct{} // nil: no limit
	done      chan struct{}
	closeOnce sync.Once
}

func (l *edgeListener) Accept() (net.Conn, error) {
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		if l.slots != nil {
			<-l.slots
		}
		return nil, err
	}
	ec := &edgeConn{Conn: c, writeIdle: l.cfg.WriteIdleTimeout}
	if l.slots != nil {
		ec.release = func() { <-l.slots }
	}
	return ec, nil
}

func (l *edgeListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type edgeConnKey struct{}

// netHTTPErrorHeaders ends the status line of the responses net/http writes
// itself, before any handler, to a request it cannot parse.
var netHTTPErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

// edgeConn is a client connection. It answers in S3 XML what net/http
// answers itself (a header section too large or malformed, a stalled
// header section), bounds each write by WriteIdleTimeout, and releases its
// connection slot when closed.
type edgeConn struct {
	net.Conn
	writeIdle time.Duration
	release   func() // nil: none

	mu sync.Mutex
	// inBody is true from the first body read of a request to its
	// response: a read timeout then is the handler's to answer.
	inBody bool
	// partial counts the bytes read since the last response write: a
	// header timeout with partial > 0 cut a request short.
	partial int64
	// aborting is true when net/http set a deadline in the past to stop a
	// background read: its timeout is no client's fault.
	aborting bool
	// answered is true once the edge wrote an error itself.
	answered bool
	// inResponse is true from a handler's start to the next request's
	// read: what is written then is a handler's response, never net/http's
	// own error (which it writes only when it could not read a request).
	inResponse bool
	// cancel ends the work of the request in service, if any; the
	// connection calls it when it breaks (see Read).
	cancel    context.CancelCauseFunc
	closeOnce sync.Once
}

// serving registers the cancel of the request in service (nil when it
// ends).
func (c *edgeConn) serving(cancel context.CancelCauseFunc) {
	c.mu.Lock()
	c.cancel = cancel
	c.mu.Unlock()
}

func (c *edgeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.partial += int64(n)
	headerTimeout := err != nil && errors.Is(err, os.ErrDeadlineExceeded) && !c.inBody && !c.aborting && c.partial > 0 && !c.answered
	if headerTimeout {
		c.answered = true
	}
	// A broken connection (reset, not the client's end of input, which a
	// half-close also sends) ends the request in service: nothing it does
	// can be answered. A read timeout is not a break.
	var cancel context.CancelCauseFunc
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
		cancel = c.cancel
	}
	c.mu.Unlock()
	if cancel != nil {
		cancel(fmt.Errorf("%w: read: %w", errClientGone, err))
	}
	if headerTimeout {
		c.writeError(http.StatusBadRequest, s3err.ErrRequestTimeout, "Your socket connection to the server was not read from or written to within the timeout period: the request's header section was not received in time.")
	}
	return n, err
}

// responding records that a handler serves the request read.
func (c *edgeConn) responding() {
	c.mu.Lock()
	c.inResponse = true
	c.mu.Unlock()
}

// SetReadDeadline is net/http's: a deadline in the past stops a background
// read; any other starts the reading of a request (its header deadline, or
// the idle wait before it), after the previous response was written.
func (c *edgeConn) SetReadDeadline(t time.Time) error {
	c.deadlineSet(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *edgeConn) SetDeadline(t time.Time) error {
	c.deadlineSet(t)
	return c.Conn.SetDeadline(t)
}

func (c *edgeConn) deadlineSet(t time.Time) {
	c.mu.Lock()
	c.aborting = !t.IsZero() && t.Before(time.Now())
	if !c.aborting {
		c.inResponse = false
	}
	c.mu.Unlock()
}

// setBodyDeadline sets the read deadline for a request body read.
func (c *edgeConn) setBodyDeadline(t time.Time) {
	c.mu.Lock()
	c.inBody = true
	c.aborting = false
	c.mu.Unlock()
	_ = c.Conn.SetReadDeadline(t)
}

func (c *edgeConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	own := !c.inResponse && bytes.HasPrefix(p, []byte("HTTP/1.1 ")) && bytes.Contains(p, netHTTPErrorHeaders)
	done := c.answered
	if own {
		c.answered = true
	}
	c.mu.Unlock()
	if own {
		// net/http's own answer to a request it could not read.
		if !done {
			c.rewriteNetHTTPError(p)
		}
		return len(p), nil
	}
	c.mu.Lock()
	c.inBody, c.partial = false, 0
	c.mu.Unlock()
	return c.write(p)
}

func (c *edgeConn) write(p []byte) (int, error) {
	if c.writeIdle > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.writeIdle))
	}
	return c.Conn.Write(p)
}

// rewriteNetHTTPError answers, in S3 XML, what net/http answered in p.
func (c *edgeConn) rewriteNetHTTPError(p []byte) {
	status := 0
	if len(p) >= 12 {
		status, _ = strconv.Atoi(string(p[9:12]))
	}
	detail := ""
	if i := bytes.Index(p, netHTTPErrorHeaders); i >= 0 {
		detail = string(p[i+len(netHTTPErrorHeaders):])
	}
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		c.writeError(http.StatusBadRequest, s3err.ErrRequestHeaderSectionTooLarge, "Your request header section exceeds the maximum allowed size.")
	case http.StatusNotImplemented:
		c.writeError(http.StatusNotImplemented, s3err.ErrNotImplemented, "A header you provided implies functionality that is not implemented: Transfer-Encoding.")
	case http.StatusHTTPVersionNotSupported:
		c.writeError(http.StatusNotImplemented, s3err.ErrNotImplemented, "The HTTP version is not supported; use HTTP/1.1.")
	default:
		msg := "The request could not be parsed as HTTP/1.1."
		if _, text, ok := bytes.Cut([]byte(detail), []byte(": ")); ok && len(text) < 200 {
			msg = "The request could not be parsed as HTTP/1.1: " + string(text) + "."
		}
		c.writeError(http.StatusBadRequest, s3err.ErrInvalidRequest, msg)
	}
}

// writeError writes a complete S3 error response that closes the
// connection. It is the edge's writer for requests no handler saw, and
// writes the same body as writeError.
func (c *edgeConn) writeError(status int, code s3err.Code, msg string) {
	id := newRequestID()
	body := errorXML(errorResponse{Code: string(code), Message: msg, RequestID: id, HostID: newHostID()})
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	fmt.Fprintf(&b, "Content-Type: application/xml\r\nContent-Length: %d\r\nConnection: close\r\n", len(body))
	fmt.Fprintf(&b, "Date: %s\r\nServer: s3mesh\r\nX-Amz-Request-Id: %s\r\n\r\n", time.Now().UTC().Format(http.TimeFormat), id)
	b.Write(body)
	_, _ = c.write(b.Bytes())
}

// CloseWrite half-closes the connection, for net/http's lingering close.
func (c *edgeConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// drainLimit and drainTime bound the reading of what a client still sends
// after the edge answered an error itself, so that the close does not
// reset the connection (and discard the answer) under the client's feet.
const (
	drainLimit = 8 << 20
	drainTime  = 500 * time.Millisecond
)

func (c *edgeConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		answered := c.answered
		c.mu.Unlock()
		if answered {
			_ = c.CloseWrite()
			_ = c.Conn.SetReadDeadline(time.Now().Add(drainTime))
			buf := make([]byte, 32<<10)
			for n := 0; n < drainLimit; {
				m, rerr := c.Conn.Read(buf)
				n += m
				if rerr != nil {
					break
				}
			}
		}
		err = c.Conn.Close()
		if c.release != nil {
			c.release()
		}
	})
	return err
}
