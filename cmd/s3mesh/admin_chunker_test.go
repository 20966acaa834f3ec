package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
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
	srv := httptest.NewServer(&adminAPI{chunkers: node})
	t.Cleanup(srv.Close)

	for _, tt := range []struct {
		method, query string
		status        int
		code          string           // error code, or "" for success
		want          *chunkerResponse // the answer of a success
	}{
		{"GET", "?bucket=builds", 200, "", &chunkerResponse{Bucket: "builds", Effective: "size-4096"}},
		{"POST", "?bucket=builds&spec=cdc", 200, "", &chunkerResponse{Bucket: "builds", Chunker: "buzhash", Effective: "buzhash"}},
		{"GET", "?bucket=builds", 200, "", &chunkerResponse{Bucket: "builds", Chunker: "buzhash", Effective: "buzhash"}},
		{"POST", "?bucket=builds&spec=fastcdc-64KiB-256KiB-1MiB", 200, "", &chunkerResponse{Bucket: "builds", Chunker: "fastcdc-65536-262144-1048576", Effective: "fastcdc-65536-262144-1048576"}},
		{"POST", "?bucket=builds&spec=size-1", 400, "InvalidArgument", nil},
		{"POST", "?bucket=builds&spec=lz4", 400, "InvalidArgument", nil},
		{"POST", "?bucket=builds", 400, "InvalidArgument", nil},
		{"POST", "?bucket=builds&spec=buzhash&spec=rabin", 400, "InvalidArgument", nil},
		{"GET", "", 400, "InvalidArgument", nil},
		{"GET", "?bucket=nope", 404, "NoSuchBucket", nil},
		{"POST", "?bucket=nope&spec=buzhash", 404, "NoSuchBucket", nil},
		{"PUT", "?bucket=builds&spec=buzhash", 405, "MethodNotAllowed", nil},
		{"POST", "?bucket=builds&spec=default", 200, "", &chunkerResponse{Bucket: "builds", Effective: "size-4096"}},
	} {
		resp, body := do(t, tt.method, srv.URL+adminChunkerPath+tt.query, "", "", nil)
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
		var got chunkerResponse
		if err := json.Unmarshal(body, &got); err != nil || got != *tt.want {
			t.Errorf("%s %s = %s (%v), want %+v", tt.method, tt.query, body, err, *tt.want)
		}
	}

	// A node without bucket chunkers answers NotImplemented.
	bare := httptest.NewServer(&adminAPI{})
	defer bare.Close()
	if resp, body := do(t, "GET", bare.URL+adminChunkerPath+"?bucket=builds", "", "", nil); resp.StatusCode != 501 || adminErrorCode(t, resp, body) != "NotImplemented" {
		t.Errorf("without chunkers: %d %s", resp.StatusCode, body)
	}
}

// TestBucketChunkerVerb runs "s3mesh bucket chunker" (runBucketChunker)
// against the endpoint.
func TestBucketChunkerVerb(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	node := newTestNode(t, 0)
	if err := node.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "builds"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&adminAPI{chunkers: node})
	t.Cleanup(srv.Close)
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
