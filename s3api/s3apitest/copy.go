package s3apitest

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

func testUploadPartCopy(t *testing.T, s s3api.ObjectStore) {
	ms := multipartStore(t, s)
	ctx := t.Context()
	createBucket(t, s, "src")
	createBucket(t, s, "dst")
	srcData := partData(50, s3api.MinPartSize+100)
	srcInfo := put(t, s, "src", "source", srcData)
	id := createUpload(t, ms, "dst", "k")
	cp := func(in s3api.UploadPartCopyInput) (*s3api.PartInfo, error) {
		in.Bucket, in.Key, in.UploadID = "dst", "k", id
		if in.SourceBucket == "" {
			in.SourceBucket = "src"
		}
		if in.SourceKey == "" {
			in.SourceKey = "source"
		}
		return ms.UploadPartCopy(ctx, &in)
	}

	// Part 1: the whole source, guarded by its ETag.
	p1, err := cp(s3api.UploadPartCopyInput{PartNumber: 1, SourceETag: srcInfo.ETag, Length: -1})
	if err != nil {
		t.Fatalf("UploadPartCopy(whole): %v", err)
	}
	checkPart(t, "UploadPartCopy(whole)", p1, 1, srcData)
	// Part 2: a range of the source.
	p2, err := cp(s3api.UploadPartCopyInput{PartNumber: 2, Offset: 10, Length: s3api.MinPartSize})
	if err != nil {
		t.Fatalf("UploadPartCopy(range): %v", err)
	}
	rng := srcData[10 : 10+s3api.MinPartSize]
	checkPart(t, "UploadPartCopy(range)", p2, 2, rng)
	// Part 3: the last byte.
	p3, err := cp(s3api.UploadPartCopyInput{PartNumber: 3, Offset: int64(len(srcData)) - 1, Length: 1})
	if err != nil {
		t.Fatalf("UploadPartCopy(last byte): %v", err)
	}
	checkPart(t, "UploadPartCopy(last byte)", p3, 3, srcData[len(srcData)-1:])

	// Failures store nothing.
	failures := []struct {
		name string
		in   s3api.UploadPartCopyInput
		code s3err.Code
	}{
		{"wrong SourceETag", s3api.UploadPartCopyInput{SourceETag: md5hex([]byte("other")), Length: -1}, s3err.ErrPreconditionFailed},
		{"offset past the end", s3api.UploadPartCopyInput{Offset: int64(len(srcData)) + 1, Length: 1}, s3err.ErrInvalidRange},
		{"range past the end", s3api.UploadPartCopyInput{Offset: int64(len(srcData)) - 1, Length: 2}, s3err.ErrInvalidRange},
		{"negative offset", s3api.UploadPartCopyInput{Offset: -1, Length: 1}, s3err.ErrInvalidRange},
		{"missing source key", s3api.UploadPartCopyInput{SourceKey: "missing", Length: -1}, s3err.ErrNoSuchKey},
		{"missing source bucket", s3api.UploadPartCopyInput{SourceBucket: "no-such-bucket", Length: -1}, s3err.ErrNoSuchBucket},
	}
	for _, f := range failures {
		f.in.PartNumber = 4
		_, err := cp(f.in)
		wantCode(t, "UploadPartCopy("+f.name+")", err, f.code)
	}
	_, err = ms.UploadPartCopy(ctx, &s3api.UploadPartCopyInput{
		Bucket: "dst", Key: "k", UploadID: "no-such-upload", PartNumber: 4, SourceBucket: "src", SourceKey: "source", Length: -1,
	})
	wantCode(t, "UploadPartCopy(unknown upload ID)", err, s3err.ErrNoSuchUpload)
	_, err = ms.UploadPartCopy(ctx, &s3api.UploadPartCopyInput{
		Bucket: "no-such-bucket", Key: "k", UploadID: id, PartNumber: 4, SourceBucket: "src", SourceKey: "source", Length: -1,
	})
	wantCode(t, "UploadPartCopy(missing bucket)", err, s3err.ErrNoSuchBucket)
	lp, err := ms.ListParts(ctx, s3api.ListPartsInput{Bucket: "dst", Key: "k", UploadID: id, MaxParts: 1000})
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(lp.Parts) != 3 {
		t.Errorf("ListParts after failed copies: %d parts, want 3", len(lp.Parts))
	}

	// The parts keep the bytes they were copied from after the source is
	// overwritten and deleted.
	put(t, s, "src", "source", []byte("overwritten"))
	if err := s.DeleteObject(ctx, "src", "source"); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	completeUpload(t, ms, "dst", "k", id, p1, p2, p3)
	wantMultipartObject(t, s, "dst", "k", srcData, rng, srcData[len(srcData)-1:])

	// A range of a multipart object that spans its part boundary, and a
	// zero-length source copied whole.
	id = createUpload(t, ms, "dst", "k2")
	span := int64(s3api.MinPartSize + 100 - 50)
	q1, err := ms.UploadPartCopy(ctx, &s3api.UploadPartCopyInput{
		Bucket: "dst", Key: "k2", UploadID: id, PartNumber: 1, SourceBucket: "dst", SourceKey: "k",
		Offset: span, Length: s3api.MinPartSize,
	})
	if err != nil {
		t.Fatalf("UploadPartCopy(across part boundary): %v", err)
	}
	whole := bytes.Join([][]byte{srcData, rng, srcData[len(srcData)-1:]}, nil)
	across := whole[span : span+s3api.MinPartSize]
	checkPart(t, "UploadPartCopy(across part boundary)", q1, 1, across)
	put(t, s, "src", "empty", nil)
	q2, err := ms.UploadPartCopy(ctx, &s3api.UploadPartCopyInput{
		Bucket: "dst", Key: "k2", UploadID: id, PartNumber: 2, SourceBucket: "src", SourceKey: "empty", Length: -1,
	})
	if err != nil {
		t.Fatalf("UploadPartCopy(empty source): %v", err)
	}
	checkPart(t, "UploadPartCopy(empty source)", q2, 2, nil)
	completeUpload(t, ms, "dst", "k2", id, q1, q2)
	wantMultipartObject(t, s, "dst", "k2", across, nil)
}

// copyStore returns s as an s3api.CopyStore, or skips t.
func copyStore(t *testing.T, s s3api.ObjectStore) s3api.CopyStore {
	t.Helper()
	cs, ok := s.(s3api.CopyStore)
	if !ok {
		t.Skip("store does not implement s3api.CopyStore")
	}
	return cs
}

func testCopyObject(t *testing.T, s s3api.ObjectStore) {
	cs := copyStore(t, s)
	ctx := t.Context()
	createBucket(t, s, "src")
	createBucket(t, s, "dst")
	data := randomBytes(60, MiB+3)
	sha := sha256.Sum256(data)
	meta := s3api.ObjectMetadata{ContentType: "text/x-source", ContentLanguage: "de", User: map[string]string{"origin": "source"}}
	sums := map[string]string{"CRC32": crc32b64(data), "SHA256": b64(sha[:])}
	tags := map[string]string{"kind": "source"}
	if _, err := s.PutObject(ctx, &s3api.PutObjectInput{
		Bucket: "src", Key: "source", Body: bytes.NewReader(data), Size: int64(len(data)),
		Metadata: meta, Checksums: sums, Tags: tags,
	}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	copyTo := func(in s3api.CopyObjectInput) (*s3api.ObjectInfo, error) {
		if in.SourceBucket == "" {
			in.SourceBucket = "src"
		}
		if in.SourceKey == "" {
			in.SourceKey = "source"
		}
		return cs.CopyObject(ctx, &in)
	}
	checkRecord := func(what string, info *s3api.ObjectInfo, wantMeta s3api.ObjectMetadata, wantTags map[string]string, checksums bool) {
		t.Helper()
		if diff := cmp.Diff(wantMeta, info.Metadata, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: metadata (-want +got):\n%s", what, diff)
		}
		if diff := cmp.Diff(wantTags, info.Tags, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: tags (-want +got):\n%s", what, diff)
		}
		if checksums {
			if diff := cmp.Diff(sums, info.Checksums); diff != "" {
				t.Errorf("%s: checksums (-want +got):\n%s", what, diff)
			}
		}
	}

	// COPY, across buckets, guarded by the source's ETag.
	info, err := copyTo(s3api.CopyObjectInput{Bucket: "dst", Key: "copy", SourceETag: md5hex(data)})
	if err != nil {
		t.Fatalf("CopyObject(COPY): %v", err)
	}
	checkInfo(t, "CopyObject(COPY)", info, "dst", "copy", data)
	checkRecord("CopyObject(COPY)", info, meta, tags, true)
	wantObject(t, s, "dst", "copy", data)
	head, err := s.HeadObject(ctx, "dst", "copy")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	checkRecord("HeadObject(COPY)", head, meta, tags, true)
	// Changing returned records changes nothing stored.
	info.Metadata.User["origin"] = "changed"
	info.Tags["kind"] = "changed"
	info.Checksums["CRC32"] = "changed"
	head, err = s.HeadObject(ctx, "dst", "copy")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	checkRecord("HeadObject after changing the returned record", head, meta, tags, true)
	src, err := s.HeadObject(ctx, "src", "source")
	if err != nil {
		t.Fatalf("HeadObject(source): %v", err)
	}
	checkRecord("HeadObject(source) after the copy", src, meta, tags, true)

	// REPLACE, within the bucket.
	newMeta := s3api.ObjectMetadata{ContentType: "application/x-replaced", User: map[string]string{"new": "1"}}
	newTags := map[string]string{"kind": "replaced", "extra": ""}
	info, err = copyTo(s3api.CopyObjectInput{Bucket: "src", Key: "replaced", ReplaceMetadata: true, Metadata: newMeta, Tags: newTags})
	if err != nil {
		t.Fatalf("CopyObject(REPLACE): %v", err)
	}
	checkInfo(t, "CopyObject(REPLACE)", info, "src", "replaced", data)
	checkRecord("CopyObject(REPLACE)", info, newMeta, newTags, false)
	newMeta.User["new"] = "changed after the call"
	newTags["kind"] = "changed after the call"
	head, err = s.HeadObject(ctx, "src", "replaced")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	checkRecord("HeadObject(REPLACE)", head,
		s3api.ObjectMetadata{ContentType: "application/x-replaced", User: map[string]string{"new": "1"}},
		map[string]string{"kind": "replaced", "extra": ""}, false)
	wantObject(t, s, "src", "replaced", data)
	// REPLACE without tags drops them.
	info, err = copyTo(s3api.CopyObjectInput{Bucket: "dst", Key: "bare", ReplaceMetadata: true})
	if err != nil {
		t.Fatalf("CopyObject(REPLACE, no tags): %v", err)
	}
	checkRecord("CopyObject(REPLACE, nothing)", info, s3api.ObjectMetadata{}, nil, false)

	// Self-copy: REPLACE changes the metadata in place; COPY keeps it.
	info, err = copyTo(s3api.CopyObjectInput{Bucket: "dst", Key: "copy", SourceBucket: "dst", SourceKey: "copy",
		ReplaceMetadata: true, Metadata: s3api.ObjectMetadata{CacheControl: "no-store"}, Tags: map[string]string{"self": "1"}})
	if err != nil {
		t.Fatalf("CopyObject(self, REPLACE): %v", err)
	}
	checkRecord("CopyObject(self, REPLACE)", info, s3api.ObjectMetadata{CacheControl: "no-store"}, map[string]string{"self": "1"}, false)
	wantObject(t, s, "dst", "copy", data)
	if _, err := copyTo(s3api.CopyObjectInput{Bucket: "dst", Key: "copy", SourceBucket: "dst", SourceKey: "copy"}); err != nil {
		t.Fatalf("CopyObject(self, COPY): %v", err)
	}
	head, err = s.HeadObject(ctx, "dst", "copy")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	checkRecord("HeadObject after self-copy", head, s3api.ObjectMetadata{CacheControl: "no-store"}, map[string]string{"self": "1"}, false)
	wantObject(t, s, "dst", "copy", data)

	// Errors change nothing.
	put(t, s, "dst", "existing", []byte("existing"))
	failures := []struct {
		name string
		in   s3api.CopyObjectInput
		code s3err.Code
	}{
		{"wrong SourceETag", s3api.CopyObjectInput{Key: "existing", SourceETag: md5hex([]byte("other"))}, s3err.ErrPreconditionFailed},
		{"missing source key", s3api.CopyObjectInput{Key: "existing", SourceKey: "missing"}, s3err.ErrNoSuchKey},
		{"missing source bucket", s3api.CopyObjectInput{Key: "existing", SourceBucket: "no-such-bucket"}, s3err.ErrNoSuchBucket},
		{"If-None-Match * on existing destination", s3api.CopyObjectInput{Key: "existing", Conditions: s3api.PutConditions{IfNoneMatch: "*"}}, s3err.ErrPreconditionFailed},
		{"If-Match other ETag", s3api.CopyObjectInput{Key: "existing", Conditions: s3api.PutConditions{IfMatch: md5hex(data)}}, s3err.ErrPreconditionFailed},
	}
	for _, f := range failures {
		f.in.Bucket = "dst"
		_, err := copyTo(f.in)
		wantCode(t, "CopyObject("+f.name+")", err, f.code)
		wantObject(t, s, "dst", "existing", []byte("existing"))
	}
	_, err = copyTo(s3api.CopyObjectInput{Bucket: "no-such-bucket", Key: "k"})
	wantCode(t, "CopyObject(missing destination bucket)", err, s3err.ErrNoSuchBucket)
	_, err = copyTo(s3api.CopyObjectInput{Bucket: "dst", Key: "fresh", SourceKey: "missing"})
	wantCode(t, "CopyObject(missing source key, fresh destination)", err, s3err.ErrNoSuchKey)
	wantAbsent(t, s, "dst", "fresh")
	// Passing conditions.
	if _, err := copyTo(s3api.CopyObjectInput{Bucket: "dst", Key: "existing", Conditions: s3api.PutConditions{IfMatch: md5hex([]byte("existing"))}}); err != nil {
		t.Fatalf("CopyObject(If-Match current ETag): %v", err)
	}
	wantObject(t, s, "dst", "existing", data)
	if _, err := copyTo(s3api.CopyObjectInput{Bucket: "dst", Key: "fresh", Conditions: s3api.PutConditions{IfNoneMatch: "*"}}); err != nil {
		t.Fatalf("CopyObject(If-None-Match *, missing destination): %v", err)
	}
	wantObject(t, s, "dst", "fresh", data)

	// The copies read right after the source is overwritten, then deleted;
	// overwriting a copy leaves the source alone.
	_, before, err := s.GetObject(ctx, "dst", "fresh")
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	put(t, s, "src", "source", []byte("new source"))
	wantObject(t, s, "dst", "fresh", data)
	put(t, s, "dst", "copy", []byte("new copy"))
	wantObject(t, s, "src", "source", []byte("new source"))
	wantObject(t, s, "src", "replaced", data)
	if err := s.DeleteObject(ctx, "src", "source"); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if err := s.DeleteObject(ctx, "src", "replaced"); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	wantObject(t, s, "dst", "fresh", data)
	wantObject(t, s, "dst", "existing", data)
	if got, err := readContent(ctx, before, 0, int64(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Errorf("handle on a copy after its source is deleted: %d bytes, %v; want the source's %d bytes", len(got), err, len(data))
	}

	// A multipart object's copy keeps its part sizes.
	ms, ok := s.(s3api.MultipartStore)
	if !ok {
		return
	}
	id := createUpload(t, ms, "src", "mp")
	p1, p2 := partData(61, s3api.MinPartSize), []byte("tail")
	completeUpload(t, ms, "src", "mp", id, uploadPart(t, ms, "src", "mp", id, 1, p1), uploadPart(t, ms, "src", "mp", id, 2, p2))
	for _, replace := range []bool{false, true} {
		info, err := copyTo(s3api.CopyObjectInput{Bucket: "dst", Key: "mp", SourceBucket: "src", SourceKey: "mp", ReplaceMetadata: replace})
		if err != nil {
			t.Fatalf("CopyObject(multipart, replace %v): %v", replace, err)
		}
		if want := []int64{s3api.MinPartSize, 4}; !cmp.Equal(info.PartSizes, want) {
			t.Errorf("CopyObject(multipart, replace %v): PartSizes %v, want %v", replace, info.PartSizes, want)
		}
		_, got := get(t, s, "dst", "mp")
		if !bytes.Equal(got, bytes.Join([][]byte{p1, p2}, nil)) {
			t.Errorf("GetObject(copy of multipart, replace %v): wrong content", replace)
		}
		head, err := s.HeadObject(ctx, "dst", "mp")
		if err != nil {
			t.Fatalf("HeadObject: %v", err)
		}
		if want := []int64{s3api.MinPartSize, 4}; !cmp.Equal(head.PartSizes, want) {
			t.Errorf("HeadObject(copy of multipart, replace %v): PartSizes %v, want %v", replace, head.PartSizes, want)
		}
	}
}

// testTags checks that PutObject stores in.Tags; it needs no optional role.
func testTags(t *testing.T, s s3api.ObjectStore) {
	ctx := t.Context()
	createBucket(t, s, "bucket")
	data := []byte("tagged")
	in := &s3api.PutObjectInput{
		Bucket: "bucket", Key: "k", Body: bytes.NewReader(data), Size: int64(len(data)),
		Tags: map[string]string{"a": "1", "empty": "", "ünï": "cödé"},
	}
	want := map[string]string{"a": "1", "empty": "", "ünï": "cödé"}
	info, err := s.PutObject(ctx, in)
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	in.Tags["a"] = "changed after the call"
	if diff := cmp.Diff(want, info.Tags); diff != "" {
		t.Errorf("PutObject: tags (-want +got):\n%s", diff)
	}
	info.Tags["a"] = "changed in the returned record"
	head, err := s.HeadObject(ctx, "bucket", "k")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if diff := cmp.Diff(want, head.Tags); diff != "" {
		t.Errorf("HeadObject: tags (-want +got):\n%s", diff)
	}
	head.Tags["a"] = "changed in the returned record"
	got, _, err := s.GetObject(ctx, "bucket", "k")
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	if diff := cmp.Diff(want, got.Tags); diff != "" {
		t.Errorf("GetObject: tags (-want +got):\n%s", diff)
	}
	if len(got.PartSizes) != 0 {
		t.Errorf("GetObject: PartSizes %v for an object written in one PUT, want none", got.PartSizes)
	}
	// An overwrite without tags has none.
	put(t, s, "bucket", "k", data)
	head, err = s.HeadObject(ctx, "bucket", "k")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if len(head.Tags) != 0 {
		t.Errorf("HeadObject after an overwrite without tags: %v, want none", head.Tags)
	}
}

// taggingStore returns s as an s3api.TaggingStore, or skips t.
func taggingStore(t *testing.T, s s3api.ObjectStore) s3api.TaggingStore {
	t.Helper()
	ts, ok := s.(s3api.TaggingStore)
	if !ok {
		t.Skip("store does not implement s3api.TaggingStore")
	}
	return ts
}

func testPutObjectTagging(t *testing.T, s s3api.ObjectStore) {
	ts := taggingStore(t, s)
	ctx := t.Context()
	createBucket(t, s, "bucket")
	data := randomBytes(70, MiB+1)
	meta := s3api.ObjectMetadata{ContentType: "text/x-tagged", User: map[string]string{"m": "1"}}
	sums := map[string]string{"CRC32": crc32b64(data)}
	orig, err := s.PutObject(ctx, &s3api.PutObjectInput{
		Bucket: "bucket", Key: "k", Body: bytes.NewReader(data), Size: int64(len(data)),
		Metadata: meta, Checksums: sums, Tags: map[string]string{"old": "1"},
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	_, before, err := s.GetObject(ctx, "bucket", "k")
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	// Everything but the tags stays as it was.
	same := func(what string, info *s3api.ObjectInfo, tags map[string]string) {
		t.Helper()
		want := *orig
		want.Tags = tags
		if diff := cmp.Diff(&want, info, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	tags := map[string]string{"new": "2", "empty": ""}
	info, err := ts.PutObjectTagging(ctx, "bucket", "k", tags)
	if err != nil {
		t.Fatalf("PutObjectTagging: %v", err)
	}
	tags["new"] = "changed after the call"
	want := map[string]string{"new": "2", "empty": ""}
	same("PutObjectTagging", info, want)
	info.Tags["new"] = "changed in the returned record"
	head, err := s.HeadObject(ctx, "bucket", "k")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	same("HeadObject after PutObjectTagging", head, want)
	wantObject(t, s, "bucket", "k", data)
	if got, err := readContent(ctx, before, 0, int64(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Errorf("handle opened before PutObjectTagging: %d bytes, %v; want the content", len(got), err)
	}

	// An empty map removes the tags.
	info, err = ts.PutObjectTagging(ctx, "bucket", "k", map[string]string{})
	if err != nil {
		t.Fatalf("PutObjectTagging(empty): %v", err)
	}
	same("PutObjectTagging(empty)", info, nil)
	head, err = s.HeadObject(ctx, "bucket", "k")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	same("HeadObject after removing the tags", head, nil)

	_, err = ts.PutObjectTagging(ctx, "bucket", "missing", map[string]string{"a": "b"})
	wantCode(t, "PutObjectTagging(missing key)", err, s3err.ErrNoSuchKey)
	wantAbsent(t, s, "bucket", "missing")
	_, err = ts.PutObjectTagging(ctx, "no-such-bucket", "k", map[string]string{"a": "b"})
	wantCode(t, "PutObjectTagging(missing bucket)", err, s3err.ErrNoSuchBucket)

	// Tags follow a COPY and a multipart upload's tags reach the object;
	// PutObjectTagging changes a multipart object's tags and nothing else.
	if cs, ok := s.(s3api.CopyStore); ok {
		if _, err := ts.PutObjectTagging(ctx, "bucket", "k", map[string]string{"copied": "yes"}); err != nil {
			t.Fatalf("PutObjectTagging: %v", err)
		}
		info, err := cs.CopyObject(ctx, &s3api.CopyObjectInput{Bucket: "bucket", Key: "copy", SourceBucket: "bucket", SourceKey: "k"})
		if err != nil {
			t.Fatalf("CopyObject: %v", err)
		}
		if diff := cmp.Diff(map[string]string{"copied": "yes"}, info.Tags); diff != "" {
			t.Errorf("CopyObject after PutObjectTagging: tags (-want +got):\n%s", diff)
		}
	}
	if ms, ok := s.(s3api.MultipartStore); ok {
		id, err := ms.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{Bucket: "bucket", Key: "mp", Tags: map[string]string{"mp": "1"}})
		if err != nil {
			t.Fatalf("CreateMultipartUpload: %v", err)
		}
		mp := completeUpload(t, ms, "bucket", "mp", id, uploadPart(t, ms, "bucket", "mp", id, 1, data))
		info, err := ts.PutObjectTagging(ctx, "bucket", "mp", map[string]string{"mp": "2"})
		if err != nil {
			t.Fatalf("PutObjectTagging(multipart): %v", err)
		}
		want := *mp
		want.Tags = map[string]string{"mp": "2"}
		if diff := cmp.Diff(&want, info, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("PutObjectTagging(multipart) (-want +got):\n%s", diff)
		}
	}
}
