package s3apitest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

func versioningStore(t *testing.T, s s3api.ObjectStore) s3api.VersioningStore {
	t.Helper()
	vs, ok := s.(s3api.VersioningStore)
	if !ok {
		t.Skip("store does not implement s3api.VersioningStore")
	}
	return vs
}

// listAllVersions pages through the bucket's versions n at a time and
// returns them as "key id latest" ("key id DM latest" for a delete marker).
func listAllVersions(t *testing.T, vs s3api.VersioningStore, in s3api.ListObjectVersionsInput) []string {
	t.Helper()
	var out []string
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("ListObjectVersions does not end")
		}
		res, err := vs.ListObjectVersions(t.Context(), in)
		if err != nil {
			t.Fatalf("ListObjectVersions(%+v): %v", in, err)
		}
		// Merge the page's versions and common prefixes in key order.
		type ent struct{ key, s string }
		var page []ent
		for _, v := range res.Versions {
			dm := ""
			if v.DeleteMarker {
				dm = " DM"
			}
			page = append(page, ent{v.Key, fmt.Sprintf("%s %s%s %v", v.Key, v.VersionID, dm, v.IsLatest)})
		}
		for _, cp := range res.CommonPrefixes {
			page = append(page, ent{cp, "CP " + cp})
		}
		slices.SortStableFunc(page, func(a, b ent) int { return strings.Compare(a.key, b.key) })
		for _, e := range page {
			out = append(out, e.s)
		}
		if !res.IsTruncated {
			return out
		}
		if res.NextKeyMarker == "" {
			t.Fatalf("truncated page without NextKeyMarker: %+v", res)
		}
		in.KeyMarker, in.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
	}
}

func wantVersions(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// getVersion reads version id of key whole.
func getVersion(t *testing.T, vs s3api.VersioningStore, bucket, key, id string) (*s3api.ObjectInfo, []byte) {
	t.Helper()
	info, c, err := vs.GetObjectVersion(t.Context(), bucket, key, id)
	if err != nil {
		t.Fatalf("GetObjectVersion(%q, %q): %v", key, id, err)
	}
	b, err := readContent(t.Context(), c, 0, info.Size)
	if err != nil {
		t.Fatalf("GetObjectVersion(%q, %q): %v", key, id, err)
	}
	return info, b
}

// testVersioning: the VersioningStore MUSTs.
func testVersioning(t *testing.T, s s3api.ObjectStore) {
	vs := versioningStore(t, s)
	ctx := t.Context()
	createBucket(t, s, "ver")

	// A bucket that was never versioned: no status, no version IDs on
	// writes, and each object is listed as its null version.
	if st, err := vs.GetBucketVersioning(ctx, "ver"); err != nil || st != "" {
		t.Fatalf("GetBucketVersioning of a new bucket: %q, %v", st, err)
	}
	n1 := put(t, s, "ver", "k", []byte("null-1"))
	if n1.VersionID != "" {
		t.Errorf("PutObject in an unversioned bucket: VersionID %q, want none", n1.VersionID)
	}
	put(t, s, "ver", "k", []byte("null-2"))
	wantVersions(t, "unversioned", listAllVersions(t, vs, s3api.ListObjectVersionsInput{Bucket: "ver", MaxKeys: 1000}),
		[]string{"k null true"})
	if info, b := getVersion(t, vs, "ver", "k", "null"); string(b) != "null-2" || info.VersionID != "null" {
		t.Errorf("GetObjectVersion(null): %q, %+v", b, info)
	}

	// Enabled: each write is a new version.
	if err := vs.PutBucketVersioning(ctx, "ver", s3api.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	if st, _ := vs.GetBucketVersioning(ctx, "ver"); st != s3api.VersioningEnabled {
		t.Fatalf("GetBucketVersioning: %q", st)
	}
	v1 := put(t, s, "ver", "k", []byte("version-1"))
	v2 := put(t, s, "ver", "k", []byte("version-2"))
	if v1.VersionID == "" || v1.VersionID == "null" || v1.VersionID == v2.VersionID || v2.VersionID == "" {
		t.Fatalf("version IDs %q, %q: want two distinct non-null IDs", v1.VersionID, v2.VersionID)
	}
	if info, b := get(t, s, "ver", "k"); string(b) != "version-2" {
		t.Errorf("current version: %q, %+v", b, info)
	}
	if info, b := getVersion(t, vs, "ver", "k", v1.VersionID); string(b) != "version-1" || info.VersionID != v1.VersionID {
		t.Errorf("GetObjectVersion(v1): %q, %+v", b, info)
	}
	if info, err := vs.HeadObjectVersion(ctx, "ver", "k", ""); err != nil || info.VersionID != v2.VersionID {
		t.Errorf("HeadObjectVersion(current): %+v, %v", info, err)
	}
	_, err := vs.HeadObjectVersion(ctx, "ver", "k", "no-such-version")
	wantCode(t, "HeadObjectVersion(bogus)", err, s3err.ErrNoSuchVersion)
	_, err = vs.HeadObjectVersion(ctx, "nobucket", "k", v1.VersionID)
	wantCode(t, "HeadObjectVersion(no bucket)", err, s3err.ErrNoSuchBucket)

	// A delete without version writes a delete marker.
	dm, err := vs.DeleteObjectVersion(ctx, "ver", "k", "")
	if err != nil || dm == nil || !dm.DeleteMarker || dm.VersionID == "" || dm.VersionID == "null" {
		t.Fatalf("DeleteObjectVersion(current): %+v, %v", dm, err)
	}
	_, err = s.HeadObject(ctx, "ver", "k")
	wantCode(t, "HeadObject after a delete marker", err, s3err.ErrNoSuchKey)
	info, err := vs.HeadObjectVersion(ctx, "ver", "k", "")
	wantCode(t, "HeadObjectVersion(current) on a delete marker", err, s3err.ErrNoSuchKey)
	if info == nil || !info.DeleteMarker || info.VersionID != dm.VersionID {
		t.Errorf("HeadObjectVersion(current) on a delete marker: %+v", info)
	}
	if info, err := vs.HeadObjectVersion(ctx, "ver", "k", dm.VersionID); err != nil || !info.DeleteMarker {
		t.Errorf("HeadObjectVersion(marker): %+v, %v", info, err)
	}
	all := []string{
		"k " + dm.VersionID + " DM true",
		"k " + v2.VersionID + " false",
		"k " + v1.VersionID + " false",
		"k null false",
	}
	wantVersions(t, "versioned", listAllVersions(t, vs, s3api.ListObjectVersionsInput{Bucket: "ver", MaxKeys: 1000}), all)
	for _, n := range []int{1, 2, 3} {
		wantVersions(t, fmt.Sprintf("versioned, %d a page", n),
			listAllVersions(t, vs, s3api.ListObjectVersionsInput{Bucket: "ver", MaxKeys: n}), all)
	}
	wantVersions(t, "after a version marker", listAllVersions(t, vs, s3api.ListObjectVersionsInput{
		Bucket: "ver", MaxKeys: 1000, KeyMarker: "k", VersionIDMarker: v2.VersionID,
	}), all[2:])
	wantVersions(t, "after a key marker", listAllVersions(t, vs, s3api.ListObjectVersionsInput{
		Bucket: "ver", MaxKeys: 1000, KeyMarker: "k",
	}), nil)
	wantCode(t, "DeleteBucket with versions", s.DeleteBucket(ctx, "ver"), s3err.ErrBucketNotEmpty)

	// Removing versions: the previous one becomes current.
	if got, err := vs.DeleteObjectVersion(ctx, "ver", "k", dm.VersionID); err != nil || got == nil || !got.DeleteMarker {
		t.Fatalf("DeleteObjectVersion(marker): %+v, %v", got, err)
	}
	if _, b := get(t, s, "ver", "k"); string(b) != "version-2" {
		t.Errorf("after removing the marker: %q", b)
	}
	if _, err := vs.DeleteObjectVersion(ctx, "ver", "k", v2.VersionID); err != nil {
		t.Fatal(err)
	}
	if _, b := get(t, s, "ver", "k"); string(b) != "version-1" {
		t.Errorf("after removing v2: %q", b)
	}
	_, _, err = vs.GetObjectVersion(ctx, "ver", "k", v2.VersionID)
	wantCode(t, "GetObjectVersion(removed)", err, s3err.ErrNoSuchVersion)
	if got, err := vs.DeleteObjectVersion(ctx, "ver", "k", v2.VersionID); err != nil || got != nil {
		t.Errorf("DeleteObjectVersion(removed again): %+v, %v", got, err)
	}

	// Suspended: writes replace the null version only.
	if err := vs.PutBucketVersioning(ctx, "ver", s3api.VersioningSuspended); err != nil {
		t.Fatal(err)
	}
	s1 := put(t, s, "ver", "k", []byte("suspended-1"))
	if s1.VersionID != "null" {
		t.Errorf("PutObject in a suspended bucket: VersionID %q, want null", s1.VersionID)
	}
	put(t, s, "ver", "k", []byte("suspended-2"))
	wantVersions(t, "suspended", listAllVersions(t, vs, s3api.ListObjectVersionsInput{Bucket: "ver", MaxKeys: 1000}),
		[]string{"k null true", "k " + v1.VersionID + " false"})
	if _, b := getVersion(t, vs, "ver", "k", "null"); string(b) != "suspended-2" {
		t.Errorf("null version in a suspended bucket: %q", b)
	}
	sdm, err := vs.DeleteObjectVersion(ctx, "ver", "k", "")
	if err != nil || sdm == nil || !sdm.DeleteMarker || sdm.VersionID != "null" {
		t.Errorf("delete in a suspended bucket: %+v, %v", sdm, err)
	}
	wantVersions(t, "suspended delete", listAllVersions(t, vs, s3api.ListObjectVersionsInput{Bucket: "ver", MaxKeys: 1000}),
		[]string{"k null DM true", "k " + v1.VersionID + " false"})

	// Prefix and delimiter.
	if err := vs.PutBucketVersioning(ctx, "ver", s3api.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	a1 := put(t, s, "ver", "a/1", []byte("a1"))
	a2 := put(t, s, "ver", "a/2", []byte("a2"))
	b1 := put(t, s, "ver", "b", []byte("b1"))
	b2 := put(t, s, "ver", "b", []byte("b2"))
	for _, n := range []int{1, 2, 1000} {
		wantVersions(t, fmt.Sprintf("delimiter, %d a page", n), listAllVersions(t, vs, s3api.ListObjectVersionsInput{
			Bucket: "ver", Delimiter: "/", MaxKeys: n,
		}), []string{
			"CP a/", "b " + b2.VersionID + " true", "b " + b1.VersionID + " false",
			"k null DM true", "k " + v1.VersionID + " false",
		})
		wantVersions(t, fmt.Sprintf("prefix, %d a page", n), listAllVersions(t, vs, s3api.ListObjectVersionsInput{
			Bucket: "ver", Prefix: "a/", MaxKeys: n,
		}), []string{"a/1 " + a1.VersionID + " true", "a/2 " + a2.VersionID + " true"})
	}

	// Copies and completed uploads are versions too.
	if cs, ok := s.(s3api.CopyStore); ok {
		c, err := cs.CopyObject(ctx, &s3api.CopyObjectInput{Bucket: "ver", Key: "b", SourceBucket: "ver", SourceKey: "a/1"})
		if err != nil {
			t.Fatal(err)
		}
		if c.VersionID == "" || c.VersionID == "null" || c.VersionID == b2.VersionID {
			t.Errorf("CopyObject in a versioned bucket: VersionID %q", c.VersionID)
		}
		if _, b := getVersion(t, vs, "ver", "b", b2.VersionID); !bytes.Equal(b, []byte("b2")) {
			t.Errorf("version overwritten by a copy: %q", b)
		}
		// A copy of a version that is not current.
		c2, err := cs.CopyObject(ctx, &s3api.CopyObjectInput{Bucket: "ver", Key: "b-copy", SourceBucket: "ver", SourceKey: "b", SourceVersionID: b1.VersionID})
		if err != nil {
			t.Fatalf("CopyObject of version b1: %v", err)
		}
		if _, b := getVersion(t, vs, "ver", "b-copy", c2.VersionID); !bytes.Equal(b, []byte("b1")) {
			t.Errorf("copy of version b1: %q", b)
		}
		_, err = cs.CopyObject(ctx, &s3api.CopyObjectInput{Bucket: "ver", Key: "b-copy", SourceBucket: "ver", SourceKey: "b", SourceVersionID: "no-such-version"})
		wantCode(t, "CopyObject of a missing version", err, s3err.ErrNoSuchVersion)
		_, err = cs.CopyObject(ctx, &s3api.CopyObjectInput{Bucket: "ver", Key: "b-copy", SourceBucket: "ver", SourceKey: "k", SourceVersionID: "null"})
		wantCode(t, "CopyObject of a delete marker", err, s3err.ErrInvalidRequest)
	}
	if ms, ok := s.(s3api.MultipartStore); ok {
		id := createUpload(t, ms, "ver", "b")
		p := uploadPart(t, ms, "ver", "b", id, 1, []byte("part"))
		obj := completeUpload(t, ms, "ver", "b", id, p)
		if obj.VersionID == "" || obj.VersionID == "null" || obj.VersionID == b2.VersionID {
			t.Errorf("CompleteMultipartUpload in a versioned bucket: VersionID %q", obj.VersionID)
		}
	}
	_, err = vs.ListObjectVersions(ctx, s3api.ListObjectVersionsInput{Bucket: "nobucket", MaxKeys: 10})
	wantCode(t, "ListObjectVersions(no bucket)", err, s3err.ErrNoSuchBucket)
	wantCode(t, "PutBucketVersioning(no bucket)", vs.PutBucketVersioning(ctx, "nobucket", s3api.VersioningEnabled), s3err.ErrNoSuchBucket)
}
