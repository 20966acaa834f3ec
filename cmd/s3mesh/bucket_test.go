package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"s3mesh/internal/poll"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"s3mesh/admin"
)

// waitFor waits until cond returns nil (see poll.Until).
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	poll.Until(t, what, 60*time.Second, cond)
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
		var st admin.ReplicationResponse
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
	var res admin.BucketReplicateResponse
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res != (admin.BucketReplicateResponse{Bucket: "photos"}) {
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
	err := printReplication(&buf, admin.ReplicationResponse{QueuedObjects: 2, PendingBytes: 3 << 20,
		Buckets: []admin.BucketReplication{{Name: "builds", Objects: 3, ObjectsComplete: 1, ObjectsQueued: 2, LogicalBytes: 4 << 20, BytesLocal: 1 << 20, CompletePercent: 25}},
		InProgress: []admin.ObjectReplication{
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
	if err := printReplication(&buf, admin.ReplicationResponse{}); err != nil || !strings.Contains(buf.String(), "no replicated bucket") {
		t.Errorf("empty status: %v %q", err, buf.String())
	}
}
