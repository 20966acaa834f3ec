package admin

import (
	"context"
	"net/http"
	"net/url"

	"s3mesh/gateway"
	"s3mesh/s3api/s3err"
)

// ChunkerPath is the bucket chunker endpoint: GET ?bucket=NAME answers how
// new objects of the bucket are cut; POST ?bucket=NAME&spec=SPEC sets it
// (see gateway.ParseChunker; "default" goes back to the node's) and answers
// the same. The setting replicates to every office.

// bucketChunkers reads and sets buckets' chunkers; *gateway.Node
// implements it.
type bucketChunkers interface {
	Namespace() gateway.Namespace
	BucketChunker(ctx context.Context, bucket string) (gateway.ChunkerSpec, error)
	SetBucketChunker(ctx context.Context, bucket, spec string) (string, error)
}

// ChunkerResponse is the body of the chunker endpoint's answers.
type ChunkerResponse struct {
	Bucket string `json:"bucket"`
	// Chunker is the bucket's own setting in canonical form; empty when
	// it has none and new objects get the node's default.
	Chunker string `json:"chunker"`
	// Effective is how new objects of the bucket are cut on this node.
	Effective string `json:"effective"`
}

// bucketParam returns the query's bucket=NAME, or InvalidArgument when it
// is missing.
func bucketParam(q url.Values) (string, error) {
	bucket := q.Get("bucket")
	if bucket == "" {
		return "", s3err.New(s3err.ErrInvalidArgument, "bucket=NAME is required.")
	}
	return bucket, nil
}

// serveChunker answers the chunker endpoint.
func (a *api) serveChunker(w http.ResponseWriter, r *http.Request) error {
	if a.chunkers == nil {
		return s3err.New(s3err.ErrNotImplemented, "This node does not set bucket chunkers.")
	}
	q := r.URL.Query()
	bucket, err := bucketParam(q)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if r.Method == http.MethodPost {
		spec, ok := q["spec"]
		if !ok || len(spec) != 1 {
			return s3err.New(s3err.ErrInvalidArgument, "spec=SPEC is required once: size-N, buzhash, rabin[-MIN-AVG-MAX], fastcdc[-MIN-AVG-MAX], cdc or default.")
		}
		if _, err := a.chunkers.SetBucketChunker(ctx, bucket, spec[0]); err != nil {
			return err
		}
	}
	b, err := a.chunkers.Namespace().GetBucket(ctx, bucket)
	if err != nil {
		return err
	}
	eff, err := a.chunkers.BucketChunker(ctx, bucket)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, ChunkerResponse{Bucket: bucket, Chunker: b.Chunker, Effective: eff.String()})
	return nil
}
