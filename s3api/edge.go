package s3api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"s3mesh/s3api/internal/checksum"
	"s3mesh/s3api/s3err"
)

// This file is the request edge: what every request goes through before
// and around its operation handler, whatever the operation. Body reads
// (time bounds, truncation), header-section limits, and the headers that
// ask for what the node does not do.

var (
	// errRequestTimeout is the cause of a request's context when
	// Config.RequestTimeout expired; writeError answers RequestTimeout.
	errRequestTimeout = errors.New("request time bound exceeded")
	// errClientGone is the cause of a request's context when a write to
	// the client failed; nothing more can be answered.
	errClientGone = errors.New("client gone")
)

// edgeBody is the request body as the handlers read it. It counts the
// bytes, bounds each read by Config.BodyIdleTimeout and by the request's
// deadline, and turns the body's failures into S3 errors:
//
//   - fewer bytes than Content-Length (the client closed or half-closed
//     its side early): IncompleteBody;
//   - no byte for BodyIdleTimeout, or past the request deadline:
//     RequestTimeout (the connection is then closed);
//   - a broken connection: the client is gone (nothing is answered);
//   - a malformed chunked transfer coding: IncompleteBody.
//
// Its errors are sticky.
type edgeBody struct {
	r        io.ReadCloser
	rc       *http.ResponseController
	conn     *edgeConn // nil when not served through Server
	idle     time.Duration
	deadline time.Time // zero: none
	want     int64     // Content-Length; -1 when unknown
	n        int64
	err      error
}

func (h *Handler) newEdgeBody(ctx context.Context, w http.ResponseWriter, r *http.Request) *edgeBody {
	b := &edgeBody{r: r.Body, rc: http.NewResponseController(w), want: r.ContentLength}
	if h.cfg.BodyIdleTimeout > 0 {
		b.idle = h.cfg.BodyIdleTimeout
	}
	b.deadline, _ = ctx.Deadline()
	b.conn, _ = r.Context().Value(edgeConnKey{}).(*edgeConn)
	return b
}

func (b *edgeBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	b.setDeadline(b.readDeadline())
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err == nil {
		return n, nil
	}
	switch {
	case errors.Is(err, io.EOF):
		// The body is done: net/http's own reads (the next request) are
		// not ours to bound.
		b.setDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !b.deadline.IsZero() && !time.Now().Before(b.deadline) {
			err = &s3err.Error{Code: s3err.ErrRequestTimeout, Err: fmt.Errorf("read body: %w: %w", errRequestTimeout, err)}
		} else {
			err = &s3err.Error{Code: s3err.ErrRequestTimeout, Err: fmt.Errorf("read body: no byte for %s: %w", b.idle, err)}
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg := "The request body ended before the length it announced."
		if b.want >= 0 {
			msg = fmt.Sprintf("You did not provide the number of bytes specified by the Content-Length HTTP header: %d of %d received.", b.n, b.want)
		}
		err = &s3err.Error{Code: s3err.ErrIncompleteBody, Message: msg, Err: fmt.Errorf("read body: %w", err)}
	default:
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, net.ErrClosed) {
			err = fmt.Errorf("read body: %w: %w", errClientGone, err)
		} else {
			// net/http's chunked decoder: malformed framing.
			err = &s3err.Error{Code: s3err.ErrIncompleteBody, Message: "The request body's chunked transfer coding is malformed.", Err: fmt.Errorf("read body: %w", err)}
		}
	}
	b.err = err
	return n, err
}

// readDeadline is the deadline of the next read: the idle bound from now,
// capped by the request's deadline; zero for none.
func (b *edgeBody) readDeadline() time.Time {
	var d time.Time
	if b.idle > 0 {
		d = time.Now().Add(b.idle)
	}
	if !b.deadline.IsZero() && (d.IsZero() || b.deadline.Before(d)) {
		d = b.deadline
	}
	return d
}

func (b *edgeBody) setDeadline(d time.Time) {
	if b.conn != nil {
		b.conn.setBodyDeadline(d)
		return
	}
	if b.idle > 0 || !b.deadline.IsZero() {
		_ = b.rc.SetReadDeadline(d)
	}
}

func (b *edgeBody) Close() error { return b.r.Close() }

// isRequestTimeout reports whether err ended a request because of its time
// bound (Config.RequestTimeout) rather than an operation's own.
func isRequestTimeout(r *http.Request, err error) bool {
	if !errors.Is(context.Cause(r.Context()), errRequestTimeout) && !errors.Is(err, errRequestTimeout) {
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, errRequestTimeout)
}

// admit checks what every request must satisfy before authentication: the
// size of its header section.
func (h *Handler) admit(r *http.Request) error {
	maxBytes, maxCount := h.cfg.MaxHeaderBytes, h.cfg.MaxHeaders
	if maxBytes < 0 && maxCount < 0 {
		return nil
	}
	size := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	count := 0
	for k, vv := range r.Header {
		for _, v := range vv {
			size += len(k) + len(v) + 4
			count++
		}
	}
	switch {
	case maxCount >= 0 && count > maxCount:
		return s3err.New(s3err.ErrRequestHeaderSectionTooLarge,
			fmt.Sprintf("Your request has %d header fields; the maximum is %d.", count, maxCount))
	case maxBytes >= 0 && size > maxBytes:
		return s3err.New(s3err.ErrRequestHeaderSectionTooLarge,
			fmt.Sprintf("Your request header section is %d bytes; the maximum is %d.", size, maxBytes))
	}
	return nil
}

// storageClasses are the storage classes S3 defines. The node stores every
// object the one way it has, STANDARD; it refuses the others rather than
// report a class it does not provide.
var storageClasses = map[string]bool{
	"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true,
	"ONEZONE_IA": true, "INTELLIGENT_TIERING": true, "GLACIER": true,
	"DEEP_ARCHIVE": true, "OUTPOSTS": true, "GLACIER_IR": true, "SNOW": true,
	"EXPRESS_ONEZONE": true, "FSX_OPENZFS": true,
}

// unsupportedHeaders maps request headers (lower case) that ask for a
// feature the node does not have to the error answered: it must not
// acknowledge an encryption, a lock or a redirect it did not apply.
var unsupportedHeaders = map[string]func(v string) error{
	"x-amz-server-side-encryption":                                sseHeader,
	"x-amz-server-side-encryption-aws-kms-key-id":                 notImplementedHeader("Server-side encryption with KMS keys"),
	"x-amz-server-side-encryption-context":                        notImplementedHeader("Server-side encryption with KMS keys"),
	"x-amz-server-side-encryption-bucket-key-enabled":             notImplementedHeader("S3 Bucket Keys"),
	"x-amz-server-side-encryption-customer-algorithm":             notImplementedHeader("Server-side encryption with customer-provided keys"),
	"x-amz-server-side-encryption-customer-key":                   notImplementedHeader("Server-side encryption with customer-provided keys"),
	"x-amz-server-side-encryption-customer-key-md5":               notImplementedHeader("Server-side encryption with customer-provided keys"),
	"x-amz-copy-source-server-side-encryption-customer-algorithm": notImplementedHeader("Server-side encryption with customer-provided keys"),
	"x-amz-copy-source-server-side-encryption-customer-key":       notImplementedHeader("Server-side encryption with customer-provided keys"),
	"x-amz-copy-source-server-side-encryption-customer-key-md5":   notImplementedHeader("Server-side encryption with customer-provided keys"),
	"x-amz-object-lock-mode":                                      objectLockHeader,
	"x-amz-object-lock-retain-until-date":                         objectLockHeader,
	"x-amz-object-lock-legal-hold":                                objectLockHeader,
	"x-amz-bypass-governance-retention":                           objectLockHeader,
	"x-amz-bucket-object-lock-enabled":                            bucketObjectLockHeader,
	"x-amz-website-redirect-location":                             notImplementedHeader("Website redirects"),
	"x-amz-mfa":                                                   notImplementedHeader("MFA delete"),
	"x-amz-write-offset-bytes":                                    notImplementedHeader("Appending to objects"),
	"x-amz-storage-class":                                         storageClassHeader,
	"x-amz-sdk-checksum-algorithm":                                checksumAlgorithmHeader,
	"x-amz-checksum-algorithm":                                    checksumAlgorithmHeader,
	"x-amz-expected-bucket-owner":                                 nil, // checked by checkHeaders, which knows the owner
	"x-amz-source-expected-bucket-owner":                          nil,
	"x-amz-object-ownership":                                      objectOwnershipHeader,
	"x-amz-request-payer":                                         nil, // billing only: nothing to do
}

func notImplementedHeader(what string) func(string) error {
	return func(string) error {
		return s3err.New(s3err.ErrNotImplemented, what+" is not supported by this node.")
	}
}

func sseHeader(v string) error {
	switch v {
	case "AES256", "aws:kms", "aws:kms:dsse":
		return s3err.New(s3err.ErrNotImplemented, "Server-side encryption is not supported by this node; objects are stored as content-addressed blocks, unencrypted.")
	}
	return errInvalidArgument("The encryption method specified is not supported: %q.", truncateValue(v))
}

func objectLockHeader(string) error {
	return s3err.New(s3err.ErrInvalidRequest, "Bucket is missing Object Lock Configuration: this node does not support Object Lock.")
}

func bucketObjectLockHeader(v string) error {
	if strings.EqualFold(v, "false") {
		return nil
	}
	return s3err.New(s3err.ErrNotImplemented, "Object Lock is not supported by this node.")
}

func objectOwnershipHeader(v string) error {
	switch v {
	case "BucketOwnerEnforced":
		return nil // what the node does: ACLs are fixed, the owner owns all
	case "BucketOwnerPreferred", "ObjectWriter":
		return s3err.New(s3err.ErrNotImplemented, "Object ownership "+v+" is not supported by this node; only BucketOwnerEnforced.")
	}
	return errInvalidArgument("Invalid x-amz-object-ownership header: %q.", truncateValue(v))
}

func storageClassHeader(v string) error {
	if v == "STANDARD" {
		return nil
	}
	if storageClasses[v] {
		return s3err.New(s3err.ErrInvalidStorageClass, "The storage class "+v+" is not offered by this node; it stores STANDARD only.")
	}
	return s3err.New(s3err.ErrInvalidStorageClass, fmt.Sprintf("The storage class you specified is not valid: %q.", truncateValue(v)))
}

func checksumAlgorithmHeader(v string) error {
	if _, err := checksum.ParseAlgorithm(strings.ToLower(v)); err != nil || v == "" {
		return s3err.New(s3err.ErrInvalidRequest, fmt.Sprintf("Value for the checksum algorithm header is invalid: %q.", truncateValue(v)))
	}
	return nil
}

// checkHeaders refuses a request whose headers ask for what the node does
// not do (see unsupportedHeaders), or name another bucket owner, and a
// copy that carries a body (UnexpectedContent: the client may believe it
// uploads it).
func (h *Handler) checkHeaders(r *http.Request, op Op) error {
	if (op == OpCopyObject || op == OpUploadPartCopy) && r.ContentLength != 0 {
		return s3err.New(s3err.ErrUnexpectedContent, "A copy request takes its content from x-amz-copy-source and carries no body.")
	}
	for name, vv := range r.Header {
		lower := strings.ToLower(name)
		fn, ok := unsupportedHeaders[lower]
		if !ok {
			continue
		}
		for _, v := range vv {
			v = strings.TrimSpace(v)
			if lower == "x-amz-expected-bucket-owner" || lower == "x-amz-source-expected-bucket-owner" {
				if v != h.cfg.Owner.ID {
					return s3err.New(s3err.ErrAccessDenied, "The bucket is not owned by the expected bucket owner.")
				}
				continue
			}
			if fn == nil {
				continue
			}
			if err := fn(v); err != nil {
				return err
			}
		}
	}
	return nil
}

func truncateValue(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
