package s3apitest

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// multipartStore returns s as an s3api.MultipartStore, or skips t.
func multipartStore(t *testing.T, s s3api.ObjectStore) s3api.MultipartStore {
	t.Helper()
	ms, ok := s.(s3api.MultipartStore)
	if !ok {
		t.Skip("store does not implement s3api.MultipartStore")
	}
	return ms
}

func testMultipart(t *testing.T, s s3api.ObjectStore) {
	ms := multipartStore(t, s)
	tests := []struct {
		name string
		fn   func(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string)
	}{
		{"HappyPath", testMultipartHappyPath},
		{"Resend", testMultipartResend},
		{"ConcurrentParts", testMultipartConcurrent},
		{"Subset", testMultipartSubset},
		{"UploadPartErrors", testUploadPartErrors},
		{"CompletionErrors", testCompletionErrors},
		{"CompletionConditions", testCompletionConditions},
		{"FinalizeError", testFinalizeError},
		{"Abort", testMultipartAbort},
		{"ListParts", testListParts},
		{"ListMultipartUploads", testListMultipartUploads},
	}
	// Each test has a bucket of its own in the one store.
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := fmt.Sprintf("mp-%d", i)
			createBucket(t, s, bucket)
			tt.fn(t, s, ms, bucket)
		})
	}
}

// partData returns a part of n bytes that differs from every other variant
// of the same size in its first eight bytes. Parts of a size share one
// pseudo-random base, so that large parts cost a copy, not a generation.
func partData(variant uint64, n int) []byte {
	baseMu.Lock()
	base, ok := bases[n]
	if !ok {
		base = randomBytes(uint64(n), n)
		bases[n] = base
	}
	baseMu.Unlock()
	b := bytes.Clone(base)
	for i := 0; i < 8 && i < n; i++ {
		b[i] = byte(variant >> (8 * i))
	}
	return b
}

var (
	baseMu sync.Mutex
	bases  = map[int][]byte{}
)

// multipartETag returns the ETag of an object made of parts: the hex MD5 of
// the concatenated binary part MD5s, "-", the part count.
func multipartETag(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		sum := md5.Sum(p)
		h.Write(sum[:])
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(parts))
}

func createUpload(t *testing.T, ms s3api.MultipartStore, bucket, key string) string {
	t.Helper()
	id, err := ms.CreateMultipartUpload(t.Context(), &s3api.CreateMultipartUploadInput{Bucket: bucket, Key: key})
	if err != nil {
		t.Fatalf("CreateMultipartUpload(%q, %q): %v", bucket, key, err)
	}
	return id
}

func uploadPart(t *testing.T, ms s3api.MultipartStore, bucket, key, id string, n int, data []byte) *s3api.PartInfo {
	t.Helper()
	p, err := ms.UploadPart(t.Context(), &s3api.UploadPartInput{
		Bucket: bucket, Key: key, UploadID: id, PartNumber: n, Body: bytes.NewReader(data), Size: int64(len(data)),
	})
	if err != nil {
		t.Fatalf("UploadPart(%q, part %d, %d bytes): %v", key, n, len(data), err)
	}
	checkPart(t, fmt.Sprintf("UploadPart(%q, part %d)", key, n), p, n, data)
	return p
}

// checkPart checks a part record against the part's number and bytes.
func checkPart(t *testing.T, what string, p *s3api.PartInfo, n int, data []byte) {
	t.Helper()
	if p == nil {
		t.Fatalf("%s: nil record", what)
	}
	if p.PartNumber != n || p.ETag != md5hex(data) || p.Size != int64(len(data)) {
		t.Errorf("%s: part %d, ETag %q, Size %d; want part %d, ETag %q, Size %d",
			what, p.PartNumber, p.ETag, p.Size, n, md5hex(data), len(data))
	}
	if p.LastModified.IsZero() {
		t.Errorf("%s: LastModified not set", what)
	}
}

// completed lists parts for CompleteMultipartUpload.
func completed(parts ...*s3api.PartInfo) []s3api.CompletedPart {
	out := make([]s3api.CompletedPart, len(parts))
	for i, p := range parts {
		out[i] = s3api.CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag}
	}
	return out
}

func completeUpload(t *testing.T, ms s3api.MultipartStore, bucket, key, id string, parts ...*s3api.PartInfo) *s3api.ObjectInfo {
	t.Helper()
	info, err := ms.CompleteMultipartUpload(t.Context(), &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: key, UploadID: id, Parts: completed(parts...),
	})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload(%q): %v", key, err)
	}
	return info
}

// wantUpload fails t unless upload id of key is in progress: ListParts
// answers and ListMultipartUploads lists it.
func wantUpload(t *testing.T, ms s3api.MultipartStore, bucket, key, id string) {
	t.Helper()
	if _, err := ms.ListParts(t.Context(), s3api.ListPartsInput{Bucket: bucket, Key: key, UploadID: id, MaxParts: 1000}); err != nil {
		t.Errorf("ListParts(%q): %v; want the upload in progress", key, err)
	}
	if !slices.Contains(uploadIDs(t, ms, bucket, key), id) {
		t.Errorf("ListMultipartUploads(prefix %q) does not list upload %q", key, id)
	}
}

// wantNoUpload fails t unless upload id of key is over: every upload call
// answers NoSuchUpload and ListMultipartUploads does not list it.
func wantNoUpload(t *testing.T, ms s3api.MultipartStore, bucket, key, id string) {
	t.Helper()
	ctx := t.Context()
	_, err := ms.ListParts(ctx, s3api.ListPartsInput{Bucket: bucket, Key: key, UploadID: id, MaxParts: 1000})
	wantCode(t, "ListParts", err, s3err.ErrNoSuchUpload)
	_, err = ms.UploadPart(ctx, &s3api.UploadPartInput{
		Bucket: bucket, Key: key, UploadID: id, PartNumber: 1, Body: strings.NewReader("x"), Size: 1,
	})
	wantCode(t, "UploadPart", err, s3err.ErrNoSuchUpload)
	_, err = ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: key, UploadID: id, Parts: []s3api.CompletedPart{{PartNumber: 1, ETag: md5hex([]byte("x"))}},
	})
	wantCode(t, "CompleteMultipartUpload", err, s3err.ErrNoSuchUpload)
	err = ms.AbortMultipartUpload(ctx, bucket, key, id)
	wantCode(t, "AbortMultipartUpload", err, s3err.ErrNoSuchUpload)
	if slices.Contains(uploadIDs(t, ms, bucket, key), id) {
		t.Errorf("ListMultipartUploads(prefix %q) lists the ended upload %q", key, id)
	}
}

// uploadIDs returns the IDs of the uploads of key in progress.
func uploadIDs(t *testing.T, ms s3api.MultipartStore, bucket, key string) []string {
	t.Helper()
	res, err := ms.ListMultipartUploads(t.Context(), s3api.ListMultipartUploadsInput{Bucket: bucket, Prefix: key, MaxUploads: 1000})
	if err != nil {
		t.Fatalf("ListMultipartUploads(prefix %q): %v", key, err)
	}
	var ids []string
	for _, u := range res.Uploads {
		if u.Key == key {
			ids = append(ids, u.UploadID)
		}
	}
	return ids
}

// wantMultipartObject fails t unless key holds the concatenation of parts,
// with the multipart ETag and PartSizes, and reads right across the part
// boundaries.
func wantMultipartObject(t *testing.T, s s3api.ObjectStore, bucket, key string, parts ...[]byte) {
	t.Helper()
	whole := bytes.Join(parts, nil)
	var sizes []int64
	for _, p := range parts {
		sizes = append(sizes, int64(len(p)))
	}
	info, c, err := s.GetObject(t.Context(), bucket, key)
	if err != nil {
		t.Fatalf("GetObject(%q): %v", key, err)
	}
	checkMultipartInfo(t, fmt.Sprintf("GetObject(%q)", key), info, bucket, key, parts...)
	got, err := readContent(t.Context(), c, 0, info.Size)
	if err != nil {
		t.Fatalf("GetObject(%q): %v", key, err)
	}
	if !bytes.Equal(got, whole) {
		t.Errorf("GetObject(%q): content of %d bytes (md5 %s), want the %d bytes of the parts (md5 %s)",
			key, len(got), md5hex(got), len(whole), md5hex(whole))
	}
	// Ranges that start, end or straddle each boundary.
	var off int64
	for i := range len(sizes) - 1 {
		off += sizes[i]
		for _, r := range []struct{ off, length int64 }{
			{off - 3, 6}, {off - 1, 1}, {off, 1}, {off - 1, 2}, {0, off + 1}, {off - 2, int64(len(whole)) - off + 2},
		} {
			if r.off < 0 || r.off+r.length > int64(len(whole)) {
				continue
			}
			got, err := readContent(t.Context(), c, r.off, r.length)
			if err != nil {
				t.Errorf("GetObject(%q): %v", key, err)
				continue
			}
			if !bytes.Equal(got, whole[r.off:r.off+r.length]) {
				t.Errorf("GetObject(%q): Open(%d, %d) across the end of part %d: wrong bytes", key, r.off, r.length, i+1)
			}
		}
	}
	head, err := s.HeadObject(t.Context(), bucket, key)
	if err != nil {
		t.Fatalf("HeadObject(%q): %v", key, err)
	}
	checkMultipartInfo(t, fmt.Sprintf("HeadObject(%q)", key), head, bucket, key, parts...)
}

func checkMultipartInfo(t *testing.T, what string, info *s3api.ObjectInfo, bucket, key string, parts ...[]byte) {
	t.Helper()
	if info == nil {
		t.Fatalf("%s: nil record", what)
	}
	var sizes []int64
	var total int64
	for _, p := range parts {
		sizes = append(sizes, int64(len(p)))
		total += int64(len(p))
	}
	if info.Bucket != bucket || info.Key != key {
		t.Errorf("%s: record names %q/%q, want %q/%q", what, info.Bucket, info.Key, bucket, key)
	}
	if info.Size != total {
		t.Errorf("%s: Size %d, want %d", what, info.Size, total)
	}
	if want := multipartETag(parts...); info.ETag != want {
		t.Errorf("%s: ETag %q, want %q", what, info.ETag, want)
	}
	if !slices.Equal(info.PartSizes, sizes) {
		t.Errorf("%s: PartSizes %v, want %v", what, info.PartSizes, sizes)
	}
	if info.LastModified.IsZero() {
		t.Errorf("%s: LastModified not set", what)
	}
}

func testMultipartHappyPath(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string) {
	ctx := t.Context()
	meta := s3api.ObjectMetadata{ContentType: "application/x-test", CacheControl: "no-cache", User: map[string]string{"a": "1", "empty": ""}}
	tags := map[string]string{"project": "s3mesh", "empty": ""}
	in := &s3api.CreateMultipartUploadInput{
		Bucket: bucket, Key: "big", Metadata: meta, Tags: tags,
		ChecksumAlgorithm: "CRC32", ChecksumType: "COMPOSITE",
	}
	id, err := ms.CreateMultipartUpload(ctx, in)
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	// The store keeps its own copy of the input.
	in.Metadata.User["a"] = "changed"
	in.Tags["project"] = "changed"
	wantMeta := s3api.ObjectMetadata{ContentType: "application/x-test", CacheControl: "no-cache", User: map[string]string{"a": "1", "empty": ""}}
	wantTags := map[string]string{"project": "s3mesh", "empty": ""}

	if id == "" {
		t.Fatal("CreateMultipartUpload returned an empty upload ID")
	}
	for _, r := range id {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~", r) {
			t.Errorf("upload ID %q holds %q, which is not URL-safe", id, r)
		}
	}
	if other := createUpload(t, ms, bucket, "big"); other == id {
		t.Errorf("two uploads of one key got the same ID %q", id)
	} else if err := ms.AbortMultipartUpload(ctx, bucket, "big", other); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}

	p1, p2, p3 := partData(1, s3api.MinPartSize), partData(2, s3api.MinPartSize), []byte("z")
	// Uploaded out of order, with a checksum and a Content-MD5.
	i3 := uploadPart(t, ms, bucket, "big", id, 3, p3)
	sum2 := md5.Sum(p2)
	i2, err := ms.UploadPart(ctx, &s3api.UploadPartInput{
		Bucket: bucket, Key: "big", UploadID: id, PartNumber: 2,
		Body: bytes.NewReader(p2), Size: -1, ContentMD5: sum2[:],
		Checksums: map[string]string{"CRC32": crc32b64(p2)},
	})
	if err != nil {
		t.Fatalf("UploadPart(2): %v", err)
	}
	checkPart(t, "UploadPart(2)", i2, 2, p2)
	if diff := cmp.Diff(map[string]string{"CRC32": crc32b64(p2)}, i2.Checksums); diff != "" {
		t.Errorf("UploadPart(2): checksums (-want +got):\n%s", diff)
	}
	i1 := uploadPart(t, ms, bucket, "big", id, 1, p1)

	// Until completion the upload is private: no object yet.
	wantAbsent(t, s, bucket, "big")

	lp, err := ms.ListParts(ctx, s3api.ListPartsInput{Bucket: bucket, Key: "big", UploadID: id, MaxParts: 1000})
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(lp.Parts) != 3 || lp.IsTruncated {
		t.Fatalf("ListParts: %d parts, truncated %v; want 3, false", len(lp.Parts), lp.IsTruncated)
	}
	for i, data := range [][]byte{p1, p2, p3} {
		checkPart(t, fmt.Sprintf("ListParts[%d]", i), &lp.Parts[i], i+1, data)
	}
	if diff := cmp.Diff(map[string]string{"CRC32": crc32b64(p2)}, lp.Parts[1].Checksums); diff != "" {
		t.Errorf("ListParts: part 2 checksums (-want +got):\n%s", diff)
	}
	if lp.ChecksumAlgorithm != "CRC32" || lp.ChecksumType != "COMPOSITE" || lp.Initiated.IsZero() {
		t.Errorf("ListParts: algorithm %q, type %q, initiated %v; want CRC32, COMPOSITE, set",
			lp.ChecksumAlgorithm, lp.ChecksumType, lp.Initiated)
	}
	// Changing a listed part does not change the stored one.
	lp.Parts[1].Checksums["CRC32"] = "changed"
	lp2, err := ms.ListParts(ctx, s3api.ListPartsInput{Bucket: bucket, Key: "big", UploadID: id, MaxParts: 1000})
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if got := lp2.Parts[1].Checksums["CRC32"]; got != crc32b64(p2) {
		t.Errorf("ListParts after changing a returned part: checksum %q, want %q", got, crc32b64(p2))
	}

	var calls int
	var gotParts []s3api.PartInfo
	var gotAlg, gotType string
	sums := map[string]string{"CRC32": "composite-value-3"}
	info, err := ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: "big", UploadID: id, Parts: completed(i1, i2, i3),
		Finalize: func(parts []s3api.PartInfo, algorithm, checksumType string) (map[string]string, error) {
			calls++
			gotParts, gotAlg, gotType = slices.Clone(parts), algorithm, checksumType
			return sums, nil
		},
	})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if calls != 1 {
		t.Errorf("Finalize called %d times, want once", calls)
	}
	if gotAlg != "CRC32" || gotType != "COMPOSITE" {
		t.Errorf("Finalize got algorithm %q, type %q; want CRC32, COMPOSITE", gotAlg, gotType)
	}
	if len(gotParts) != 3 {
		t.Fatalf("Finalize got %d parts, want 3", len(gotParts))
	}
	for i, data := range [][]byte{p1, p2, p3} {
		checkPart(t, fmt.Sprintf("Finalize part %d", i), &gotParts[i], i+1, data)
	}
	if diff := cmp.Diff(map[string]string{"CRC32": crc32b64(p2)}, gotParts[1].Checksums); diff != "" {
		t.Errorf("Finalize: part 2 checksums (-want +got):\n%s", diff)
	}
	sums["CRC32"] = "changed after completion"

	checkMultipartInfo(t, "CompleteMultipartUpload", info, bucket, "big", p1, p2, p3)
	wantMultipartObject(t, s, bucket, "big", p1, p2, p3)
	head, err := s.HeadObject(ctx, bucket, "big")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if diff := cmp.Diff(wantMeta, head.Metadata); diff != "" {
		t.Errorf("HeadObject: metadata from CreateMultipartUpload (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantTags, head.Tags); diff != "" {
		t.Errorf("HeadObject: tags from CreateMultipartUpload (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"CRC32": "composite-value-3"}, head.Checksums); diff != "" {
		t.Errorf("HeadObject: checksums from Finalize (-want +got):\n%s", diff)
	}
	// A returned record is the caller's: changing it changes nothing stored.
	head.PartSizes[0] = 1
	head.Tags["project"] = "changed"
	head.Metadata.User["a"] = "changed"
	head.Checksums["CRC32"] = "changed"
	get, _, err := s.GetObject(ctx, bucket, "big")
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	checkMultipartInfo(t, "GetObject after changing a returned record", get, bucket, "big", p1, p2, p3)
	if diff := cmp.Diff(wantTags, get.Tags); diff != "" {
		t.Errorf("GetObject after changing a returned record: tags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantMeta, get.Metadata); diff != "" {
		t.Errorf("GetObject after changing a returned record: metadata (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"CRC32": "composite-value-3"}, get.Checksums); diff != "" {
		t.Errorf("GetObject after changing a returned record: checksums (-want +got):\n%s", diff)
	}
	res, err := s.ListObjects(ctx, s3api.ListObjectsInput{Bucket: bucket, MaxKeys: 1000})
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	if len(res.Objects) != 1 || res.Objects[0].Key != "big" || res.Objects[0].ETag != multipartETag(p1, p2, p3) {
		t.Errorf("ListObjects after completion = %+v, want the one multipart object", res.Objects)
	}
	wantNoUpload(t, ms, bucket, "big", id)

	// Without Finalize, the object has no checksums; a one-part upload is
	// still a multipart object.
	id = createUpload(t, ms, bucket, "one")
	one := []byte("a single small part")
	completeUpload(t, ms, bucket, "one", id, uploadPart(t, ms, bucket, "one", id, 1, one))
	wantMultipartObject(t, s, bucket, "one", one)
	if head, err := s.HeadObject(ctx, bucket, "one"); err != nil {
		t.Errorf("HeadObject(one): %v", err)
	} else if len(head.Checksums) != 0 || len(head.Tags) != 0 {
		t.Errorf("HeadObject(one) = checksums %v, tags %v; want none", head.Checksums, head.Tags)
	}
	// Part numbers up to MaxParts are accepted.
	id = createUpload(t, ms, bucket, "last-number")
	completeUpload(t, ms, bucket, "last-number", id, uploadPart(t, ms, bucket, "last-number", id, s3api.MaxParts, one))
	wantMultipartObject(t, s, bucket, "last-number", one)

	// Completion replaces an existing object; a handle on the old version
	// keeps reading it.
	old := []byte("the version before completion")
	put(t, s, bucket, "replaced", old)
	_, oldContent, err := s.GetObject(ctx, bucket, "replaced")
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	id = createUpload(t, ms, bucket, "replaced")
	q1 := partData(3, s3api.MinPartSize)
	pi1 := uploadPart(t, ms, bucket, "replaced", id, 1, q1)
	pi2 := uploadPart(t, ms, bucket, "replaced", id, 2, one)
	wantObject(t, s, bucket, "replaced", old)
	completeUpload(t, ms, bucket, "replaced", id, pi1, pi2)
	wantMultipartObject(t, s, bucket, "replaced", q1, one)
	if got, err := readContent(ctx, oldContent, 0, int64(len(old))); err != nil || !bytes.Equal(got, old) {
		t.Errorf("handle on the version before completion reads %q, %v; want %q", got, err, old)
	}
}

func testMultipartResend(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string) {
	id := createUpload(t, ms, bucket, "k")
	a, b := partData(10, s3api.MinPartSize), partData(11, s3api.MinPartSize+1)
	ia := uploadPart(t, ms, bucket, "k", id, 1, a)
	ib := uploadPart(t, ms, bucket, "k", id, 1, b)
	last := []byte("last")
	il := uploadPart(t, ms, bucket, "k", id, 2, last)
	lp, err := ms.ListParts(t.Context(), s3api.ListPartsInput{Bucket: bucket, Key: "k", UploadID: id, MaxParts: 1000})
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(lp.Parts) != 2 {
		t.Fatalf("ListParts after a re-sent part: %d parts, want 2", len(lp.Parts))
	}
	checkPart(t, "ListParts: re-sent part", &lp.Parts[0], 1, b)
	// The replaced part's ETag no longer names a part.
	_, err = ms.CompleteMultipartUpload(t.Context(), &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: "k", UploadID: id, Parts: completed(ia, il),
	})
	wantCode(t, "CompleteMultipartUpload(replaced part's ETag)", err, s3err.ErrInvalidPart)
	wantAbsent(t, s, bucket, "k")
	completeUpload(t, ms, bucket, "k", id, ib, il)
	wantMultipartObject(t, s, bucket, "k", b, last)
}

func testMultipartConcurrent(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string) {
	const parts = 4
	id := createUpload(t, ms, bucket, "k")
	// Two senders per part number race with different bytes; the last
	// small part races too.
	data := map[string][]byte{} // ETag → bytes
	type send struct {
		n    int
		body []byte
	}
	var sends []send
	for n := 1; n <= parts; n++ {
		for v := range 2 {
			size := s3api.MinPartSize
			if n == parts {
				size = 1000 + v
			}
			b := partData(uint64(n*10+v), size)
			data[md5hex(b)] = b
			sends = append(sends, send{n, b})
		}
	}
	var wg sync.WaitGroup
	for _, sd := range sends {
		wg.Go(func() {
			p, err := ms.UploadPart(t.Context(), &s3api.UploadPartInput{
				Bucket: bucket, Key: "k", UploadID: id, PartNumber: sd.n, Body: bytes.NewReader(sd.body), Size: int64(len(sd.body)),
			})
			if err != nil {
				t.Errorf("UploadPart(%d): %v", sd.n, err)
				return
			}
			if p.PartNumber != sd.n || p.ETag != md5hex(sd.body) {
				t.Errorf("UploadPart(%d) = part %d, ETag %q; want ETag %q", sd.n, p.PartNumber, p.ETag, md5hex(sd.body))
			}
		})
	}
	// Listings race the uploads.
	for range 2 {
		wg.Go(func() {
			for range 5 {
				lp, err := ms.ListParts(t.Context(), s3api.ListPartsInput{Bucket: bucket, Key: "k", UploadID: id, MaxParts: 1000})
				if err != nil {
					t.Errorf("ListParts: %v", err)
					return
				}
				for _, p := range lp.Parts {
					if b, ok := data[p.ETag]; !ok || int64(len(b)) != p.Size {
						t.Errorf("ListParts during uploads: part %d ETag %q, Size %d is no part sent", p.PartNumber, p.ETag, p.Size)
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	lp, err := ms.ListParts(t.Context(), s3api.ListPartsInput{Bucket: bucket, Key: "k", UploadID: id, MaxParts: 1000})
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(lp.Parts) != parts {
		t.Fatalf("ListParts after concurrent uploads: %d parts, want %d", len(lp.Parts), parts)
	}
	var want [][]byte
	var list []*s3api.PartInfo
	for i := range lp.Parts {
		p := &lp.Parts[i]
		b, ok := data[p.ETag]
		if !ok || p.PartNumber != i+1 {
			t.Fatalf("ListParts[%d] = part %d, ETag %q: not one of the bodies sent for it", i, p.PartNumber, p.ETag)
		}
		want = append(want, b)
		list = append(list, p)
	}
	completeUpload(t, ms, bucket, "k", id, list...)
	wantMultipartObject(t, s, bucket, "k", want...)
}

func testMultipartSubset(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string) {
	id := createUpload(t, ms, bucket, "k")
	p1, p2 := partData(20, s3api.MinPartSize), partData(21, s3api.MinPartSize)
	p3, p5 := []byte("three"), []byte("five")
	i1 := uploadPart(t, ms, bucket, "k", id, 1, p1)
	uploadPart(t, ms, bucket, "k", id, 2, p2)
	i3 := uploadPart(t, ms, bucket, "k", id, 3, p3)
	uploadPart(t, ms, bucket, "k", id, 5, p5)
	// Parts 2 and 5 are left out; the small part 3 is last, so allowed.
	completeUpload(t, ms, bucket, "k", id, i1, i3)
	wantMultipartObject(t, s, bucket, "k", p1, p3)
	wantNoUpload(t, ms, bucket, "k", id)
}

func testUploadPartErrors(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string) {
	ctx := t.Context()
	_, err := ms.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{Bucket: "no-such-bucket", Key: "k"})
	wantCode(t, "CreateMultipartUpload(missing bucket)", err, s3err.ErrNoSuchBucket)

	id := createUpload(t, ms, bucket, "k")
	prev := uploadPart(t, ms, bucket, "k", id, 1, []byte("previous"))
	data := randomBytes(800, MiB+1)
	up := func(in s3api.UploadPartInput) error {
		if in.Bucket == "" {
			in.Bucket = bucket
		}
		if in.Key == "" {
			in.Key = "k"
		}
		if in.UploadID == "" {
			in.UploadID = id
		}
		in.PartNumber = 1
		_, err := ms.UploadPart(ctx, &in)
		return err
	}
	bad := md5.Sum([]byte("other"))
	wantCode(t, "UploadPart(missing bucket)", up(s3api.UploadPartInput{Bucket: "no-such-bucket", Body: bytes.NewReader(data), Size: -1}), s3err.ErrNoSuchBucket)
	wantCode(t, "UploadPart(unknown upload ID)", up(s3api.UploadPartInput{UploadID: "no-such-upload", Body: bytes.NewReader(data), Size: -1}), s3err.ErrNoSuchUpload)
	wantCode(t, "UploadPart(upload of another key)", up(s3api.UploadPartInput{Key: "other", Body: bytes.NewReader(data), Size: -1}), s3err.ErrNoSuchUpload)
	wantCode(t, "UploadPart(wrong Content-MD5)", up(s3api.UploadPartInput{Body: bytes.NewReader(data), Size: -1, ContentMD5: bad[:]}), s3err.ErrBadDigest)
	wantCode(t, "UploadPart(short body)", up(s3api.UploadPartInput{Body: bytes.NewReader(data[:MiB]), Size: MiB + 1}), s3err.ErrIncompleteBody)
	wantCode(t, "UploadPart(long body)", up(s3api.UploadPartInput{Body: bytes.NewReader(data), Size: MiB}), s3err.ErrIncompleteBody)
	readErr := fmt.Errorf("decode chunk: %w", s3err.ErrXAmzContentSHA256Mismatch)
	err = up(s3api.UploadPartInput{Body: &failingReader{data: data, n: MiB / 2, err: readErr}, Size: int64(len(data))})
	if !errors.Is(err, readErr) {
		t.Errorf("UploadPart with a failing body = %v, want it to wrap %v", err, readErr)
	}
	wantCode(t, "UploadPart(failing body)", err, s3err.ErrXAmzContentSHA256Mismatch)

	// None of the failures replaced part 1.
	lp, err := ms.ListParts(ctx, s3api.ListPartsInput{Bucket: bucket, Key: "k", UploadID: id, MaxParts: 1000})
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(lp.Parts) != 1 || lp.Parts[0].ETag != prev.ETag {
		t.Errorf("ListParts after failed uploads = %+v, want only the first part 1 (ETag %q)", lp.Parts, prev.ETag)
	}

	// A checksum set when the body reaches EOF is stored with the part.
	in := &s3api.UploadPartInput{Bucket: bucket, Key: "k", UploadID: id, PartNumber: 2, Size: int64(len(data))}
	in.Body = &partTrailerReader{r: bytes.NewReader(data), in: in, value: crc32b64(data)}
	p, err := ms.UploadPart(ctx, in)
	if err != nil {
		t.Fatalf("UploadPart(trailer checksum): %v", err)
	}
	if diff := cmp.Diff(map[string]string{"CRC32": crc32b64(data)}, p.Checksums); diff != "" {
		t.Errorf("UploadPart: checksum set at EOF (-want +got):\n%s", diff)
	}
	_, err = ms.ListParts(ctx, s3api.ListPartsInput{Bucket: "no-such-bucket", Key: "k", UploadID: id, MaxParts: 1000})
	wantCode(t, "ListParts(missing bucket)", err, s3err.ErrNoSuchBucket)
	_, err = ms.ListParts(ctx, s3api.ListPartsInput{Bucket: bucket, Key: "k", UploadID: "no-such-upload", MaxParts: 1000})
	wantCode(t, "ListParts(unknown upload ID)", err, s3err.ErrNoSuchUpload)
	err = ms.AbortMultipartUpload(ctx, "no-such-bucket", "k", id)
	wantCode(t, "AbortMultipartUpload(missing bucket)", err, s3err.ErrNoSuchBucket)
	_, err = ms.ListMultipartUploads(ctx, s3api.ListMultipartUploadsInput{Bucket: "no-such-bucket", MaxUploads: 1000})
	wantCode(t, "ListMultipartUploads(missing bucket)", err, s3err.ErrNoSuchBucket)
}

// partTrailerReader sets a checksum in its input when the body reaches EOF.
type partTrailerReader struct {
	r     *bytes.Reader
	in    *s3api.UploadPartInput
	value string
}

func (tr *partTrailerReader) Read(p []byte) (int, error) {
	n, err := tr.r.Read(p)
	if errors.Is(err, io.EOF) {
		tr.in.Checksums = map[string]string{"CRC32": tr.value}
	}
	return n, err
}

func testCompletionErrors(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string) {
	ctx := t.Context()
	big1, big2 := partData(30, s3api.MinPartSize), partData(31, s3api.MinPartSize)
	small := partData(32, s3api.MinPartSize-1)
	tiny := []byte("tiny")
	// Parts 1, 2: MinPartSize; 3: one byte less; 4: tiny.
	id := createUpload(t, ms, bucket, "k")
	infos := []*s3api.PartInfo{
		nil,
		uploadPart(t, ms, bucket, "k", id, 1, big1),
		uploadPart(t, ms, bucket, "k", id, 2, big2),
		uploadPart(t, ms, bucket, "k", id, 3, small),
		uploadPart(t, ms, bucket, "k", id, 4, tiny),
	}
	cp := func(n int) s3api.CompletedPart { return s3api.CompletedPart{PartNumber: n, ETag: infos[n].ETag} }
	cases := []struct {
		name  string
		parts []s3api.CompletedPart
		code  s3err.Code
	}{
		{"missing part", []s3api.CompletedPart{cp(1), {PartNumber: 5, ETag: md5hex(tiny)}}, s3err.ErrInvalidPart},
		{"ETag of another part", []s3api.CompletedPart{cp(1), {PartNumber: 2, ETag: infos[1].ETag}}, s3err.ErrInvalidPart},
		{"made-up ETag", []s3api.CompletedPart{cp(1), {PartNumber: 4, ETag: md5hex([]byte("nope"))}}, s3err.ErrInvalidPart},
		{"missing part before disorder", []s3api.CompletedPart{cp(2), cp(1), {PartNumber: 9, ETag: md5hex(tiny)}}, s3err.ErrInvalidPart},
		{"descending", []s3api.CompletedPart{cp(2), cp(1)}, s3err.ErrInvalidPartOrder},
		{"repeated", []s3api.CompletedPart{cp(1), cp(1), cp(4)}, s3err.ErrInvalidPartOrder},
		{"disorder before small part", []s3api.CompletedPart{cp(1), cp(4), cp(3)}, s3err.ErrInvalidPartOrder},
		{"small part not last", []s3api.CompletedPart{cp(1), cp(3), cp(4)}, s3err.ErrEntityTooSmall},
		{"missing last part", []s3api.CompletedPart{cp(4), {PartNumber: 5, ETag: infos[4].ETag}}, s3err.ErrInvalidPart},
		{"first part small", []s3api.CompletedPart{cp(3), cp(4)}, s3err.ErrEntityTooSmall},
	}
	for _, c := range cases {
		calls := 0
		_, err := ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
			Bucket: bucket, Key: "k", UploadID: id, Parts: c.parts,
			Finalize: func([]s3api.PartInfo, string, string) (map[string]string, error) {
				calls++
				return nil, nil
			},
		})
		wantCode(t, "CompleteMultipartUpload("+c.name+")", err, c.code)
		if calls != 0 {
			t.Errorf("CompleteMultipartUpload(%s): Finalize called before validation failed", c.name)
		}
		wantAbsent(t, s, bucket, "k")
		wantUpload(t, ms, bucket, "k", id)
	}
	// Every part survived the failed completions.
	lp, err := ms.ListParts(ctx, s3api.ListPartsInput{Bucket: bucket, Key: "k", UploadID: id, MaxParts: 1000})
	if err != nil || len(lp.Parts) != 4 {
		t.Fatalf("ListParts after failed completions = %d parts, %v; want 4", len(lp.Parts), err)
	}

	_, err = ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: "no-such-bucket", Key: "k", UploadID: id, Parts: []s3api.CompletedPart{cp(4)},
	})
	wantCode(t, "CompleteMultipartUpload(missing bucket)", err, s3err.ErrNoSuchBucket)
	_, err = ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: "k", UploadID: "no-such-upload", Parts: []s3api.CompletedPart{cp(4)},
	})
	wantCode(t, "CompleteMultipartUpload(unknown upload ID)", err, s3err.ErrNoSuchUpload)
	_, err = ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: "other", UploadID: id, Parts: []s3api.CompletedPart{cp(4)},
	})
	wantCode(t, "CompleteMultipartUpload(upload of another key)", err, s3err.ErrNoSuchUpload)
	wantAbsent(t, s, bucket, "other")

	// Quoted ETags, as clients send them, name the same parts.
	_, err = ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: "k", UploadID: id,
		Parts: []s3api.CompletedPart{cp(1), cp(2), {PartNumber: 3, ETag: `"` + infos[3].ETag + `"`}},
	})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload(valid after failures): %v", err)
	}
	wantMultipartObject(t, s, bucket, "k", big1, big2, small)
	wantNoUpload(t, ms, bucket, "k", id)
	// A later completion of the same ID changes nothing.
	_, err = ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: "k", UploadID: id, Parts: []s3api.CompletedPart{cp(4)},
	})
	wantCode(t, "CompleteMultipartUpload(completed upload)", err, s3err.ErrNoSuchUpload)
	wantMultipartObject(t, s, bucket, "k", big1, big2, small)
}

func testCompletionConditions(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string) {
	ctx := t.Context()
	body := []byte("multipart body")
	prev := []byte("existing")
	put(t, s, bucket, "k", prev)
	id := createUpload(t, ms, bucket, "k")
	p := uploadPart(t, ms, bucket, "k", id, 1, body)
	try := func(c s3api.PutConditions) error {
		_, err := ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
			Bucket: bucket, Key: "k", UploadID: id, Parts: completed(p), Conditions: c,
		})
		return err
	}
	wantCode(t, "CompleteMultipartUpload(If-None-Match *, existing key)", try(s3api.PutConditions{IfNoneMatch: "*"}), s3err.ErrPreconditionFailed)
	wantObject(t, s, bucket, "k", prev)
	wantUpload(t, ms, bucket, "k", id)
	wantCode(t, "CompleteMultipartUpload(If-Match, other ETag)", try(s3api.PutConditions{IfMatch: md5hex(body)}), s3err.ErrPreconditionFailed)
	wantObject(t, s, bucket, "k", prev)
	wantUpload(t, ms, bucket, "k", id)
	if err := try(s3api.PutConditions{IfMatch: md5hex(prev)}); err != nil {
		t.Fatalf("CompleteMultipartUpload(If-Match, current ETag): %v", err)
	}
	wantMultipartObject(t, s, bucket, "k", body)

	id = createUpload(t, ms, bucket, "fresh")
	p = uploadPart(t, ms, bucket, "fresh", id, 1, body)
	if _, err := ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: "fresh", UploadID: id, Parts: completed(p), Conditions: s3api.PutConditions{IfNoneMatch: "*"},
	}); err != nil {
		t.Fatalf("CompleteMultipartUpload(If-None-Match *, missing key): %v", err)
	}
	wantMultipartObject(t, s, bucket, "fresh", body)
}

func testFinalizeError(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string) {
	ctx := t.Context()
	prev := []byte("existing")
	put(t, s, bucket, "k", prev)
	id := createUpload(t, ms, bucket, "k")
	p1 := partData(40, s3api.MinPartSize)
	p2 := []byte("end")
	i1 := uploadPart(t, ms, bucket, "k", id, 1, p1)
	i2 := uploadPart(t, ms, bucket, "k", id, 2, p2)
	finalizeErr := fmt.Errorf("composite checksum: %w", s3err.ErrBadDigest)
	_, err := ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: "k", UploadID: id, Parts: completed(i1, i2),
		Finalize: func([]s3api.PartInfo, string, string) (map[string]string, error) { return nil, finalizeErr },
	})
	if !errors.Is(err, finalizeErr) {
		t.Errorf("CompleteMultipartUpload with a failing Finalize = %v, want it to wrap %v", err, finalizeErr)
	}
	wantCode(t, "CompleteMultipartUpload(failing Finalize)", err, s3err.ErrBadDigest)
	wantObject(t, s, bucket, "k", prev)
	wantUpload(t, ms, bucket, "k", id)
	completeUpload(t, ms, bucket, "k", id, i1, i2)
	wantMultipartObject(t, s, bucket, "k", p1, p2)
}

func testMultipartAbort(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string) {
	ctx := t.Context()
	prev := []byte("existing")
	put(t, s, bucket, "k", prev)
	a := createUpload(t, ms, bucket, "k")
	b := createUpload(t, ms, bucket, "k")
	pa := uploadPart(t, ms, bucket, "k", a, 1, []byte("a"))
	pb := uploadPart(t, ms, bucket, "k", b, 1, []byte("b"))
	if err := ms.AbortMultipartUpload(ctx, bucket, "other", a); err == nil {
		t.Errorf("AbortMultipartUpload of another key's upload succeeded")
	} else {
		wantCode(t, "AbortMultipartUpload(upload of another key)", err, s3err.ErrNoSuchUpload)
	}
	if err := ms.AbortMultipartUpload(ctx, bucket, "k", a); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	wantNoUpload(t, ms, bucket, "k", a)
	_, err := ms.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: "k", UploadID: a, Parts: completed(pa),
	})
	wantCode(t, "CompleteMultipartUpload(aborted upload)", err, s3err.ErrNoSuchUpload)
	wantObject(t, s, bucket, "k", prev)
	// The other upload of the key is untouched.
	wantUpload(t, ms, bucket, "k", b)
	completeUpload(t, ms, bucket, "k", b, pb)
	wantMultipartObject(t, s, bucket, "k", []byte("b"))
	if ids := uploadIDs(t, ms, bucket, "k"); len(ids) != 0 {
		t.Errorf("ListMultipartUploads after abort and completion = %q, want none", ids)
	}
}
