package admin

import (
	"net/http"
	"slices"
	"strings"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// The paths the admin edge serves on the S3 listener. Routing rules (see
// match): a path-style request whose path starts with PathPrefix is an
// admin request, whatever its method; one under UIPrefix (or an unsigned
// GET or HEAD of "/ui") is the status page's; /ipfs/ followed by something
// is the IPFS gateway's. A virtual-hosted request (bucket.<domain>) is
// never any of these, so a key "admin/v1/…" in any bucket stays
// reachable. The bucket names "admin", "ipfs" and "ui" are reserved:
// CreateBucket refuses them, so no S3 bucket is ever shadowed.
const (
	// PathPrefix is the admin API's prefix.
	PathPrefix          = "/admin/v1/"
	PeersPath           = PathPrefix + "peers"
	StatusPath          = PathPrefix + "status"
	BucketsPath         = PathPrefix + "buckets"
	HistoryPath         = PathPrefix + "history"
	GCPath              = PathPrefix + "gc"
	FsckPath            = PathPrefix + "fsck"
	ReplicationPath     = PathPrefix + "replication"
	BucketReplicatePath = PathPrefix + "buckets/replicate"
	ChunkerPath         = PathPrefix + "bucket-chunker"

	// MetricsPath, LivePath and ReadyPath are the probes: unsigned GET
	// and HEAD only, so that a signed request for a bucket called
	// "metrics" or "health" still reaches S3.
	MetricsPath = "/metrics"
	LivePath    = "/health/live"
	ReadyPath   = "/health/ready"
)

// The operation names of the admin edge's routes: the op label of the
// request metrics and the op of the access log. Fixed, never taken from
// the request.
const (
	OpAdminPeers           s3api.Op = "AdminPeers"
	OpAdminStatus          s3api.Op = "AdminStatus"
	OpAdminBuckets         s3api.Op = "AdminBuckets"
	OpAdminHistory         s3api.Op = "AdminHistory"
	OpAdminGC              s3api.Op = "AdminGC"
	OpAdminFsck            s3api.Op = "AdminFsck"
	OpAdminReplication     s3api.Op = "AdminReplication"
	OpAdminBucketReplicate s3api.Op = "AdminBucketReplicate"
	OpAdminBucketChunker   s3api.Op = "AdminBucketChunker"
	// OpAdminUnknown is a path under PathPrefix that names no endpoint.
	OpAdminUnknown s3api.Op = "AdminUnknown"

	OpStatusPage       s3api.Op = "StatusPage"
	OpStatusPageLogin  s3api.Op = "StatusPageLogin"
	OpStatusPageLogout s3api.Op = "StatusPageLogout"

	OpIPFSGateway s3api.Op = "IPFSGateway"

	OpMetrics     s3api.Op = "Metrics"
	OpHealthLive  s3api.Op = "HealthLive"
	OpHealthReady s3api.Op = "HealthReady"
)

// reserved are the bucket names the paths use.
var reserved = map[string]string{
	"admin": "the admin API (" + PathPrefix + ")",
	"ipfs":  "the IPFS gateway (" + IPFSPrefix + ")",
	"ui":    "the status page (" + UIPrefix + ")",
}

// route is one row of the route table.
type route struct {
	op s3api.Op
	// methods are the methods answered; another answers MethodNotAllowed
	// (after authentication, for the admin API). GET rows answer HEAD too.
	methods []string
	auth    s3api.Auth
	// session lets the status page's cookie stand in for a signature (on
	// unsigned GET and HEAD only; see uiServer.session).
	session bool
	serve   func(s *Server, w http.ResponseWriter, r *http.Request) error
	// s3Errors answers errors as S3 XML (the IPFS gateway's, as for S3
	// reads); otherwise writeError answers them.
	s3Errors bool
}

var (
	get  = []string{http.MethodGet, http.MethodHead}
	post = []string{http.MethodPost}
)

// routes is the route table: every path the admin edge serves, by exact
// path. Paths under a prefix that no row names are answered by the
// prefix's fallback row (unknownAdmin, the status page's assets).
var routes = map[string]route{
	PeersPath:           {op: OpAdminPeers, methods: get, session: true, serve: apiHandler((*api).servePeers)},
	StatusPath:          {op: OpAdminStatus, methods: get, session: true, serve: apiHandler((*api).serveStatus)},
	BucketsPath:         {op: OpAdminBuckets, methods: get, session: true, serve: apiHandler((*api).serveBuckets)},
	HistoryPath:         {op: OpAdminHistory, methods: get, session: true, serve: apiHandler((*api).serveHistory)},
	GCPath:              {op: OpAdminGC, methods: post, session: true, serve: apiHandler((*api).serveGC)},
	FsckPath:            {op: OpAdminFsck, methods: post, session: true, serve: apiHandler((*api).serveFsck)},
	ReplicationPath:     {op: OpAdminReplication, methods: get, session: true, serve: apiHandler((*api).serveReplication)},
	BucketReplicatePath: {op: OpAdminBucketReplicate, methods: post, session: true, serve: apiHandler((*api).serveBucketReplicate)},
	ChunkerPath:         {op: OpAdminBucketChunker, methods: []string{http.MethodGet, http.MethodHead, http.MethodPost}, session: true, serve: apiHandler((*api).serveChunker)},

	"/ui":        {op: OpStatusPage, methods: get, auth: s3api.AuthNone, serve: (*Server).serveUIRedirect},
	UILoginPath:  {op: OpStatusPageLogin, methods: get, serve: (*Server).serveUILogin},
	UILogoutPath: {op: OpStatusPageLogout, methods: get, auth: s3api.AuthNone, serve: (*Server).serveUILogout},

	MetricsPath: {op: OpMetrics, methods: get, auth: s3api.AuthNone, serve: (*Server).serveMetrics},
	LivePath:    {op: OpHealthLive, methods: get, auth: s3api.AuthNone, serve: (*Server).serveLive},
	ReadyPath:   {op: OpHealthReady, methods: get, auth: s3api.AuthNone, serve: (*Server).serveReady},
}

// The fallback rows of the prefixes.
var (
	unknownAdmin = route{op: OpAdminUnknown, session: true, serve: (*Server).serveUnknownAdmin}
	uiAssetRoute = route{op: OpStatusPage, methods: get, session: true, serve: (*Server).serveUIAsset}
	ipfsRoute    = route{op: OpIPFSGateway, s3Errors: true, serve: (*Server).serveIPFS} // boxo answers the methods
)

func apiHandler(f func(*api, http.ResponseWriter, *http.Request) error) func(*Server, http.ResponseWriter, *http.Request) error {
	return func(s *Server, w http.ResponseWriter, r *http.Request) error { return f(s.api, w, r) }
}

// Mount returns the s3api.Mount that serves the admin edge on the S3
// listener through s3api's request wrapper.
func (s *Server) Mount() s3api.Mount {
	return s3api.Mount{Match: s.match, Reserved: reserved}
}

// match is the admin edge's routing, in order:
//
//   - unsigned GET/HEAD of MetricsPath (when Config.Metrics is set),
//     LivePath and ReadyPath: the probes; a signed request for the same
//     path (a bucket called "metrics" or "health") still reaches S3;
//   - a virtual-hosted request: S3, always;
//   - under PathPrefix: the admin API, after authentication with the root
//     credentials, or for a GET/HEAD the status page's session cookie;
//     errors are JSON;
//   - under UIPrefix, and an unsigned GET or HEAD of "/ui": the status page
//     (when Config.Credentials are set); its assets need a signature or
//     the session cookie, the login a signature;
//   - IPFSPrefix followed by something: the IPFS gateway, authenticated in
//     "auth" mode, anyone in "open" mode, NotImplemented when off;
//   - everything else: S3.
func (s *Server) match(r *http.Request, t s3api.Target) (s3api.Route, bool) {
	p := r.URL.Path
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case p == MetricsPath && s.cfg.Metrics == nil:
		return s3api.Route{}, false
	case (p == MetricsPath || p == LivePath || p == ReadyPath) && read && !s3api.Signed(r):
		return s.route(routes[p]), true
	case t.VirtualHost:
		return s3api.Route{}, false
	case strings.HasPrefix(p, PathPrefix):
		rt, ok := routes[p]
		if !ok {
			rt = unknownAdmin
		}
		return s.route(rt), true
	case s.ui != nil && isUIPath(r):
		rt, ok := routes[p]
		if !ok {
			rt = uiAssetRoute
		}
		if !read {
			// The status page answers GET and HEAD only, before it
			// asks for a signature.
			rt.auth = s3api.AuthNone
		}
		return s.route(rt), true
	case isIPFSPath(p):
		rt := ipfsRoute
		if s.ipfs == nil || s.cfg.IPFSGateway == IPFSGatewayOpen {
			rt.auth = s3api.AuthNone
		}
		return s.route(rt), true
	}
	return s3api.Route{}, false
}

// route turns a row into the s3api.Route that serves it.
func (s *Server) route(rt route) s3api.Route {
	out := s3api.Route{
		Op:   rt.op,
		Auth: rt.auth,
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			if rt.methods != nil && !slices.Contains(rt.methods, r.Method) {
				return errMethodNotAllowed(r.URL.Path, rt.methods)
			}
			return rt.serve(s, w, r)
		},
		WriteError: writeError,
	}
	if rt.session && s.ui != nil {
		out.Session = s.ui.session
	}
	if rt.s3Errors {
		out.WriteError = nil
	}
	return out
}

// serveUnknownAdmin answers a path under PathPrefix that names no
// endpoint.
func (s *Server) serveUnknownAdmin(_ http.ResponseWriter, r *http.Request) error {
	var paths []string
	for p := range routes {
		if strings.HasPrefix(p, PathPrefix) {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return &s3err.Error{Code: s3err.ErrNoSuchKey, Message: "No admin endpoint " + r.URL.Path + "; the endpoints are " + strings.Join(paths, ", ") + "."}
}

// errMethodNotAllowed answers a method a path does not answer.
func errMethodNotAllowed(path string, methods []string) error {
	e := s3err.New(s3err.ErrMethodNotAllowed, path+" answers "+strings.Join(methods, " and ")+" only.")
	e.Header = map[string]string{"Allow": strings.Join(methods, ", ")}
	return e
}
