package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"s3mesh/s3api"
)

// TestReplicationEndpoints exercises GET /admin/v1/replication and POST
// /admin/v1/buckets/replicate on a node: arguments, methods, errors, and
// a bucket marked, reported complete, and unmarked.
func TestReplicationEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	node := newTestNode(t, 0)
	srv := bare(t, &api{repl: node})
	call := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		return call(t, method, srv.url+path)
	}
	for _, tt := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", BucketReplicatePath + "?bucket=b&on=true", 405, "MethodNotAllowed"},
		{"POST", ReplicationPath, 405, "MethodNotAllowed"},
		{"POST", BucketReplicatePath + "?on=true", 400, "InvalidArgument"},
		{"POST", BucketReplicatePath + "?bucket=b", 400, "InvalidArgument"},
		{"POST", BucketReplicatePath + "?bucket=b&on=maybe", 400, "InvalidArgument"},
		{"POST", BucketReplicatePath + "?bucket=nosuch&on=true", 404, "NoSuchBucket"},
	} {
		resp, body := call(tt.method, tt.path)
		if resp.StatusCode != tt.status || adminErrorCode(t, resp, body) != tt.code {
			t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.code)
		}
	}
	if resp, body := call("GET", ReplicationPath); resp.StatusCode != 200 ||
		!strings.Contains(string(body), `"buckets": []`) || !strings.Contains(string(body), `"in_progress": []`) {
		t.Errorf("GET %s with no replicated bucket = %d %s", ReplicationPath, resp.StatusCode, body)
	}

	if err := node.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("replicated "), 1000)
	if _, err := node.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "k", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	resp, body := call("POST", BucketReplicatePath+"?bucket=b&on=true")
	var set BucketReplicateResponse
	if resp.StatusCode != 200 || json.Unmarshal(body, &set) != nil || set != (BucketReplicateResponse{Bucket: "b", Replicated: true}) {
		t.Fatalf("POST replicate on = %d %s", resp.StatusCode, body)
	}
	waitFor(t, "bucket b complete", func() error {
		resp, body := call("GET", ReplicationPath)
		var st ReplicationResponse
		if resp.StatusCode != 200 || json.Unmarshal(body, &st) != nil {
			return fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		want := BucketReplication{Name: "b", Objects: 1, ObjectsComplete: 1, LogicalBytes: int64(len(data)), BytesLocal: int64(len(data)), CompletePercent: 100}
		if len(st.Buckets) != 1 || st.Buckets[0] != want || st.QueuedObjects != 0 || len(st.InProgress) != 0 {
			return fmt.Errorf("%s", body)
		}
		return nil
	})
	resp, body = call("POST", BucketReplicatePath+"?bucket=b&on=false")
	if resp.StatusCode != 200 || json.Unmarshal(body, &set) != nil || set.Replicated {
		t.Fatalf("POST replicate off = %d %s", resp.StatusCode, body)
	}
	if resp, body := call("GET", ReplicationPath); resp.StatusCode != 200 || !strings.Contains(string(body), `"buckets": []`) {
		t.Errorf("GET %s after unmarking = %d %s", ReplicationPath, resp.StatusCode, body)
	}
	if resp, body := call("GET", ReplicationPath); resp.StatusCode != 200 {
		t.Errorf("GET %s = %d %s", ReplicationPath, resp.StatusCode, body)
	}
	// Without a node behind it, the API says so.
	none := bare(t, &api{})
	r2, b2 := do(t, "GET", none.url+ReplicationPath, testAccess, testSecret, nil)
	if r2.StatusCode != 501 || adminErrorCode(t, r2, b2) != "NotImplemented" {
		t.Errorf("GET %s without a node = %d %s", ReplicationPath, r2.StatusCode, b2)
	}
}
