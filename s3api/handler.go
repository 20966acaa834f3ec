package s3api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/s3api/internal/sigv4"
	"s3mesh/s3api/s3err"
)

// Defaults for Config.
const (
	// DefaultRegion is the region a zero Config serves.
	DefaultRegion = "us-east-1"
	// DefaultMaxSkew is how far a request's signing time may lie from the
	// server's clock.
	DefaultMaxSkew = 15 * time.Minute
	// DefaultOpTimeout bounds every operation that does not stream object
	// content.
	DefaultOpTimeout = time.Minute
	// DefaultOwnerID is the canonical user ID reported as bucket and object
	// owner.
	DefaultOwnerID = "s3mesh"
	// DefaultOwnerDisplayName is the display name reported with the owner.
	DefaultOwnerDisplayName = "s3mesh"
	// DefaultBodyIdleTimeout is how long a request body may send nothing.
	DefaultBodyIdleTimeout = 30 * time.Second
	// DefaultRequestTimeout bounds a whole request, body and response.
	DefaultRequestTimeout = time.Hour
	// DefaultMaxRequests is how many requests are served at once.
	DefaultMaxRequests = 512
	// DefaultMaxHeaderBytes bounds the request header section (names,
	// values and the request line), in bytes.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxHeaders bounds the number of request header fields.
	DefaultMaxHeaders = 500
)

// Secret is a secret string, such as a secret access key. It prints and logs
// redacted; convert it with string(s) to use it.
type Secret string

// LogValue redacts the secret in log output.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// String redacts the secret when formatted.
func (Secret) String() string { return "REDACTED" }

// GoString redacts the secret when formatted with %#v.
func (Secret) GoString() string { return `"REDACTED"` }

// Credentials are the root access key pair every request must be signed
// with.
type Credentials struct {
	AccessKey string
	SecretKey Secret
}

// Owner is the canonical user reported as the owner of buckets and objects.
type Owner struct {
	// ID is the canonical user ID. Default DefaultOwnerID.
	ID string
	// DisplayName is the owner's display name. Default
	// DefaultOwnerDisplayName.
	DisplayName string
}

// Config configures a Handler. Credentials are required; every other field
// has a default.
type Config struct {
	// Credentials is the root key pair. Required: every request is
	// authenticated, and anonymous requests are denied.
	Credentials Credentials
	// Region is the region requests are signed for and buckets live in.
	// Default DefaultRegion.
	Region string
	// Domains are the endpoint host names (without port) under which a
	// request to bucket.<domain> is virtual-hosted style. Empty means
	// path style only.
	Domains []string
	// Owner is reported on ListBuckets and on listed objects. Zero fields
	// take the defaults.
	Owner Owner
	// MaxSkew is how far a request's signing time may lie from Clock.
	// Default DefaultMaxSkew.
	MaxSkew time.Duration
	// Clock returns the current time. nil means time.Now.
	Clock func() time.Time
	// Logger receives one access-log line per request and internal error
	// details. nil discards.
	Logger *slog.Logger
	// Registerer receives the request metrics. nil registers none.
	Registerer prometheus.Registerer
	// OpTimeout bounds each operation that does not stream object content
	// (everything but GetObject, PutObject and UploadPart). Default
	// DefaultOpTimeout; negative means no bound.
	OpTimeout time.Duration
	// Timeouts overrides the bound of individual operations, by name. A
	// positive value bounds the operation, including GetObject, PutObject
	// and UploadPart, which are otherwise bounded only by the store's
	// retrieval timeout and the HTTP server's; a negative value removes the
	// bound.
	Timeouts map[Op]time.Duration
	// Mounts are other endpoints served on the same listener through the
	// same request wrapper (see Mount), tried in order before S3 routing.
	// None by default.
	Mounts []Mount
	// BodyIdleTimeout bounds the wait for each read of a request body: a
	// client that sends nothing for that long is answered 400
	// RequestTimeout and its connection closed. Default
	// DefaultBodyIdleTimeout (30 s); negative means no bound.
	BodyIdleTimeout time.Duration
	// RequestTimeout bounds a whole request, from its headers to the end
	// of the response: past it, a request whose answer is not started is
	// answered 400 RequestTimeout and one whose answer is started is
	// aborted (the connection is closed). It is the one bound of a request
	// that is neither cut by the client's connection nor by a half-close:
	// the work of a request runs on a context that a client's end of input
	// (FIN) does not cancel. Default DefaultRequestTimeout (1 h); negative
	// means no bound.
	RequestTimeout time.Duration
	// MaxRequests bounds the requests served at once; one more is answered
	// 503 SlowDown at once. Default DefaultMaxRequests; negative means no
	// limit.
	MaxRequests int
	// MaxHeaderBytes bounds the request line and header fields, in bytes;
	// MaxHeaders bounds the number of header fields. A larger request is
	// answered 400 RequestHeaderSectionTooLarge. Defaults
	// DefaultMaxHeaderBytes (64 KiB) and DefaultMaxHeaders (500); negative
	// means no limit. (A header section larger than the HTTP server's own
	// limit, see ServerConfig.MaxHeaderBytes, never reaches the handler; the
	// server answers it with the same S3 error.)
	MaxHeaderBytes int
	MaxHeaders     int
}

func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Owner.ID == "" {
		c.Owner.ID = DefaultOwnerID
	}
	if c.Owner.DisplayName == "" {
		c.Owner.DisplayName = DefaultOwnerDisplayName
	}
	if c.MaxSkew == 0 {
		c.MaxSkew = DefaultMaxSkew
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.BodyIdleTimeout == 0 {
		c.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxRequests == 0 {
		c.MaxRequests = DefaultMaxRequests
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxHeaders == 0 {
		c.MaxHeaders = DefaultMaxHeaders
	}
	return c
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	if c.Credentials.AccessKey == "" || c.Credentials.SecretKey == "" {
		return errors.New("s3api config: credentials: access key and secret key are required")
	}
	if strings.ContainsAny(c.Credentials.AccessKey, "/ \t\r\n") {
		return errors.New("s3api config: credentials: access key must not contain '/' or white space")
	}
	if c.MaxSkew < 0 {
		return fmt.Errorf("s3api config: max skew %s is negative", c.MaxSkew)
	}
	for _, d := range c.Domains {
		if d == "" || strings.ContainsAny(d, ":/ ") || d != strings.ToLower(d) {
			return fmt.Errorf("s3api config: domain %q must be a lower-case host name without port", d)
		}
	}
	for op := range c.Timeouts {
		if _, ok := opHandlers[op]; !ok {
			return fmt.Errorf("s3api config: timeout for unknown operation %q", op)
		}
	}
	return validateMounts(c.Mounts)
}

// Handler serves the S3 API over an ObjectStore, and the routes of
// Config.Mounts beside it. It is an http.Handler and answers every path.
type Handler struct {
	cfg Config
	// slots holds one token per request in service; nil means no limit.
	slots    chan struct{}
	store    ObjectStore
	router   *router
	verifier *sigv4.Verifier
	metrics  *metrics
	log      *slog.Logger
	reserved map[string]string // bucket name → what the mount using it serves
}

// New returns a Handler serving store as configured by cfg.
func New(cfg Config, store ObjectStore) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("s3api: nil store")
	}
	v, err := newVerifier(cfg)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	var slots chan struct{}
	if cfg.MaxRequests > 0 {
		slots = make(chan struct{}, cfg.MaxRequests)
	}
	return &Handler{
		cfg:      cfg,
		slots:    slots,
		store:    store,
		router:   newRouter(cfg.Domains),
		verifier: v,
		metrics:  m,
		log:      cfg.Logger,
		reserved: reservedNames(cfg.Mounts),
	}, nil
}

// handlerFunc is the signature of every operation handler: it writes a
// successful response, or returns an error that writeError answers.
type handlerFunc func(h *Handler, w http.ResponseWriter, r *http.Request) error

// opHandlers maps each served operation to its handler. An operation of the
// routing table without an entry is answered NotImplemented.
var opHandlers = map[Op]handlerFunc{
	OpListBuckets:       (*Handler).handleListBuckets,
	OpCreateBucket:      (*Handler).handleCreateBucket,
	OpHeadBucket:        (*Handler).handleHeadBucket,
	OpDeleteBucket:      (*Handler).handleDeleteBucket,
	OpGetBucketLocation: (*Handler).handleGetBucketLocation,
	OpPutObject:         (*Handler).handlePutObject,
	OpGetObject:         (*Handler).handleGetObject,
	OpHeadObject:        (*Handler).handleGetObject,
	OpDeleteObject:      (*Handler).handleDeleteObject,
	OpDeleteObjects:     (*Handler).handleDeleteObjects,
	OpListObjects:       (*Handler).handleListObjects,
	OpListObjectsV2:     (*Handler).handleListObjectsV2,

	OpCreateMultipartUpload:   (*Handler).handleCreateMultipartUpload,
	OpUploadPart:              (*Handler).handleUploadPart,
	OpUploadPartCopy:          (*Handler).handleUploadPartCopy,
	OpCompleteMultipartUpload: (*Handler).handleCompleteMultipartUpload,
	OpAbortMultipartUpload:    (*Handler).handleAbortMultipartUpload,
	OpListParts:               (*Handler).handleListParts,
	OpListMultipartUploads:    (*Handler).handleListMultipartUploads,
	OpCopyObject:              (*Handler).handleCopyObject,
	OpGetObjectTagging:        (*Handler).handleGetObjectTagging,
	OpPutObjectTagging:        (*Handler).handlePutObjectTagging,
	OpDeleteObjectTagging:     (*Handler).handleDeleteObjectTagging,
	OpGetObjectAcl:            (*Handler).handleGetObjectAcl,
	OpPutObjectAcl:            (*Handler).handlePutObjectAcl,
	OpGetBucketAcl:            (*Handler).handleGetBucketAcl,
	OpPutBucketAcl:            (*Handler).handlePutBucketAcl,
	OpGetBucketVersioning:     (*Handler).handleGetBucketVersioning,
	OpPutBucketVersioning:     (*Handler).handlePutBucketVersioning,
	OpListObjectVersions:      (*Handler).handleListObjectVersions,
	OpGetObjectAttributes:     (*Handler).handleGetObjectAttributes,
	OpPutBucketCors:           (*Handler).handlePutBucketCors,
	OpGetBucketCors:           (*Handler).handleGetBucketCors,
	OpDeleteBucketCors:        (*Handler).handleDeleteBucketCors,
	OpOptionsObject:           (*Handler).handleOptionsObject,
}

// streamingOps stream object content and have no default time bound.
var streamingOps = map[Op]bool{OpGetObject: true, OpPutObject: true, OpUploadPart: true}

// reqInfo is the request-scoped state the adapter shares with handlers and
// writeError through the request context.
type reqInfo struct {
	id     string
	hostID string
	op     Op
	bucket string
	key    string
	// resource is the path-style resource, for error responses.
	resource string
	// virtualHost is true when the bucket came from the Host header.
	virtualHost bool
	// auth is the verified signature, nil before authentication.
	auth *sigv4.Result
	// code is the S3 error code answered, "" for success.
	code s3err.Code
	// errDetail is the internal error, logged with the access line.
	errDetail error
	// writeErr encodes error answers; nil writes S3 error XML. A mounted
	// route sets it.
	writeErr func(w http.ResponseWriter, r *http.Request, e *s3err.Error)
	// mounted is true for a request served by a mounted route.
	mounted bool
}

type reqInfoKey struct{}

// info returns the request's state; a request that did not pass through the
// adapter gets an empty one.
func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// ServeHTTP serves one request: an S3 operation, or a route of
// Config.Mounts. It is the one adapter around every operation handler and
// mounted route: request ID, operation, recover, limits, authentication,
// metrics, access log and error writing.
//
// It is also where the edge keeps its promise that a 2xx means the work is
// done: the handler runs on a context that the client's half-close does not
// cancel (net/http cancels r.Context() when it reads EOF after the body);
// only a failed write to the client, a connection reset seen by Server,
// the request's time bound or the handler's own bounds end it. (A client
// that closes gracefully while it waits is told from one that half-closed
// only by the first write to it.) A handler that fails before answering gets
// its error answered; one that fails after the answer started, or whose
// client is gone, has its connection aborted, so no success is ever implied
// for work that was not done. Mounted routes share all of it but the
// request time bound (they stream GC, fsck and CAR answers) and the S3
// header checks.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ri := &reqInfo{id: newRequestID(), hostID: newHostID()}
	w.Header().Set("x-amz-request-id", ri.id)
	w.Header().Set("x-amz-id-2", ri.hostID)
	w.Header().Set("Server", "s3mesh")

	rv, rerr := h.router.resolve(r)
	ri.op, ri.bucket, ri.key, ri.resource = rv.op, rv.bucket, rv.key, rv.resource()
	ri.virtualHost = rv.virtualHost
	route, merr := h.match(r, rv)
	switch {
	case merr != nil:
		ri.mounted, ri.op, ri.bucket, ri.key, rerr = true, OpUnknown, "", "", merr
	case route != nil:
		ri.mounted, ri.op, ri.bucket, ri.key, ri.resource = true, route.Op, "", "", r.URL.Path
		ri.writeErr, rerr = route.WriteError, nil
	}

	// An empty body announced with "Expect: 100-continue" is never read,
	// so net/http would answer without the interim 100; some clients
	// (botocore) then misread the next response on the connection.
	if r.ContentLength == 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		w.WriteHeader(http.StatusContinue)
	}

	done := h.metrics.begin(ri.op)
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	defer cancel(nil)
	if d := h.cfg.RequestTimeout; d > 0 && !ri.mounted {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, d, errRequestTimeout)
		defer stop()
	}
	ctx = context.WithValue(ctx, reqInfoKey{}, ri)
	if ec, ok := r.Context().Value(edgeConnKey{}).(*edgeConn); ok {
		ec.serving(cancel)
		defer ec.serving(nil)
	}
	rw := &responseWriter{ResponseWriter: w, cancel: cancel}
	var body *edgeBody
	if r.Body != nil && r.Body != http.NoBody {
		body = h.newEdgeBody(ctx, w, r)
		r.Body = body
	}
	r = r.WithContext(ctx)

	err := rerr
	if err == nil && route == nil {
		err = h.admit(r)
	}
	if err == nil {
		serve := func() error {
			if route != nil {
				return h.serveRoute(rw, r, ri, route)
			}
			return h.serve(rw, r, ri)
		}
		if h.slots != nil {
			select {
			case h.slots <- struct{}{}:
				defer func() { <-h.slots }()
				err = serve()
			default:
				err = s3err.New(s3err.ErrSlowDown, "This node is serving its maximum number of requests; retry later.")
			}
		} else {
			err = serve()
		}
	}
	if err != nil {
		h.writeError(rw, r, err)
	}
	status := rw.status
	abort := false
	switch {
	case ri.code == s3err.ErrClientClosed:
		// Nothing can be answered; close rather than let net/http send
		// an implicit 200.
		status, abort = ri.code.Status(), true
	case err != nil && !rw.errorWritten:
		// The answer had started when the handler failed: cut it, so the
		// client sees a broken response, never a complete one.
		abort = true
	case !rw.wroteHeader:
		rw.WriteHeader(http.StatusOK)
		status = http.StatusOK
	case ri.mounted && ri.code == "" && status >= 400:
		ri.code = statusCode(status)
	}

	code := ri.code
	if code == "" {
		code = "OK"
	}
	var in int64
	if body != nil {
		in = body.n
	}
	dur := time.Since(start)
	done(string(code), dur, in, rw.n)
	h.accessLog(r, ri, status, dur)
	if abort {
		h.abort(w, r, ri, err)
	}
}

// abort ends a response that must not look complete: its status is sent
// and its body cannot be completed, or nothing may be sent at all (net/http
// would send an implicit 200). It hijacks the connection and closes it
// (HTTP/1.x); where the connection cannot be hijacked (HTTP/2), it logs
// and panics with http.ErrAbortHandler, which resets the stream.
func (h *Handler) abort(w http.ResponseWriter, r *http.Request, ri *reqInfo, err error) {
	if conn, _, herr := http.NewResponseController(w).Hijack(); herr == nil {
		conn.Close()
		return
	}
	msg := "response aborted"
	if err != nil {
		msg = err.Error()
	}
	h.log.LogAttrs(r.Context(), slog.LevelWarn, "response aborted",
		slog.String("op", string(ri.op)), slog.String("req_id", ri.id), slog.String("err", msg))
	panic(http.ErrAbortHandler)
}

// serve runs the operation handler under recover, authentication, limits
// and its time bound.
func (h *Handler) serve(w *responseWriter, r *http.Request, ri *reqInfo) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("%s: panic: %v\n%s", ri.op, p, debug.Stack())
		}
	}()
	fn, ok := opHandlers[ri.op]
	if !ok {
		return notImplemented(r, ri.op)
	}
	if ri.op == OpOptionsObject {
		// A preflight is never signed: browsers send it bare.
		if err := checkNames(ri); err != nil {
			return err
		}
		return fn(h, w, r)
	}
	res, err := h.authenticate(r)
	if err != nil {
		return err
	}
	ri.auth = res
	if res.Body != nil {
		r.Body = res.Body
	}
	if _, ok := h.reserved[ri.bucket]; ok && ri.op == OpCreateBucket {
		return h.errReservedBucket(ri.bucket)
	}
	if err := checkNames(ri); err != nil {
		return err
	}
	if err := h.checkHeaders(r, ri.op); err != nil {
		return err
	}
	if d := h.timeout(ri.op); d > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		r = r.WithContext(ctx)
	}
	h.setCORSHeaders(w, r, ri.bucket)
	return fn(h, w, r)
}

// timeout returns the time bound of op, 0 for none.
func (h *Handler) timeout(op Op) time.Duration {
	d, ok := h.cfg.Timeouts[op]
	if !ok {
		if streamingOps[op] {
			return 0
		}
		d = h.cfg.OpTimeout
	}
	if d < 0 {
		return 0
	}
	return d
}

// checkNames validates the bucket name and key the request addresses.
func checkNames(ri *reqInfo) error {
	if ri.bucket == "" {
		return nil
	}
	if err := validBucketName(ri.bucket); err != nil {
		return err
	}
	if ri.key != "" {
		return validKey(ri.key)
	}
	return nil
}

// notImplemented answers an operation without a handler.
func notImplemented(r *http.Request, op Op) error {
	if op == OpUnknown {
		if r.Method == http.MethodPost && info(r).bucket == "" {
			return s3err.New(s3err.ErrNotImplemented, "This endpoint serves the S3 API only; IAM and STS requests are not supported.")
		}
		return s3err.New(s3err.ErrNotImplemented, fmt.Sprintf("The %s method is not implemented for this resource.", r.Method))
	}
	return s3err.New(s3err.ErrNotImplemented, fmt.Sprintf("The %s operation is not implemented.", op))
}

// accessLog writes the one log line of a request.
func (h *Handler) accessLog(r *http.Request, ri *reqInfo, status int, dur time.Duration) {
	ctx := r.Context()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	if !h.log.Enabled(ctx, level) {
		return
	}
	code := string(ri.code)
	if code == "" {
		code = "OK"
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("op", string(ri.op)), slog.String("req_id", ri.id))
	if !ri.mounted {
		attrs = append(attrs, slog.String("bucket", ri.bucket))
	}
	attrs = append(attrs, slog.Int("status", status), slog.String("code", code), slog.Duration("dur", dur))
	if ri.errDetail != nil {
		attrs = append(attrs, slog.String("err", ri.errDetail.Error()))
	}
	if ri.key != "" && h.log.Enabled(ctx, slog.LevelDebug) {
		attrs = append(attrs, slog.String("key", ri.key))
	}
	msg := "s3 request"
	if ri.mounted {
		msg = "request"
	}
	h.log.LogAttrs(ctx, level, msg, attrs...)
}

// newRequestID returns a request ID in the AWS form: 16 upper-case hex
// digits.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// newHostID returns an opaque x-amz-id-2 value.
func newHostID() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// responseWriter records the status and the body bytes written. A failed
// write means the client is gone: it cancels the request's work.
type responseWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	// errorWritten is set by writeError when it answered the error.
	errorWritten bool
	n            int64
	cancel       context.CancelCauseFunc // nil: none
}

func (w *responseWriter) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	if err != nil && w.cancel != nil {
		w.cancel(fmt.Errorf("%w: write response: %w", errClientGone, err))
	}
	return n, err
}

// Unwrap gives http.ResponseController access to the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WithPaths returns a handler that serves each exact path of extra (such as
// "/health/ready" and "/metrics") with its handler and everything else with
// h. Unlike http.ServeMux, it never cleans or redirects a path, so keys with
// "//" or ".." reach h intact. An extra path shadows the S3 resource of the
// same path.
func (h *Handler) WithPaths(extra map[string]http.Handler) http.Handler {
	paths := make(map[string]http.Handler, len(extra))
	for p, eh := range extra {
		paths[p] = eh
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if eh, ok := paths[r.URL.Path]; ok && r.Host != "" && !h.isVirtualHost(r.Host) {
			eh.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// isVirtualHost reports whether host names a bucket virtual-hosted style.
func (h *Handler) isVirtualHost(host string) bool {
	_, ok := h.router.virtualBucket(host)
	return ok
}
