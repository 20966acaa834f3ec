package s3api

import (
	"net"
	"net/http"

	"s3mesh/s3api/s3err"
)

// Exports of internals for the external tests.

// RangeKind names the outcome of ParseRange.
type RangeKind int

// Outcomes of ParseRange.
const (
	RangeNone          = RangeKind(rangeNone)
	RangeOK            = RangeKind(rangeOK)
	RangeUnsatisfiable = RangeKind(rangeUnsatisfiable)
)

// ParseRange exposes parseRange.
func ParseRange(header string, size int64) (start, length int64, kind RangeKind) {
	br, k := parseRange(header, size)
	return br.start, br.length, RangeKind(k)
}

// Resolve exposes the router: the operation, bucket and key of r.
func Resolve(domains []string, r *http.Request) (op Op, bucket, key string, err error) {
	rv, err := newRouter(domains).resolve(r)
	return rv.op, rv.bucket, rv.key, err
}

// Routes returns the operations of the routing table.
func Routes() []Op {
	ops := make([]Op, len(routes))
	for i, rt := range routes {
		ops[i] = rt.op
	}
	return ops
}

// Served reports whether op has a handler.
func Served(op Op) bool { _, ok := opHandlers[op]; return ok }

// ParseQuery exposes parseQuery.
var ParseQuery = parseQuery

// ValidBucketName exposes validBucketName.
var ValidBucketName = validBucketName

// ParseCreateBucketBody exposes parseCreateBucketBody.
var ParseCreateBucketBody = parseCreateBucketBody

// DeleteRequest is a parsed DeleteObjects body.
type DeleteRequest struct {
	Quiet bool
	Keys  []string
}

// ParseDeleteRequest exposes parseDeleteRequest.
func ParseDeleteRequest(data []byte) (*DeleteRequest, error) {
	req, err := parseDeleteRequest(data)
	if err != nil {
		return nil, err
	}
	out := &DeleteRequest{Quiet: req.Quiet}
	for _, o := range req.Objects {
		out.Keys = append(out.Keys, o.Key)
	}
	return out, nil
}

// ErrorXML exposes the error body renderer.
func ErrorXML(code, message, resource, requestID, hostID string) []byte {
	return errorXML(errorResponse{Code: code, Message: message, Resource: resource, RequestID: requestID, HostID: hostID})
}

// CheckReadConditions exposes checkReadConditions.
var CheckReadConditions = checkReadConditions

// ParsePutConditions exposes parsePutConditions.
var ParsePutConditions = parsePutConditions

// S3URLEncode exposes s3URLEncode.
var S3URLEncode = s3URLEncode

// Classify exposes writeError's classification: the code and status an
// error is answered with, and the extra headers.
func Classify(r *http.Request, err error) (s3err.Code, map[string]string) {
	e := (&Handler{}).classify(r, err)
	return e.Code, e.Header
}

// EncodeContinuationToken exposes encodeContinuationToken.
var EncodeContinuationToken = encodeContinuationToken

// ParseCompleteMultipartUpload exposes parseCompleteMultipartUpload.
var ParseCompleteMultipartUpload = parseCompleteMultipartUpload

// ParseCopySource exposes parseCopySource.
func ParseCopySource(v string) (bucket, key string, err error) {
	cs, err := parseCopySource(v)
	return cs.bucket, cs.key, err
}

// ValidKey exposes validKey.
var ValidKey = validKey

// EdgeConnWrite writes p to c through the edge connection that Server
// wraps client connections in.
func EdgeConnWrite(c net.Conn, p []byte) (int, error) {
	ec := &edgeConn{Conn: c}
	return ec.Write(p)
}
