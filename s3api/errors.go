package s3api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"s3mesh/s3api/internal/checksum"
	"s3mesh/s3api/internal/sigv4"
	"s3mesh/s3api/s3err"
)

// RetryAfterSeconds is the Retry-After sent with a ServiceUnavailable
// answered because content could not be retrieved in time.
const RetryAfterSeconds = 5

// writeError answers err. It is the only place that writes S3 errors, and
// classifies in this order:
//
//  1. the client went away (a write to it failed, or its connection broke
//     while its body was read): code ClientClosed, nothing is sent and
//     ServeHTTP aborts the connection.
//  2. the request's own time bound (Config.RequestTimeout) expired: 400
//     RequestTimeout, and the connection is closed.
//  3. context.DeadlineExceeded: content could not be retrieved in time;
//     503 ServiceUnavailable with Retry-After and a message naming what
//     was missing.
//  4. an s3err code (or a sigv4 or checksum error carrying one): its status
//     and message, plus the error's extra headers. RequestTimeout and
//     IncompleteBody close the connection: the body's framing is lost.
//  5. anything else: 500 InternalError with a generic message; the detail
//     is logged with the request ID.
//
// Once the response status is sent, it only records the error. A HEAD
// request, and 304 Not Modified, get the status and headers without a body.
func (h *Handler) writeError(w *responseWriter, r *http.Request, err error) {
	ri := info(r)
	e := h.classify(r, err)
	ri.code = e.Code
	if e.Code != s3err.ErrNoSuchKey && e.Code != s3err.ErrNoSuchBucket && e.Code != s3err.ErrNotModified {
		ri.errDetail = err
	}
	if e.Code == s3err.ErrInternalError {
		h.log.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("op", string(ri.op)), slog.String("req_id", ri.id), slog.String("err", err.Error()))
	}
	if e.Code == s3err.ErrClientClosed || w.wroteHeader {
		return
	}
	hdr := w.Header()
	status := e.Code.Status()
	if status != http.StatusNotModified {
		// Drop what the handler set about the object; keep the IDs.
		for k := range hdr {
			if !keepOnError[k] {
				delete(hdr, k)
			}
		}
	}
	for k, v := range e.Header {
		hdr.Set(k, v)
	}
	if e.Code == s3err.ErrRequestTimeout || e.Code == s3err.ErrIncompleteBody {
		hdr.Set("Connection", "close")
	}
	w.errorWritten = true
	if ri.writeErr != nil {
		ri.writeErr(w, r, e)
		return
	}
	if r.Method == http.MethodHead || status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	resource := e.Resource
	if resource == "" {
		resource = ri.resource
	}
	body := errorXML(errorResponse{
		Code:      string(e.Code),
		Message:   e.ClientMessage(),
		Resource:  resource,
		RequestID: ri.id,
		HostID:    ri.hostID,
	})
	hdr.Set("Content-Type", "application/xml")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// keepOnError are the response headers an error response keeps.
var keepOnError = map[string]bool{"X-Amz-Request-Id": true, "X-Amz-Id-2": true, "Server": true}

// classify turns err into the S3 error to answer, in writeError's order.
func (h *Handler) classify(r *http.Request, err error) *s3err.Error {
	if errors.Is(err, errClientGone) || errors.Is(context.Cause(r.Context()), errClientGone) ||
		(errors.Is(err, context.Canceled) && r.Context().Err() != nil && clientGone(r)) {
		return &s3err.Error{Code: s3err.ErrClientClosed, Err: err}
	}
	if isRequestTimeout(r, err) {
		return &s3err.Error{Code: s3err.ErrRequestTimeout, Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		msg := "Content could not be retrieved in time from any reachable node (" + missingContent(err) + "); retry later."
		if e, ok := s3err.As(err); ok && e.Message != "" {
			msg = e.Message
		}
		return &s3err.Error{
			Code:    s3err.ErrServiceUnavailable,
			Message: msg,
			Err:     err,
			Header:  map[string]string{"Retry-After": strconv.Itoa(RetryAfterSeconds)},
		}
	}
	if e, ok := componentError(err); ok {
		return e
	}
	if e, ok := s3err.As(err); ok {
		if !e.Code.Known() || e.Code == s3err.ErrClientClosed {
			return &s3err.Error{Code: s3err.ErrInternalError, Err: err}
		}
		return e
	}
	return &s3err.Error{Code: s3err.ErrInternalError, Err: err}
}

// clientGone reports whether the request's context was cancelled because
// the client is gone (see responseWriter) rather than by a time bound
// (which surfaces as DeadlineExceeded and is classified as such). A
// request served outside ServeHTTP (WriteError) has net/http's context,
// which the client's disconnect cancels with context.Canceled.
func clientGone(r *http.Request) bool {
	cause := context.Cause(r.Context())
	return errors.Is(cause, errClientGone) || errors.Is(cause, context.Canceled)
}

// MissingContentError is implemented by store errors that name the content
// a retrieval was waiting for; writeError puts the name in the 503 message.
type MissingContentError interface {
	error
	MissingContent() string
}

// missingContent returns the name of the content err reports missing: the
// MissingContent of a MissingContentError in the chain, else err's text.
func missingContent(err error) string {
	var m MissingContentError
	if errors.As(err, &m) {
		return m.MissingContent()
	}
	return err.Error()
}

// componentError maps the errors of the sigv4 and checksum packages to S3
// errors: their codes are S3 codes; an unknown one is InvalidRequest.
func componentError(err error) (*s3err.Error, bool) {
	var code, msg string
	var se *sigv4.Error
	var ce *checksum.Error
	switch {
	case errors.As(err, &se):
		code, msg = se.Code, se.Message
	case errors.As(err, &ce):
		code, msg = ce.Code, ce.Message
	default:
		return nil, false
	}
	c := s3err.Code(code)
	if !c.Known() || c == s3err.ErrClientClosed {
		c = s3err.ErrInvalidRequest
	}
	return &s3err.Error{Code: c, Message: msg, Err: err}, true
}

// errInvalidURI is the error for a request path that does not decode.
func errInvalidURI(err error) error {
	return &s3err.Error{Code: s3err.ErrInvalidURI, Err: fmt.Errorf("decode path: %w", err)}
}

// errInvalidArgument returns an InvalidArgument error with a client-safe
// message.
func errInvalidArgument(format string, args ...any) error {
	return s3err.New(s3err.ErrInvalidArgument, fmt.Sprintf(format, args...))
}
