// Package s3api serves the Amazon S3 REST API over an ObjectStore.
//
// It owns everything that is S3 protocol and nothing that is storage:
// routing requests to operations (path-style and virtual-hosted-style),
// AWS Signature Version 4 (header, presigned URL, streaming chunked payloads
// and trailers), request and response XML, conditional and range headers,
// checksums, and the mapping of errors to S3 error responses. It knows
// nothing of CIDs or libp2p: storage is behind the small ObjectStore
// interface, defined here, that the gateway implements.
//
// Multipart uploads, CopyObject and object tagging need the optional store
// roles MultipartStore, CopyStore and TaggingStore; a handler finds them by
// type assertion and answers NotImplemented for a store without one. Every
// bucket and object is private to the one owner: owner-only ACLs (canned
// private, bucket-owner-full-control, bucket-owner-read, or a policy
// granting the owner FULL_CONTROL) are accepted, and anything granting
// others access is NotImplemented.
//
// Usage:
//
//	h, err := s3api.New(s3api.Config{Credentials: creds, Registerer: reg}, store)
//	srv := h.WithPaths(map[string]http.Handler{"/metrics": promhttp.HandlerFor(reg, opts)})
//	http.ListenAndServe("127.0.0.1:9000", srv)
//
// Other endpoints share the listener through Config.Mounts: a Mount's Match
// picks, before S3 routing, the requests it serves and names each with a
// Route (a fixed Op, an Auth mode, a handler that returns errors, and an
// error writer). Those requests pass through the same wrapper as S3
// operations: request ID, recover, authentication, request metrics under
// the route's Op, one access-log line, and error classification. A Mount
// also reserves the bucket names its paths use, so that CreateBucket
// refuses them.
//
// Serve the Handler itself, or mount it with WithPaths (or an equivalent
// exact-path switch), never under http.ServeMux, which redirects paths
// holding "//" or ".." that are valid object keys.
//
// References: the S3 API (https://docs.aws.amazon.com/AmazonS3/latest/API/),
// Signature Version 4
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html).
package s3api
