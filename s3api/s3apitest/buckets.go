package s3apitest

import (
	"bytes"
	"strings"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

func testBuckets(t *testing.T, s s3api.ObjectStore) {
	ctx := t.Context()
	got, err := s.ListBuckets(ctx)
	if err != nil {
		t.Fatalf("ListBuckets on an empty store: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("ListBuckets on an empty store = %v, want none", got)
	}

	// Created out of order; listed by name.
	in := []s3api.CreateBucketInput{
		{Bucket: "charlie"},
		{Bucket: "alpha", Location: "eu-west-1"},
		{Bucket: "bravo-2"},
		{Bucket: "bravo"},
		{Bucket: "bravo.x", Location: "us-west-2"},
	}
	for _, b := range in {
		if err := s.CreateBucket(ctx, b); err != nil {
			t.Fatalf("CreateBucket(%+v): %v", b, err)
		}
	}
	err = s.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "alpha"})
	wantCode(t, "CreateBucket(existing)", err, s3err.ErrBucketAlreadyOwnedByYou)
	err = s.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "bravo", Location: "eu-west-1"})
	wantCode(t, "CreateBucket(existing, other location)", err, s3err.ErrBucketAlreadyOwnedByYou)

	wantNames := []string{"alpha", "bravo", "bravo-2", "bravo.x", "charlie"}
	wantLoc := map[string]string{"alpha": "eu-west-1", "bravo.x": "us-west-2"}
	got, err = s.ListBuckets(ctx)
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range got {
		names = append(names, b.Name)
		if b.CreationDate.IsZero() {
			t.Errorf("ListBuckets: %q has no CreationDate", b.Name)
		}
		if b.Location != wantLoc[b.Name] {
			t.Errorf("ListBuckets: %q Location %q, want %q", b.Name, b.Location, wantLoc[b.Name])
		}
	}
	if strings.Join(names, ",") != strings.Join(wantNames, ",") {
		t.Errorf("ListBuckets names = %q, want %q", names, wantNames)
	}

	for _, name := range wantNames {
		info, err := s.HeadBucket(ctx, name)
		if err != nil {
			t.Errorf("HeadBucket(%q): %v", name, err)
			continue
		}
		if info.Name != name || info.Location != wantLoc[name] || info.CreationDate.IsZero() {
			t.Errorf("HeadBucket(%q) = %+v, want name %q, location %q, a creation date", name, info, name, wantLoc[name])
		}
	}
	_, err = s.HeadBucket(ctx, "missing")
	wantCode(t, "HeadBucket(missing)", err, s3err.ErrNoSuchBucket)
	wantCode(t, "DeleteBucket(missing)", s.DeleteBucket(ctx, "missing"), s3err.ErrNoSuchBucket)

	// A bucket holding an object cannot be deleted, and stays intact.
	put(t, s, "bravo", "k", []byte("v"))
	wantCode(t, "DeleteBucket(non-empty)", s.DeleteBucket(ctx, "bravo"), s3err.ErrBucketNotEmpty)
	wantObject(t, s, "bravo", "k", []byte("v"))
	if err := s.DeleteObject(ctx, "bravo", "k"); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if err := s.DeleteBucket(ctx, "bravo"); err != nil {
		t.Fatalf("DeleteBucket(emptied): %v", err)
	}
	_, err = s.HeadBucket(ctx, "bravo")
	wantCode(t, "HeadBucket(deleted)", err, s3err.ErrNoSuchBucket)
	wantCode(t, "DeleteBucket(deleted)", s.DeleteBucket(ctx, "bravo"), s3err.ErrNoSuchBucket)
	got, err = s.ListBuckets(ctx)
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	for _, b := range got {
		if b.Name == "bravo" {
			t.Errorf("ListBuckets lists the deleted bucket")
		}
	}
	if len(got) != len(wantNames)-1 {
		t.Errorf("ListBuckets after delete: %d buckets, want %d", len(got), len(wantNames)-1)
	}

	// A bucket created again is new and empty.
	if err := s.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "bravo"}); err != nil {
		t.Fatalf("CreateBucket(re-created): %v", err)
	}
	res, err := s.ListObjects(ctx, s3api.ListObjectsInput{Bucket: "bravo", MaxKeys: 1000})
	if err != nil {
		t.Fatalf("ListObjects(re-created): %v", err)
	}
	if len(res.Objects) != 0 || len(res.CommonPrefixes) != 0 || res.IsTruncated {
		t.Errorf("ListObjects(re-created) = %+v, want empty", res)
	}
	_, err = s.HeadObject(ctx, "bravo", "k")
	wantCode(t, "HeadObject(re-created bucket)", err, s3err.ErrNoSuchKey)
}

func testNoSuchBucket(t *testing.T, s s3api.ObjectStore) {
	ctx := t.Context()
	createBucket(t, s, "exists")
	put(t, s, "exists", "k", []byte("v"))

	// Another bucket's key never leaks through a missing bucket.
	_, err := s.PutObject(ctx, &s3api.PutObjectInput{Bucket: "missing", Key: "k", Body: bytes.NewReader([]byte("v")), Size: 1})
	wantCode(t, "PutObject", err, s3err.ErrNoSuchBucket)
	_, err = s.HeadObject(ctx, "missing", "k")
	wantCode(t, "HeadObject", err, s3err.ErrNoSuchBucket)
	_, _, err = s.GetObject(ctx, "missing", "k")
	wantCode(t, "GetObject", err, s3err.ErrNoSuchBucket)
	wantCode(t, "DeleteObject", s.DeleteObject(ctx, "missing", "k"), s3err.ErrNoSuchBucket)
	_, err = s.ListObjects(ctx, s3api.ListObjectsInput{Bucket: "missing", MaxKeys: 1000})
	wantCode(t, "ListObjects", err, s3err.ErrNoSuchBucket)

	// The failed put created nothing.
	_, err = s.HeadBucket(ctx, "missing")
	wantCode(t, "HeadBucket after PutObject to a missing bucket", err, s3err.ErrNoSuchBucket)
}
