package s3api

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"
)

// Op is an S3 operation, named exactly as in the S3 API reference. It is the
// op label of metrics and the op attribute of log lines.
type Op string

// The operations served.
const (
	OpListBuckets             Op = "ListBuckets"
	OpCreateBucket            Op = "CreateBucket"
	OpHeadBucket              Op = "HeadBucket"
	OpDeleteBucket            Op = "DeleteBucket"
	OpGetBucketLocation       Op = "GetBucketLocation"
	OpPutObject               Op = "PutObject"
	OpGetObject               Op = "GetObject"
	OpHeadObject              Op = "HeadObject"
	OpDeleteObject            Op = "DeleteObject"
	OpDeleteObjects           Op = "DeleteObjects"
	OpListObjects             Op = "ListObjects"
	OpListObjectsV2           Op = "ListObjectsV2"
	OpCreateMultipartUpload   Op = "CreateMultipartUpload"
	OpUploadPart              Op = "UploadPart"
	OpUploadPartCopy          Op = "UploadPartCopy"
	OpCompleteMultipartUpload Op = "CompleteMultipartUpload"
	OpAbortMultipartUpload    Op = "AbortMultipartUpload"
	OpListParts               Op = "ListParts"
	OpListMultipartUploads    Op = "ListMultipartUploads"
	OpCopyObject              Op = "CopyObject"
	OpGetObjectTagging        Op = "GetObjectTagging"
	OpPutObjectTagging        Op = "PutObjectTagging"
	OpDeleteObjectTagging     Op = "DeleteObjectTagging"
	OpGetObjectAcl            Op = "GetObjectAcl"
	OpPutObjectAcl            Op = "PutObjectAcl"
	OpGetBucketAcl            Op = "GetBucketAcl"
	OpPutBucketAcl            Op = "PutBucketAcl"
	OpGetBucketVersioning     Op = "GetBucketVersioning"
	OpPutBucketVersioning     Op = "PutBucketVersioning"
	OpListObjectVersions      Op = "ListObjectVersions"
	OpGetObjectAttributes     Op = "GetObjectAttributes"
	OpPutBucketCors           Op = "PutBucketCors"
	OpGetBucketCors           Op = "GetBucketCors"
	OpDeleteBucketCors        Op = "DeleteBucketCors"
	// OpOptionsObject is a CORS preflight request (OPTIONS on a bucket or
	// an object), answered from the bucket's CORS rules, unsigned.
	OpOptionsObject Op = "OptionsObject"

	// OpUnknown is a request that names no S3 operation (an IAM or STS
	// call, an unsupported method). It is answered NotImplemented.
	OpUnknown Op = "Unknown"
)

// level is the part of the namespace a route addresses.
type level int

const (
	levelService level = iota // "/"
	levelBucket               // "/bucket" or "/bucket/"
	levelObject               // "/bucket/key"
)

// route is one row of the routing table: a request with this method, at
// this level, carrying every query parameter in query ("name" for presence,
// "name=value" for an exact value) and every header in header, is op.
type route struct {
	method string
	level  level
	query  []string
	header []string
	op     Op
}

// routes is the routing table, most specific rows first: the first row that
// matches a request names its operation. Rows for operations that have no
// handler are answered NotImplemented under their AWS name.
var routes = []route{
	// Service.
	{method: http.MethodGet, level: levelService, op: OpListBuckets},

	// Object, query-qualified.
	{method: http.MethodPost, level: levelObject, query: q("uploads"), op: OpCreateMultipartUpload},
	{method: http.MethodPut, level: levelObject, query: q("partNumber", "uploadId"), header: q("x-amz-copy-source"), op: OpUploadPartCopy},
	{method: http.MethodPut, level: levelObject, query: q("partNumber", "uploadId"), op: OpUploadPart},
	{method: http.MethodPost, level: levelObject, query: q("uploadId"), op: OpCompleteMultipartUpload},
	{method: http.MethodDelete, level: levelObject, query: q("uploadId"), op: OpAbortMultipartUpload},
	{method: http.MethodGet, level: levelObject, query: q("uploadId"), op: OpListParts},
	{method: http.MethodGet, level: levelObject, query: q("tagging"), op: OpGetObjectTagging},
	{method: http.MethodPut, level: levelObject, query: q("tagging"), op: OpPutObjectTagging},
	{method: http.MethodDelete, level: levelObject, query: q("tagging"), op: OpDeleteObjectTagging},
	{method: http.MethodGet, level: levelObject, query: q("acl"), op: OpGetObjectAcl},
	{method: http.MethodPut, level: levelObject, query: q("acl"), op: OpPutObjectAcl},
	{method: http.MethodGet, level: levelObject, query: q("retention"), op: "GetObjectRetention"},
	{method: http.MethodPut, level: levelObject, query: q("retention"), op: "PutObjectRetention"},
	{method: http.MethodGet, level: levelObject, query: q("legal-hold"), op: "GetObjectLegalHold"},
	{method: http.MethodPut, level: levelObject, query: q("legal-hold"), op: "PutObjectLegalHold"},
	{method: http.MethodGet, level: levelObject, query: q("torrent"), op: "GetObjectTorrent"},
	{method: http.MethodGet, level: levelObject, query: q("attributes"), op: OpGetObjectAttributes},
	{method: http.MethodPost, level: levelObject, query: q("restore"), op: "RestoreObject"},
	{method: http.MethodPost, level: levelObject, query: q("select"), op: "SelectObjectContent"},
	{method: http.MethodPut, level: levelObject, query: q("renameObject"), op: "RenameObject"},
	{method: http.MethodPut, level: levelObject, header: q("x-amz-copy-source"), op: OpCopyObject},

	// Object.
	{method: http.MethodPut, level: levelObject, op: OpPutObject},
	{method: http.MethodGet, level: levelObject, op: OpGetObject},
	{method: http.MethodHead, level: levelObject, op: OpHeadObject},
	{method: http.MethodDelete, level: levelObject, op: OpDeleteObject},
	{method: http.MethodOptions, level: levelObject, op: OpOptionsObject},

	// Bucket, query-qualified.
	{method: http.MethodGet, level: levelBucket, query: q("location"), op: OpGetBucketLocation},
	{method: http.MethodPost, level: levelBucket, query: q("delete"), op: OpDeleteObjects},
	{method: http.MethodGet, level: levelBucket, query: q("uploads"), op: OpListMultipartUploads},
	{method: http.MethodGet, level: levelBucket, query: q("versions"), op: OpListObjectVersions},
	{method: http.MethodGet, level: levelBucket, query: q("session"), op: "CreateSession"},
	{method: http.MethodGet, level: levelBucket, query: q("acl"), op: OpGetBucketAcl},
	{method: http.MethodPut, level: levelBucket, query: q("acl"), op: OpPutBucketAcl},
	{method: http.MethodGet, level: levelBucket, query: q("tagging"), op: "GetBucketTagging"},
	{method: http.MethodPut, level: levelBucket, query: q("tagging"), op: "PutBucketTagging"},
	{method: http.MethodDelete, level: levelBucket, query: q("tagging"), op: "DeleteBucketTagging"},
	{method: http.MethodGet, level: levelBucket, query: q("versioning"), op: OpGetBucketVersioning},
	{method: http.MethodPut, level: levelBucket, query: q("versioning"), op: OpPutBucketVersioning},
	{method: http.MethodGet, level: levelBucket, query: q("policyStatus"), op: "GetBucketPolicyStatus"},
	{method: http.MethodGet, level: levelBucket, query: q("policy"), op: "GetBucketPolicy"},
	{method: http.MethodPut, level: levelBucket, query: q("policy"), op: "PutBucketPolicy"},
	{method: http.MethodDelete, level: levelBucket, query: q("policy"), op: "DeleteBucketPolicy"},
	{method: http.MethodGet, level: levelBucket, query: q("cors"), op: OpGetBucketCors},
	{method: http.MethodPut, level: levelBucket, query: q("cors"), op: OpPutBucketCors},
	{method: http.MethodDelete, level: levelBucket, query: q("cors"), op: OpDeleteBucketCors},
	{method: http.MethodGet, level: levelBucket, query: q("lifecycle"), op: "GetBucketLifecycleConfiguration"},
	{method: http.MethodPut, level: levelBucket, query: q("lifecycle"), op: "PutBucketLifecycleConfiguration"},
	{method: http.MethodDelete, level: levelBucket, query: q("lifecycle"), op: "DeleteBucketLifecycle"},
	{method: http.MethodGet, level: levelBucket, query: q("website"), op: "GetBucketWebsite"},
	{method: http.MethodPut, level: levelBucket, query: q("website"), op: "PutBucketWebsite"},
	{method: http.MethodDelete, level: levelBucket, query: q("website"), op: "DeleteBucketWebsite"},
	{method: http.MethodGet, level: levelBucket, query: q("logging"), op: "GetBucketLogging"},
	{method: http.MethodPut, level: levelBucket, query: q("logging"), op: "PutBucketLogging"},
	{method: http.MethodGet, level: levelBucket, query: q("notification"), op: "GetBucketNotificationConfiguration"},
	{method: http.MethodPut, level: levelBucket, query: q("notification"), op: "PutBucketNotificationConfiguration"},
	{method: http.MethodGet, level: levelBucket, query: q("replication"), op: "GetBucketReplication"},
	{method: http.MethodPut, level: levelBucket, query: q("replication"), op: "PutBucketReplication"},
	{method: http.MethodDelete, level: levelBucket, query: q("replication"), op: "DeleteBucketReplication"},
	{method: http.MethodGet, level: levelBucket, query: q("encryption"), op: "GetBucketEncryption"},
	{method: http.MethodPut, level: levelBucket, query: q("encryption"), op: "PutBucketEncryption"},
	{method: http.MethodDelete, level: levelBucket, query: q("encryption"), op: "DeleteBucketEncryption"},
	{method: http.MethodGet, level: levelBucket, query: q("object-lock"), op: "GetObjectLockConfiguration"},
	{method: http.MethodPut, level: levelBucket, query: q("object-lock"), op: "PutObjectLockConfiguration"},
	{method: http.MethodGet, level: levelBucket, query: q("ownershipControls"), op: "GetBucketOwnershipControls"},
	{method: http.MethodPut, level: levelBucket, query: q("ownershipControls"), op: "PutBucketOwnershipControls"},
	{method: http.MethodDelete, level: levelBucket, query: q("ownershipControls"), op: "DeleteBucketOwnershipControls"},
	{method: http.MethodGet, level: levelBucket, query: q("publicAccessBlock"), op: "GetPublicAccessBlock"},
	{method: http.MethodPut, level: levelBucket, query: q("publicAccessBlock"), op: "PutPublicAccessBlock"},
	{method: http.MethodDelete, level: levelBucket, query: q("publicAccessBlock"), op: "DeletePublicAccessBlock"},
	{method: http.MethodGet, level: levelBucket, query: q("accelerate"), op: "GetBucketAccelerateConfiguration"},
	{method: http.MethodPut, level: levelBucket, query: q("accelerate"), op: "PutBucketAccelerateConfiguration"},
	{method: http.MethodGet, level: levelBucket, query: q("requestPayment"), op: "GetBucketRequestPayment"},
	{method: http.MethodPut, level: levelBucket, query: q("requestPayment"), op: "PutBucketRequestPayment"},
	{method: http.MethodGet, level: levelBucket, query: q("analytics"), op: "GetBucketAnalyticsConfiguration"},
	{method: http.MethodGet, level: levelBucket, query: q("inventory"), op: "GetBucketInventoryConfiguration"},
	{method: http.MethodGet, level: levelBucket, query: q("metrics"), op: "GetBucketMetricsConfiguration"},
	{method: http.MethodGet, level: levelBucket, query: q("intelligent-tiering"), op: "GetBucketIntelligentTieringConfiguration"},
	{method: http.MethodGet, level: levelBucket, query: q("list-type=2"), op: OpListObjectsV2},

	// Bucket.
	{method: http.MethodGet, level: levelBucket, op: OpListObjects},
	{method: http.MethodPut, level: levelBucket, op: OpCreateBucket},
	{method: http.MethodHead, level: levelBucket, op: OpHeadBucket},
	{method: http.MethodDelete, level: levelBucket, op: OpDeleteBucket},
	{method: http.MethodOptions, level: levelBucket, op: OpOptionsObject},
	{method: http.MethodPost, level: levelBucket, op: "PostObject"},
}

func q(s ...string) []string { return s }

// resolved is where a request is aimed: its operation, bucket and key.
type resolved struct {
	op     Op
	bucket string
	key    string
	// virtualHost is true when the bucket came from the Host header.
	virtualHost bool
}

// resource is the path-style resource of the request, "/bucket/key".
func (rv resolved) resource() string {
	switch {
	case rv.bucket == "":
		return "/"
	case rv.key == "":
		return "/" + rv.bucket
	default:
		return "/" + rv.bucket + "/" + rv.key
	}
}

// router resolves requests to operations with the routing table.
type router struct {
	mux     *mux.Router
	domains []string
}

// newRouter builds the router for the routing table. domains are the
// endpoint names under which bucket.<domain> is virtual-hosted style.
func newRouter(domains []string) *router {
	m := mux.NewRouter().SkipClean(true).UseEncodedPath()
	for i := range routes {
		rt := routes[i]
		var mr *mux.Route
		switch rt.level {
		case levelService:
			mr = m.Path("/")
		case levelBucket:
			mr = m.Path("/{bucket:[^/]+}{slash:/?}")
		case levelObject:
			mr = m.Path("/{bucket:[^/]+}/{key:.+}")
		}
		mr = mr.Methods(rt.method).MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool {
			return rt.matches(r)
		})
		mr.Name(string(rt.op))
	}
	ds := make([]string, len(domains))
	for i, d := range domains {
		ds[i] = strings.ToLower(d)
	}
	return &router{mux: m, domains: ds}
}

// matches reports whether the request carries the row's query parameters
// and headers.
func (rt route) matches(r *http.Request) bool {
	if len(rt.query) > 0 {
		vals := parseQuery(r.URL.RawQuery)
		for _, want := range rt.query {
			name, value, exact := strings.Cut(want, "=")
			got, ok := vals[name]
			if !ok || (exact && (len(got) == 0 || got[0] != value)) {
				return false
			}
		}
	}
	for _, h := range rt.header {
		// Present, even empty: an empty x-amz-copy-source is a copy
		// request to refuse, not an upload of an empty body.
		if len(r.Header.Values(h)) == 0 {
			return false
		}
	}
	return true
}

// resolve returns the operation, bucket and key a request is aimed at. It
// is total and depends only on the request's method, Host, URL and
// headers. A bucket taken from a virtual host turns the path into the key.
// An error is an InvalidURI: a path that does not decode.
func (rt *router) resolve(r *http.Request) (resolved, error) {
	var rv resolved
	m := r
	if bucket, ok := rt.virtualBucket(r.Host); ok {
		rv.virtualHost = true
		raw := "/" + url.PathEscape(bucket) + r.URL.EscapedPath()
		if r.URL.EscapedPath() == "" {
			raw += "/"
		}
		p, err := url.PathUnescape(raw)
		if err != nil {
			return resolved{op: OpUnknown}, errInvalidURI(err)
		}
		u := *r.URL
		u.Path, u.RawPath = p, raw
		m = r.Clone(r.Context())
		m.URL = &u
	}
	var match mux.RouteMatch
	if !rt.mux.Match(m, &match) || match.Route == nil {
		rv.op = OpUnknown
		if b, k, ok := splitPath(m.URL.EscapedPath()); ok {
			rv.bucket, rv.key = b, k
		}
		return rv, nil
	}
	rv.op = Op(match.Route.GetName())
	var err error
	if rv.bucket, err = url.PathUnescape(match.Vars["bucket"]); err != nil {
		return resolved{op: rv.op}, errInvalidURI(err)
	}
	if rv.key, err = url.PathUnescape(match.Vars["key"]); err != nil {
		return resolved{op: rv.op, bucket: rv.bucket}, errInvalidURI(err)
	}
	return rv, nil
}

// splitPath splits an escaped path into a decoded bucket and key, for the
// resource of a request that matched no route.
func splitPath(escaped string) (bucket, key string, ok bool) {
	p, err := url.PathUnescape(strings.TrimPrefix(escaped, "/"))
	if err != nil {
		return "", "", false
	}
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key, true
}

// virtualBucket returns the bucket named by a virtual-hosted-style Host
// header, bucket.<domain>[:port].
func (rt *router) virtualBucket(host string) (string, bool) {
	if len(rt.domains) == 0 || host == "" {
		return "", false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range rt.domains {
		if b, ok := strings.CutSuffix(host, "."+d); ok && b != "" {
			return b, true
		}
	}
	return "", false
}

// parseQuery parses a raw query string like url.ParseQuery, except that a
// semicolon is an ordinary character (as S3 treats it) and a part that does
// not unescape is kept as sent rather than dropped.
func parseQuery(raw string) url.Values {
	vals := make(url.Values)
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		vals[k] = append(vals[k], v)
	}
	return vals
}
