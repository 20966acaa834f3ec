package admin

import (
	"context"
	"encoding/json"
	"testing"

	"s3mesh/s3api"
)

// TestAdminChunkerEndpoint: GET and POST /admin/v1/bucket-chunker read and
// set a bucket's chunker; bad specs, missing buckets and missing
// arguments are answered with their S3 codes.
func TestAdminChunkerEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	node := newTestNode(t, 4096)
	if err := node.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "builds"}); err != nil {
		t.Fatal(err)
	}
	srv := bare(t, &api{chunkers: node})

	for _, tt := range []struct {
		method, query string
		status        int
		code          string           // error code, or "" for success
		want          *ChunkerResponse // the answer of a success
	}{
		{"GET", "?bucket=builds", 200, "", &ChunkerResponse{Bucket: "builds", Effective: "size-4096"}},
		{"POST", "?bucket=builds&spec=cdc", 200, "", &ChunkerResponse{Bucket: "builds", Chunker: "buzhash", Effective: "buzhash"}},
		{"GET", "?bucket=builds", 200, "", &ChunkerResponse{Bucket: "builds", Chunker: "buzhash", Effective: "buzhash"}},
		{"POST", "?bucket=builds&spec=fastcdc-64KiB-256KiB-1MiB", 200, "", &ChunkerResponse{Bucket: "builds", Chunker: "fastcdc-65536-262144-1048576", Effective: "fastcdc-65536-262144-1048576"}},
		{"POST", "?bucket=builds&spec=size-1", 400, "InvalidArgument", nil},
		{"POST", "?bucket=builds&spec=lz4", 400, "InvalidArgument", nil},
		{"POST", "?bucket=builds", 400, "InvalidArgument", nil},
		{"POST", "?bucket=builds&spec=buzhash&spec=rabin", 400, "InvalidArgument", nil},
		{"GET", "", 400, "InvalidArgument", nil},
		{"GET", "?bucket=nope", 404, "NoSuchBucket", nil},
		{"POST", "?bucket=nope&spec=buzhash", 404, "NoSuchBucket", nil},
		{"PUT", "?bucket=builds&spec=buzhash", 405, "MethodNotAllowed", nil},
		{"POST", "?bucket=builds&spec=default", 200, "", &ChunkerResponse{Bucket: "builds", Effective: "size-4096"}},
	} {
		resp, body := call(t, tt.method, srv.url+ChunkerPath+tt.query)
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s = %d %s, want %d", tt.method, tt.query, resp.StatusCode, body, tt.status)
			continue
		}
		if tt.code != "" {
			if got := adminErrorCode(t, resp, body); got != tt.code {
				t.Errorf("%s %s: code %s, want %s", tt.method, tt.query, got, tt.code)
			}
			continue
		}
		var got ChunkerResponse
		if err := json.Unmarshal(body, &got); err != nil || got != *tt.want {
			t.Errorf("%s %s = %s (%v), want %+v", tt.method, tt.query, body, err, *tt.want)
		}
	}

	// A node without bucket chunkers answers NotImplemented.
	none := bare(t, &api{})
	if resp, body := call(t, "GET", none.url+ChunkerPath+"?bucket=builds"); resp.StatusCode != 501 || adminErrorCode(t, resp, body) != "NotImplemented" {
		t.Errorf("without chunkers: %d %s", resp.StatusCode, body)
	}
}
