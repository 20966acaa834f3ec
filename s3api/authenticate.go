package s3api

import (
	"context"
	"net/http"
)

// This file lets code outside the request wrapper ask what the S3 router
// makes of a request, authenticate it and answer an S3 error. Endpoints that
// share the listener should be mounted instead (Config.Mounts, mount.go):
// then their requests also get the wrapper's request ID, metrics and
// access log.

// Target is what the S3 router makes of a request: the operation and the
// bucket and key it addresses.
type Target struct {
	// Op is the operation; OpUnknown when no route matches.
	Op Op
	// Bucket and Key are decoded; "" when the request names none.
	Bucket, Key string
	// VirtualHost is true when the bucket came from the Host header
	// (bucket.<domain>, one of Config.Domains).
	VirtualHost bool
}

// Resolve returns the S3 operation r would be served as, without serving
// it. A path that does not decode resolves to OpUnknown with what could be
// parsed; Resolve never fails.
func (h *Handler) Resolve(r *http.Request) Target {
	rv, _ := h.router.resolve(r)
	return Target{Op: rv.op, Bucket: rv.bucket, Key: rv.key, VirtualHost: rv.virtualHost}
}

// Authenticate verifies that r is signed with the root credentials (SigV4
// in a header or a presigned query, or SigV2), exactly as for an S3
// operation. It returns nil on success, else an *s3err.Error with a
// client-safe message: AccessDenied for an unsigned request,
// InvalidAccessKeyId, SignatureDoesNotMatch, RequestTimeTooSkewed, … On
// success r.Body is replaced by a reader that verifies the signed payload
// hash as it is read. Authenticate does not read the body.
func (h *Handler) Authenticate(r *http.Request) error {
	if _, err := h.authenticate(r); err != nil {
		return h.classify(r, err)
	}
	return nil
}

// WriteError answers err as the S3 API answers it: an S3 error XML body
// (none for HEAD) with the status of its code, and x-amz-request-id.
// Errors that are not *s3err.Error or s3err.Code are answered as
// InternalError, their detail logged and not sent. The response must not
// have been started.
func (h *Handler) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	ri := &reqInfo{id: newRequestID(), hostID: newHostID(), op: OpUnknown, resource: r.URL.Path}
	w.Header().Set("x-amz-request-id", ri.id)
	w.Header().Set("x-amz-id-2", ri.hostID)
	w.Header().Set("Server", "s3mesh")
	r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
	h.writeError(&responseWriter{ResponseWriter: w}, r, err)
}
