package s3api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"s3mesh/s3api/s3err"
)

// This file lets other endpoints (an admin API, a status page, an IPFS
// gateway, /metrics) share the S3 listener and its request wrapper: each
// request they serve gets a request ID, authentication, request metrics
// under a fixed operation name and one access-log line, exactly as an S3
// operation does.

// Auth is how the request wrapper authenticates the requests of a Route.
type Auth int

const (
	// AuthSigned requires a request signed with the root credentials (SigV4
	// in a header or a presigned query, or SigV2), as every S3 operation
	// does. It is the zero value.
	AuthSigned Auth = iota
	// AuthNone serves every request: the route is public, or it decides
	// itself.
	AuthNone
)

// HandlerFunc serves a request of a Route. It writes a successful answer,
// or returns an error, which the wrapper classifies as it classifies S3
// errors (an *s3err.Error or s3err.Code gives its code and client-safe
// message; any other error is InternalError, logged and not sent) and
// answers with the route's WriteError. An error returned after the answer
// has started is only logged and counted.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one endpoint served beside the S3 API.
type Route struct {
	// Op names the route in the request metrics (the op label) and the
	// access log. It MUST be a fixed name (AdminStatus, IPFSGateway, …),
	// never taken from the request, so that the label stays bounded, and
	// MUST NOT be an S3 operation's name.
	Op Op
	// Auth is how requests are authenticated before Handler runs.
	// Default AuthSigned.
	Auth Auth
	// Session, when not nil, authorises without a signature a request it
	// reports true for (a status page's session cookie); any other request
	// is authenticated as Auth says.
	Session func(r *http.Request) bool
	// Handler serves the request. Required.
	Handler HandlerFunc
	// WriteError answers the route's errors, authentication failures
	// included, once classified: e has a known code and a client-safe
	// ClientMessage, and e.Header holds headers to send. The wrapper has
	// already removed the headers the handler set (but the request IDs).
	// nil answers S3 error XML.
	WriteError func(w http.ResponseWriter, r *http.Request, e *s3err.Error)
}

// Mount is a set of routes served on the S3 listener before S3 routing.
type Mount struct {
	// Match returns the route that serves r, or false to leave r to the
	// next mount and then to S3. t is what the S3 router makes of r: a
	// mount of path-style paths checks !t.VirtualHost, so that a key of a
	// virtual-hosted bucket is never shadowed. Required; it MUST NOT read
	// the body and MUST be safe for concurrent use.
	Match func(r *http.Request, t Target) (Route, bool)
	// Reserved maps the bucket names the mount's paths start with to what
	// they serve ("the admin API (/admin/v1/)"). CreateBucket of such a
	// name is refused with InvalidBucketName, so no bucket is ever
	// shadowed by the mount.
	Reserved map[string]string
}

// Signed reports whether r carries credentials, in an Authorization header
// or a presigned query (SigV4 or SigV2). It does not verify them.
func Signed(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	if r.URL.RawQuery == "" {
		return false
	}
	q := r.URL.Query()
	return q.Has("X-Amz-Signature") || q.Has("Signature")
}

// validateMounts checks cfg.Mounts.
func validateMounts(ms []Mount) error {
	for i, m := range ms {
		if m.Match == nil {
			return fmt.Errorf("s3api config: mount %d: Match is required", i)
		}
		for name, what := range m.Reserved {
			if name == "" || name != strings.ToLower(name) || strings.ContainsAny(name, "/ ") || what == "" {
				return fmt.Errorf("s3api config: mount %d: reserved bucket name %q: want a lower-case name without '/' and what it serves", i, name)
			}
		}
	}
	return nil
}

// reservedNames collects the bucket names reserved by mounts.
func reservedNames(ms []Mount) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for name, what := range m.Reserved {
			out[name] = what
		}
	}
	return out
}

// match returns the route of the first mount that claims r.
func (h *Handler) match(r *http.Request, rv resolved) (*Route, error) {
	if len(h.cfg.Mounts) == 0 {
		return nil, nil
	}
	t := Target{Op: rv.op, Bucket: rv.bucket, Key: rv.key, VirtualHost: rv.virtualHost || h.isVirtualHost(r.Host)}
	for _, m := range h.cfg.Mounts {
		if rt, ok := m.Match(r, t); ok {
			if rt.Op == "" || rt.Handler == nil {
				return nil, fmt.Errorf("s3api: mounted route for %s has no op or handler", r.URL.Path)
			}
			return &rt, nil
		}
	}
	return nil, nil
}

// serveRoute runs a mounted route under recover and authentication. Mounted
// routes have no time bound: they stream (a CAR, a GC's progress) or
// bound their own work.
func (h *Handler) serveRoute(w *responseWriter, r *http.Request, ri *reqInfo, rt *Route) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("%s: panic: %v", ri.op, p)
		}
	}()
	if rt.Auth != AuthNone && (rt.Session == nil || !rt.Session(r)) {
		res, err := h.authenticate(r)
		if err != nil {
			return err
		}
		ri.auth = res
		if res.Body != nil {
			r.Body = res.Body
		}
	}
	return rt.Handler(w, r)
}

// errReservedBucket is the error for CreateBucket of a name a mount uses.
func (h *Handler) errReservedBucket(name string) error {
	return s3err.New(s3err.ErrInvalidBucketName, "The bucket name "+name+" is reserved for "+h.reserved[name]+" of this node.")
}

// statusCode is the code label of a mounted route's answer that the
// handler wrote itself with an error status (a 406 of the IPFS gateway):
// "HTTP" and the status, a bounded set.
func statusCode(status int) s3err.Code {
	return s3err.Code("HTTP" + strconv.Itoa(status))
}
