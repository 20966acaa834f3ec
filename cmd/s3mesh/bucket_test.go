package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"s3mesh/s3api"
)

// waitFor polls cond every 50 ms, for at most 30 s.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	var err error
	for range 600 {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within 30s: %v", what, err)
}

// TestReplicationEndpoints exercises GET /admin/v1/replication and POST
// /admin/v1/buckets/replicate on a node: arguments, methods, errors, and
// a bucket marked, reported complete, and unmarked.
func TestReplicationEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	node := newTestNode(t, 0)
	srv := httptest.NewServer(&adminAPI{repl: node})
	t.Cleanup(srv.Close)
	call := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	for _, tt := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", adminBucketReplicatePath + "?bucket=b&on=true", 405, "MethodNotAllowed"},
		{"POST", adminReplicationPath, 405, "MethodNotAllowed"},
		{"POST", adminBucketReplicatePath + "?on=true", 400, "InvalidArgument"},
		{"POST", adminBucketReplicatePath + "?bucket=b", 400, "InvalidArgument"},
		{"POST", adminBucketReplicatePath + "?bucket=b&on=maybe", 400, "InvalidArgument"},
		{"POST", adminBucketReplicatePath + "?bucket=nosuch&on=true", 404, "NoSuchBucket"},
	} {
		resp, body := call(tt.method, tt.path)
		if resp.StatusCode != tt.status || adminErrorCode(t, resp, body) != tt.code {
			t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.code)
		}
	}
	if resp, body := call("GET", adminReplicationPath); resp.StatusCode != 200 ||
		!strings.Contains(string(body), `"buckets": []`) || !strings.Contains(string(body), `"in_progress": []`) {
		t.Errorf("GET %s with no replicated bucket = %d %s", adminReplicationPath, resp.StatusCode, body)
	}

	if err := node.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("replicated "), 1000)
	if _, err := node.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "k", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	resp, body := call("POST", adminBucketReplicatePath+"?bucket=b&on=true")
	var set bucketReplicateResponse
	if resp.StatusCode != 200 || json.Unmarshal(body, &set) != nil || set != (bucketReplicateResponse{Bucket: "b", Replicated: true}) {
		t.Fatalf("POST replicate on = %d %s", resp.StatusCode, body)
	}
	waitFor(t, "bucket b complete", func() error {
		resp, body := call("GET", adminReplicationPath)
		var st replicationResponse
		if resp.StatusCode != 200 || json.Unmarshal(body, &st) != nil {
			return fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		want := bucketReplicationJSON{Name: "b", Objects: 1, ObjectsComplete: 1, LogicalBytes: int64(len(data)), BytesLocal: int64(len(data)), CompletePercent: 100}
		if len(st.Buckets) != 1 || st.Buckets[0] != want || st.QueuedObjects != 0 || len(st.InProgress) != 0 {
			return fmt.Errorf("%s", body)
		}
		return nil
	})
	resp, body = call("POST", adminBucketReplicatePath+"?bucket=b&on=false")
	if resp.StatusCode != 200 || json.Unmarshal(body, &set) != nil || set.Replicated {
		t.Fatalf("POST replicate off = %d %s", resp.StatusCode, body)
	}
	if resp, body := call("GET", adminReplicationPath); resp.StatusCode != 200 || !strings.Contains(string(body), `"buckets": []`) {
		t.Errorf("GET %s after unmarking = %d %s", adminReplicationPath, resp.StatusCode, body)
	}
	if resp, body := call("GET", adminReplicationPath); resp.StatusCode != 200 {
		t.Errorf("GET %s = %d %s", adminReplicationPath, resp.StatusCode, body)
	}
	// Without a node behind it, the API says so.
	bare := httptest.NewServer(&adminAPI{})
	t.Cleanup(bare.Close)
	r2, err := http.Get(bare.URL + adminReplicationPath)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 501 || adminErrorCode(t, r2, b2) != "NotImplemented" {
		t.Errorf("GET %s without a node = %d %s", adminReplicationPath, r2.StatusCode, b2)
	}
}

// TestBucketReplicateVerb runs "s3mesh bucket replicate" and "s3mesh
// bucket status" against a node, one of whose buckets is marked by
// S3MESH_REPLICATED_BUCKETS before it exists.
func TestBucketReplicateVerb(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := startNode(t, map[string]string{"S3MESH_REPLICATED_BUCKETS": "builds, later"})
	c := minioFor(t, n)
	for _, b := range []string{"photos", "later"} {
		if err := c.MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	data := testBytes(7, 300<<10)
	if _, err := c.PutObject(ctx, "photos", "a.jpg", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	env := nodeEnv(nil)

	out, err := runCLI(env, "bucket", "replicate", "photos", "--endpoint", n.endpoint)
	if err != nil || out != "bucket photos: replicated; every office fetches and keeps its objects\n" {
		t.Fatalf("bucket replicate photos: %v\n%s", err, out)
	}
	// "later" did not exist when the node started: it is marked once
	// created.
	waitFor(t, "photos complete and later marked", func() error {
		out, err := runCLI(env, "bucket", "status", "--json", "--endpoint", n.endpoint)
		if err != nil {
			return err
		}
		var st replicationResponse
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if len(st.Buckets) != 2 || st.Buckets[0].Name != "later" || st.Buckets[1].Name != "photos" ||
			st.Buckets[1].ObjectsComplete != 1 || st.Buckets[1].BytesLocal != int64(len(data)) || st.QueuedObjects != 0 {
			return fmt.Errorf("%s", out)
		}
		return nil
	})
	out, err = runCLI(env, "bucket", "status", "--endpoint", n.endpoint)
	for _, want := range []string{"BUCKET", "later", "photos  1        1         300.0 KiB  300.0 KiB  100.0%", "queued: 0 objects, 0 B to fetch"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("bucket status: %v; output lacks %q:\n%s", err, want, out)
		}
	}
	out, err = runCLI(env, "bucket", "replicate", "--off", "photos", "--endpoint", n.endpoint)
	if err != nil || !strings.HasPrefix(out, "bucket photos: not replicated;") {
		t.Fatalf("bucket replicate --off photos: %v\n%s", err, out)
	}
	out, err = runCLI(env, "bucket", "replicate", "photos", "--off", "--json", "--endpoint", n.endpoint)
	var res bucketReplicateResponse
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res != (bucketReplicateResponse{Bucket: "photos"}) {
		t.Fatalf("bucket replicate photos --off --json: %v\n%s", err, out)
	}

	// Mistakes.
	for _, args := range [][]string{
		{"bucket"},
		{"bucket", "frobnicate"},
		{"bucket", "replicate"},
		{"bucket", "replicate", "a", "b"},
		{"bucket", "replicate", "a", "--bogus"},
		{"bucket", "status", "extra"},
	} {
		if _, err := runCLI(env, args...); err != errUsage {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if _, err := runCLI(env, "bucket", "replicate", "nosuch", "--endpoint", n.endpoint); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("bucket replicate of a missing bucket: %v", err)
	}
	if _, err := runCLI(func(string) string { return "" }, "bucket", "status", "--endpoint", n.endpoint); err != errNoCredentials {
		t.Errorf("bucket status without credentials: %v", err)
	}
}

func TestPrintReplication(t *testing.T) {
	next := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var buf bytes.Buffer
	err := printReplication(&buf, replicationResponse{QueuedObjects: 2, PendingBytes: 3 << 20,
		Buckets: []bucketReplicationJSON{{Name: "builds", Objects: 3, ObjectsComplete: 1, ObjectsQueued: 2, LogicalBytes: 4 << 20, BytesLocal: 1 << 20, CompletePercent: 25}},
		InProgress: []objectReplicationJSON{
			{Bucket: "builds", Key: "a.tar", LeavesLocal: 1, LeavesTotal: 2, BytesLocal: 1 << 20, BytesTotal: 2 << 20, Active: true},
			{Bucket: "builds", Key: "b.tar", BytesTotal: 1 << 20, Attempts: 3, LastError: "no block arrived", NextAttempt: &next},
		}})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"builds  3        1         1.0 MiB  4.0 MiB  25.0%", "queued: 2 objects, 3.0 MiB to fetch",
		"builds/a.tar  1/2     1.0 MiB  2.0 MiB  fetching", "builds/b.tar  ?       0 B      1.0 MiB  retry at", "after 3 failed attempts: no block arrived"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := printReplication(&buf, replicationResponse{}); err != nil || !strings.Contains(buf.String(), "no replicated bucket") {
		t.Errorf("empty status: %v %q", err, buf.String())
	}
}
