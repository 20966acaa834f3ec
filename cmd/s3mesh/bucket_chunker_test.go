package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"s3mesh/s3api"
)

// TestBucketChunkerVerb runs "s3mesh bucket chunker" (runBucketChunker)
// against the endpoint.
func TestBucketChunkerVerb(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	node := newTestNode(t, 0)
	if err := node.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "builds"}); err != nil {
		t.Fatal(err)
	}
	srv := newAdminServer(t, node)
	verb := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := runBucketChunker(ctx, args, nodeEnv(nil), &out, &errOut)
		return out.String(), errOut.String(), err
	}

	for _, tt := range []struct {
		args []string
		want string // in stdout
		err  string // in the error, or errUsage's stderr
	}{
		{args: []string{"builds", "--endpoint", srv.URL}, want: "bucket builds: new objects are cut with size-1048576 (the node's default)\n"},
		{args: []string{"--endpoint", srv.URL, "builds", "fastcdc"}, want: "bucket builds: new objects will be cut with fastcdc-262144-1048576-2097152\n"},
		{args: []string{"builds", "--endpoint", srv.URL}, want: "are cut with fastcdc-262144-1048576-2097152\n"},
		{args: []string{"builds", "--json", "--endpoint", srv.URL}, want: `"chunker": "fastcdc-262144-1048576-2097152"`},
		{args: []string{"builds", "size-9", "--endpoint", srv.URL}, err: "InvalidArgument: chunker \"size-9\": leaf size 9 out of range"},
		{args: []string{"nope", "--endpoint", srv.URL}, err: "NoSuchBucket"},
		{args: []string{"--endpoint", srv.URL}, err: "usage: s3mesh bucket chunker NAME"},
		{args: []string{"a", "b", "c", "--endpoint", srv.URL}, err: "usage: s3mesh bucket chunker NAME"},
	} {
		out, stderr, err := verb(tt.args...)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v (stderr %s)", tt.args, err, stderr)
		case tt.err == "" && !strings.Contains(out, tt.want):
			t.Errorf("%q printed %q, want %q", tt.args, out, tt.want)
		case tt.err != "" && err == nil:
			t.Errorf("%q succeeded (%q), want an error saying %q", tt.args, out, tt.err)
		case tt.err != "" && errors.Is(err, errUsage) && !strings.Contains(stderr, tt.err):
			t.Errorf("%q: usage error printing %q, want %q", tt.args, stderr, tt.err)
		case tt.err != "" && !errors.Is(err, errUsage) && !strings.Contains(err.Error(), tt.err):
			t.Errorf("%q: %v, want an error saying %q", tt.args, err, tt.err)
		}
	}

	// The verb is "s3mesh bucket chunker".
	if out, err := runCLI(nodeEnv(nil), "bucket", "chunker", "builds", "default", "--endpoint", srv.URL); err != nil || !strings.Contains(out, "(the node's default)") {
		t.Errorf("s3mesh bucket chunker builds default: %q, %v", out, err)
	}
}

// TestConfigChunkerSetting: --chunker (S3MESH_CHUNKER, chunker:) is
// checked when the configuration loads.
func TestConfigChunkerSetting(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	cfg, err := loadConfig("serve", []string{"--chunker", "cdc"}, func(string) string { return "" }, &stderr)
	if err != nil || cfg.Chunker != "cdc" {
		t.Fatalf("--chunker cdc: %+v, %v", cfg.Chunker, err)
	}
	cfg, err = loadConfig("serve", nil, func(k string) string { return map[string]string{"S3MESH_CHUNKER": "size-256KiB"}[k] }, &stderr)
	if err != nil || cfg.Chunker != "size-256KiB" {
		t.Fatalf("S3MESH_CHUNKER: %+v, %v", cfg.Chunker, err)
	}
	if _, err := loadConfig("serve", []string{"--chunker", "fastcdc-1MiB-1MiB-2MiB"}, func(string) string { return "" }, &stderr); err == nil || !strings.Contains(err.Error(), "MIN < AVG < MAX") {
		t.Errorf("a bad --chunker: %v", err)
	}
	if cfg, err := loadConfig("serve", nil, func(string) string { return "" }, &stderr); err != nil || cfg.Chunker != "" {
		t.Errorf("default chunker %q, %v; want none", cfg.Chunker, err)
	}
}
