package s3apitest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// sizes are object sizes around the usual 1 MiB chunk and block boundaries.
var sizes = []int{0, 1, MiB - 1, MiB, MiB + 1, 3*MiB + MiB/2 + 7}

func testRoundTrip(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	for i, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			key := fmt.Sprintf("obj-%d", n)
			data := randomBytes(uint64(i), n)
			info := put(t, s, "bucket", key, data)
			checkInfo(t, "PutObject", info, "bucket", key, data)

			head, err := s.HeadObject(t.Context(), "bucket", key)
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			checkInfo(t, "HeadObject", head, "bucket", key, data)

			got, c, err := s.GetObject(t.Context(), "bucket", key)
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			checkInfo(t, "GetObject", got, "bucket", key, data)
			if diff := cmp.Diff(head, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("HeadObject and GetObject records differ (-head +get):\n%s", diff)
			}
			if !got.LastModified.Equal(head.LastModified) {
				t.Errorf("LastModified: head %v, get %v", head.LastModified, got.LastModified)
			}
			b, err := readContent(t.Context(), c, 0, int64(n))
			if err != nil {
				t.Fatalf("GetObject content: %v", err)
			}
			if !bytes.Equal(b, data) {
				t.Errorf("GetObject content: %d bytes (md5 %s), want %d bytes (md5 %s)", len(b), md5hex(b), n, md5hex(data))
			}
		})
	}
}

// checkInfo checks the parts of a record that follow from the content.
func checkInfo(t *testing.T, what string, info *s3api.ObjectInfo, bucket, key string, data []byte) {
	t.Helper()
	if info == nil {
		t.Fatalf("%s: nil record", what)
	}
	if info.Bucket != bucket || info.Key != key {
		t.Errorf("%s: record names %q/%q, want %q/%q", what, info.Bucket, info.Key, bucket, key)
	}
	if info.Size != int64(len(data)) {
		t.Errorf("%s: Size %d, want %d", what, info.Size, len(data))
	}
	if want := md5hex(data); info.ETag != want {
		t.Errorf("%s: ETag %q, want hex MD5 %q", what, info.ETag, want)
	}
	if info.LastModified.IsZero() {
		t.Errorf("%s: LastModified not set", what)
	}
}

func testUnknownSize(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	for i, n := range []int{0, 1, MiB + 1} {
		key := fmt.Sprintf("unknown-%d", n)
		data := randomBytes(uint64(100+i), n)
		// A reader that returns one byte at a time for small bodies and
		// short reads otherwise, with the size announced as unknown.
		var body io.Reader = iotest.HalfReader(bytes.NewReader(data))
		if n < 1024 {
			body = iotest.OneByteReader(bytes.NewReader(data))
		}
		info, err := s.PutObject(t.Context(), &s3api.PutObjectInput{Bucket: "bucket", Key: key, Body: body, Size: -1})
		if err != nil {
			t.Fatalf("PutObject(Size -1, %d bytes): %v", n, err)
		}
		checkInfo(t, "PutObject(Size -1)", info, "bucket", key, data)
		wantObject(t, s, "bucket", key, data)
	}
}

func testContentOpen(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	for i, n := range []int{1, MiB + 1, 3*MiB + MiB/2 + 7} {
		data := randomBytes(uint64(200+i), n)
		key := fmt.Sprintf("ranged-%d", n)
		put(t, s, "bucket", key, data)
		_, c, err := s.GetObject(t.Context(), "bucket", key)
		if err != nil {
			t.Fatalf("GetObject: %v", err)
		}
		size := int64(n)
		ranges := []struct {
			name        string
			off, length int64
		}{
			{"whole", 0, size},
			{"first byte", 0, 1},
			{"last byte", size - 1, 1},
			{"zero length at start", 0, 0},
			{"zero length at end", size, 0},
			{"middle", size / 3, size / 3},
			{"tail", size / 2, size - size/2},
			{"across 1 MiB", max(0, MiB-5), min(10, size-max(0, MiB-5))},
		}
		for _, r := range ranges {
			if r.off < 0 || r.length < 0 || r.off+r.length > size {
				continue
			}
			t.Run(fmt.Sprintf("%d/%s", n, r.name), func(t *testing.T) {
				got, err := readContent(t.Context(), c, r.off, r.length)
				if err != nil {
					t.Fatal(err)
				}
				if want := data[r.off : r.off+r.length]; !bytes.Equal(got, want) {
					t.Errorf("Open(%d, %d): %d bytes (md5 %s), want %d bytes (md5 %s)",
						r.off, r.length, len(got), md5hex(got), len(want), md5hex(want))
				}
			})
		}
		// The same handle opened twice reads the same bytes.
		a, err := readContent(t.Context(), c, 0, size)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, data) {
			t.Errorf("second Open of %q: content differs", key)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func crc32b64(data []byte) string {
	h := crc32.NewIEEE()
	h.Write(data)
	return b64(h.Sum(nil))
}

func testMetadata(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	data := []byte("metadata body")
	meta := s3api.ObjectMetadata{
		ContentType:        "text/plain; charset=utf-8",
		ContentEncoding:    "identity",
		ContentDisposition: `attachment; filename="a b.txt"`,
		ContentLanguage:    "fr-CA",
		CacheControl:       "max-age=60, private",
		Expires:            "Thu, 01 Dec 1994 16:00:00 GMT",
		User:               map[string]string{"color": "blue", "empty": "", "multi-word": "a, b ; c", "utf8": "é𝄞"},
	}
	sha := sha256.Sum256(data)
	checksums := map[string]string{"CRC32": crc32b64(data), "SHA256": b64(sha[:])}
	in := &s3api.PutObjectInput{
		Bucket: "bucket", Key: "meta", Body: bytes.NewReader(data), Size: int64(len(data)),
		Metadata: meta, Checksums: checksums,
	}
	info, err := s.PutObject(t.Context(), in)
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	// The store keeps its own copy: later changes to the input don't show.
	in.Metadata.User["color"] = "red"
	in.Checksums["CRC32"] = "changed"
	wantMeta := meta
	wantMeta.User = map[string]string{"color": "blue", "empty": "", "multi-word": "a, b ; c", "utf8": "é𝄞"}
	wantSums := map[string]string{"CRC32": crc32b64(data), "SHA256": b64(sha[:])}

	check := func(what string, got *s3api.ObjectInfo) {
		t.Helper()
		if diff := cmp.Diff(wantMeta, got.Metadata); diff != "" {
			t.Errorf("%s: metadata (-want +got):\n%s", what, diff)
		}
		if _, ok := got.Metadata.User["empty"]; !ok {
			t.Errorf("%s: user metadata with an empty value was dropped", what)
		}
		if diff := cmp.Diff(wantSums, got.Checksums); diff != "" {
			t.Errorf("%s: checksums (-want +got):\n%s", what, diff)
		}
	}
	check("PutObject", info)
	head, err := s.HeadObject(t.Context(), "bucket", "meta")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	check("HeadObject", head)
	// Changing a returned record does not change the stored one.
	head.Metadata.User["color"] = "green"
	if head.Checksums != nil {
		head.Checksums["SHA256"] = "changed"
	}
	get, _, err := s.GetObject(t.Context(), "bucket", "meta")
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	check("GetObject", get)

	// Without metadata or checksums, none come back.
	put(t, s, "bucket", "plain", data)
	plain, err := s.HeadObject(t.Context(), "bucket", "plain")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if diff := cmp.Diff(s3api.ObjectMetadata{}, plain.Metadata, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("HeadObject(plain): metadata (-want +got):\n%s", diff)
	}
	if len(plain.Checksums) != 0 {
		t.Errorf("HeadObject(plain): checksums %v, want none", plain.Checksums)
	}
	// An overwrite replaces metadata; it does not merge.
	if _, err := s.PutObject(t.Context(), &s3api.PutObjectInput{
		Bucket: "bucket", Key: "meta", Body: bytes.NewReader(data), Size: int64(len(data)),
		Metadata: s3api.ObjectMetadata{User: map[string]string{"other": "1"}},
	}); err != nil {
		t.Fatalf("PutObject(overwrite): %v", err)
	}
	over, err := s.HeadObject(t.Context(), "bucket", "meta")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	wantOver := s3api.ObjectMetadata{User: map[string]string{"other": "1"}}
	if diff := cmp.Diff(wantOver, over.Metadata, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("HeadObject(overwritten): metadata (-want +got):\n%s", diff)
	}
	if len(over.Checksums) != 0 {
		t.Errorf("HeadObject(overwritten): checksums %v, want none", over.Checksums)
	}
}

// trailerReader sets a checksum in its input when the body reaches EOF, as
// the HTTP layer does for a checksum sent in a trailer.
type trailerReader struct {
	r     io.Reader
	in    *s3api.PutObjectInput
	value string
}

func (tr *trailerReader) Read(p []byte) (int, error) {
	n, err := tr.r.Read(p)
	if errors.Is(err, io.EOF) {
		if tr.in.Checksums == nil {
			tr.in.Checksums = map[string]string{}
		}
		tr.in.Checksums["CRC32"] = tr.value
	}
	return n, err
}

func testTrailerChecksum(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	for _, size := range []int64{-1, MiB + 1} {
		data := randomBytes(300, MiB+1)
		in := &s3api.PutObjectInput{Bucket: "bucket", Key: "trailer", Size: size}
		in.Body = &trailerReader{r: bytes.NewReader(data), in: in, value: crc32b64(data)}
		info, err := s.PutObject(t.Context(), in)
		if err != nil {
			t.Fatalf("PutObject(Size %d): %v", size, err)
		}
		want := map[string]string{"CRC32": crc32b64(data)}
		if diff := cmp.Diff(want, info.Checksums); diff != "" {
			t.Errorf("PutObject(Size %d): checksums set at EOF (-want +got):\n%s", size, diff)
		}
		head, err := s.HeadObject(t.Context(), "bucket", "trailer")
		if err != nil {
			t.Fatalf("HeadObject: %v", err)
		}
		if diff := cmp.Diff(want, head.Checksums); diff != "" {
			t.Errorf("HeadObject after Size %d: checksums set at EOF (-want +got):\n%s", size, diff)
		}
	}
}

func testOverwrite(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	v1 := randomBytes(400, MiB+1)
	v2 := randomBytes(401, 3)
	v3 := randomBytes(402, 2*MiB+3)
	put(t, s, "bucket", "k", v1)
	_, c1, err := s.GetObject(t.Context(), "bucket", "k")
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	put(t, s, "bucket", "k", v2)
	wantObject(t, s, "bucket", "k", v2)
	_, c2, err := s.GetObject(t.Context(), "bucket", "k")
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	put(t, s, "bucket", "k", v3)
	wantObject(t, s, "bucket", "k", v3)
	if err := s.DeleteObject(t.Context(), "bucket", "k"); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	// Handles opened before the overwrites and the delete still read their
	// own version.
	for _, h := range []struct {
		name string
		c    s3api.Content
		data []byte
	}{{"v1", c1, v1}, {"v2", c2, v2}} {
		got, err := readContent(t.Context(), h.c, 0, int64(len(h.data)))
		if err != nil {
			t.Errorf("%s handle after overwrite and delete: %v", h.name, err)
			continue
		}
		if !bytes.Equal(got, h.data) {
			t.Errorf("%s handle after overwrite and delete: content changed (md5 %s, want %s)", h.name, md5hex(got), md5hex(h.data))
		}
		last, err := readContent(t.Context(), h.c, int64(len(h.data))-1, 1)
		if err != nil || !bytes.Equal(last, h.data[len(h.data)-1:]) {
			t.Errorf("%s handle: last byte = %x, %v; want %x", h.name, last, err, h.data[len(h.data)-1:])
		}
	}
	res, err := s.ListObjects(t.Context(), s3api.ListObjectsInput{Bucket: "bucket", MaxKeys: 1000})
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	if len(res.Objects) != 0 {
		t.Errorf("ListObjects after delete: %d objects, want 0", len(res.Objects))
	}
}

func testDelete(t *testing.T, s s3api.ObjectStore) {
	ctx := t.Context()
	createBucket(t, s, "bucket")
	if err := s.DeleteObject(ctx, "bucket", "never"); err != nil {
		t.Errorf("DeleteObject(missing key) = %v, want success", err)
	}
	put(t, s, "bucket", "a", []byte("a"))
	put(t, s, "bucket", "a/b", []byte("ab"))
	put(t, s, "bucket", "b", []byte("b"))
	if err := s.DeleteObject(ctx, "bucket", "a"); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	wantAbsent(t, s, "bucket", "a")
	// Neighbours, including keys the deleted key is a prefix of, remain.
	wantObject(t, s, "bucket", "a/b", []byte("ab"))
	wantObject(t, s, "bucket", "b", []byte("b"))
	if err := s.DeleteObject(ctx, "bucket", "a"); err != nil {
		t.Errorf("DeleteObject(deleted key) = %v, want success", err)
	}
	res, err := s.ListObjects(ctx, s3api.ListObjectsInput{Bucket: "bucket", MaxKeys: 1000})
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	if got := objectKeys(res); strings.Join(got, ",") != "a/b,b" {
		t.Errorf("ListObjects after delete = %q, want [a/b b]", got)
	}
	// A deleted key can be written again.
	put(t, s, "bucket", "a", []byte("again"))
	wantObject(t, s, "bucket", "a", []byte("again"))
}

func objectKeys(res *s3api.ListObjectsResult) []string {
	var keys []string
	for _, o := range res.Objects {
		keys = append(keys, o.Key)
	}
	return keys
}

// failingReader returns the first n bytes of data and then fails with err.
type failingReader struct {
	data []byte
	n    int
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := copy(p[:min(len(p), f.n)], f.data)
	f.data, f.n = f.data[k:], f.n-k
	return k, nil
}

func testReadError(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	prev := randomBytes(500, 1000)
	put(t, s, "bucket", "existing", prev)
	other := errors.New("connection reset by peer")
	failures := []struct {
		name string
		err  error
		code s3err.Code // "" for a plain error
	}{
		{"s3err.Error", &s3err.Error{Code: s3err.ErrXAmzContentSHA256Mismatch, Message: "chunk signature"}, s3err.ErrXAmzContentSHA256Mismatch},
		{"s3err.Code", s3err.ErrSignatureDoesNotMatch, s3err.ErrSignatureDoesNotMatch},
		{"wrapped code", fmt.Errorf("decode chunk: %w", s3err.ErrBadDigest), s3err.ErrBadDigest},
		{"plain", other, ""},
	}
	body := randomBytes(501, 2*MiB+10)
	for _, f := range failures {
		for _, after := range []int{0, 100, MiB + 5} {
			for _, size := range []int64{-1, int64(len(body))} {
				for _, key := range []string{"existing", "fresh"} {
					name := fmt.Sprintf("%s/after%d/size%d/%s", f.name, after, size, key)
					t.Run(name, func(t *testing.T) {
						_, err := s.PutObject(t.Context(), &s3api.PutObjectInput{
							Bucket: "bucket", Key: key, Size: size,
							Body: &failingReader{data: body, n: after, err: f.err},
						})
						if err == nil {
							t.Fatalf("PutObject with a failing body succeeded")
						}
						if !errors.Is(err, f.err) {
							t.Errorf("PutObject error %v does not wrap the read error %v", err, f.err)
						}
						if f.code != "" {
							wantCode(t, "PutObject", err, f.code)
						}
						if key == "existing" {
							wantObject(t, s, "bucket", key, prev)
						} else {
							wantAbsent(t, s, "bucket", key)
						}
					})
				}
			}
		}
	}
}

func testContentMD5(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	prev := []byte("previous")
	put(t, s, "bucket", "k", prev)
	data := randomBytes(600, MiB+1)
	good := md5.Sum(data)
	bad := md5.Sum([]byte("something else"))
	_, err := s.PutObject(t.Context(), &s3api.PutObjectInput{
		Bucket: "bucket", Key: "k", Body: bytes.NewReader(data), Size: int64(len(data)), ContentMD5: bad[:],
	})
	wantCode(t, "PutObject(wrong Content-MD5)", err, s3err.ErrBadDigest)
	wantObject(t, s, "bucket", "k", prev)
	_, err = s.PutObject(t.Context(), &s3api.PutObjectInput{
		Bucket: "bucket", Key: "new", Body: bytes.NewReader(data), Size: -1, ContentMD5: bad[:],
	})
	wantCode(t, "PutObject(wrong Content-MD5, new key)", err, s3err.ErrBadDigest)
	wantAbsent(t, s, "bucket", "new")

	info, err := s.PutObject(t.Context(), &s3api.PutObjectInput{
		Bucket: "bucket", Key: "k", Body: bytes.NewReader(data), Size: int64(len(data)), ContentMD5: good[:],
	})
	if err != nil {
		t.Fatalf("PutObject(right Content-MD5): %v", err)
	}
	checkInfo(t, "PutObject(right Content-MD5)", info, "bucket", "k", data)
	wantObject(t, s, "bucket", "k", data)

	empty := md5.Sum(nil)
	if _, err := s.PutObject(t.Context(), &s3api.PutObjectInput{
		Bucket: "bucket", Key: "empty", Body: bytes.NewReader(nil), Size: 0, ContentMD5: empty[:],
	}); err != nil {
		t.Errorf("PutObject(empty, right Content-MD5): %v", err)
	}
}

func testIncompleteBody(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	prev := []byte("previous")
	put(t, s, "bucket", "existing", prev)
	data := randomBytes(700, MiB+2)
	cases := []struct {
		name string
		body []byte
		size int64
	}{
		{"short by one", data[:MiB], MiB + 1},
		{"long by one", data[:MiB+2], MiB + 1},
		{"empty, announced one", nil, 1},
		{"one, announced empty", data[:1], 0},
		{"small short", data[:9], 10},
		{"small long", data[:11], 10},
	}
	for _, c := range cases {
		for _, key := range []string{"existing", "fresh"} {
			t.Run(c.name+"/"+key, func(t *testing.T) {
				_, err := s.PutObject(t.Context(), &s3api.PutObjectInput{
					Bucket: "bucket", Key: key, Body: bytes.NewReader(c.body), Size: c.size,
				})
				wantCode(t, "PutObject", err, s3err.ErrIncompleteBody)
				if key == "existing" {
					wantObject(t, s, "bucket", key, prev)
				} else {
					wantAbsent(t, s, "bucket", key)
				}
			})
		}
	}
}

func testPutConditions(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	putIf := func(key string, data []byte, c s3api.PutConditions) (*s3api.ObjectInfo, error) {
		return s.PutObject(t.Context(), &s3api.PutObjectInput{
			Bucket: "bucket", Key: key, Body: bytes.NewReader(data), Size: int64(len(data)), Conditions: c,
		})
	}
	v1, v2, v3 := []byte("one"), []byte("two"), []byte("three")

	if _, err := putIf("k", v1, s3api.PutConditions{IfNoneMatch: "*"}); err != nil {
		t.Fatalf("PutObject(If-None-Match *, missing key): %v", err)
	}
	_, err := putIf("k", v2, s3api.PutConditions{IfNoneMatch: "*"})
	wantCode(t, "PutObject(If-None-Match *, existing key)", err, s3err.ErrPreconditionFailed)
	wantObject(t, s, "bucket", "k", v1)

	_, err = putIf("missing", v1, s3api.PutConditions{IfMatch: md5hex(v1)})
	wantCode(t, "PutObject(If-Match, missing key)", err, s3err.ErrNoSuchKey)
	wantAbsent(t, s, "bucket", "missing")

	_, err = putIf("k", v2, s3api.PutConditions{IfMatch: md5hex(v3)})
	wantCode(t, "PutObject(If-Match, other ETag)", err, s3err.ErrPreconditionFailed)
	wantObject(t, s, "bucket", "k", v1)

	if _, err := putIf("k", v2, s3api.PutConditions{IfMatch: md5hex(v1)}); err != nil {
		t.Fatalf("PutObject(If-Match, current ETag): %v", err)
	}
	wantObject(t, s, "bucket", "k", v2)
	// If-None-Match with an ETag fails when the current version has it.
	_, err = putIf("k", v3, s3api.PutConditions{IfNoneMatch: md5hex(v2)})
	wantCode(t, "PutObject(If-None-Match current ETag)", err, s3err.ErrPreconditionFailed)
	wantObject(t, s, "bucket", "k", v2)
	if _, err := putIf("k", v2, s3api.PutConditions{IfNoneMatch: md5hex(v1)}); err != nil {
		t.Fatalf("PutObject(If-None-Match other ETag): %v", err)
	}
	if _, err := putIf("fresh", v1, s3api.PutConditions{IfNoneMatch: md5hex(v1)}); err != nil {
		t.Fatalf("PutObject(If-None-Match ETag, missing key): %v", err)
	}
	// The ETag v1 is now stale.
	_, err = putIf("k", v3, s3api.PutConditions{IfMatch: md5hex(v1)})
	wantCode(t, "PutObject(If-Match, stale ETag)", err, s3err.ErrPreconditionFailed)
	wantObject(t, s, "bucket", "k", v2)

	// After a delete, If-None-Match * succeeds again.
	if err := s.DeleteObject(t.Context(), "bucket", "k"); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if _, err := putIf("k", v3, s3api.PutConditions{IfNoneMatch: "*"}); err != nil {
		t.Fatalf("PutObject(If-None-Match *, deleted key): %v", err)
	}
	wantObject(t, s, "bucket", "k", v3)
}

// AwkwardKeys is a corpus of keys that stores and HTTP layers are known to
// mangle: non-BMP UTF-8, spaces, URL-escape look-alikes, path segments that
// a cleaner would collapse, control characters and a 1024-byte key. Every
// one is a distinct key.
var AwkwardKeys = []string{
	"𝄞",
	"日本語/ファイル.txt",
	"é",
	"e\u0301", // e + combining acute: not normalised, distinct from "é"
	"a b",
	" leading and trailing ",
	"a+b",
	"a%b",
	"a%2Fb",
	"a%20b",
	"a;b",
	"a=b&c",
	"a?b#c",
	"a//b",
	"//",
	"/leading",
	"..",
	"../x",
	"a/../b",
	"./a",
	"x/",
	"x",
	"\x01",
	"a\tb",
	"a\\b",
	"*",
	"'\"<>",
	strings.Repeat("k", 1024),
}

func testKeys(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	seen := map[string]bool{}
	for _, k := range AwkwardKeys {
		if seen[k] {
			t.Fatalf("corpus holds %q twice", k)
		}
		seen[k] = true
		put(t, s, "bucket", k, []byte("content of "+k))
	}
	for _, k := range AwkwardKeys {
		info, err := s.HeadObject(t.Context(), "bucket", k)
		if err != nil {
			t.Errorf("HeadObject(%q): %v", k, err)
			continue
		}
		if info.Key != k {
			t.Errorf("HeadObject(%q) names key %q", k, info.Key)
		}
		wantObject(t, s, "bucket", k, []byte("content of "+k))
	}
	want := sortedCopy(AwkwardKeys)
	res, err := s.ListObjects(t.Context(), s3api.ListObjectsInput{Bucket: "bucket", MaxKeys: 1000})
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	if diff := cmp.Diff(want, objectKeys(res)); diff != "" {
		t.Errorf("ListObjects: keys in byte order (-want +got):\n%s", diff)
	}
	// Listing with a delimiter agrees with the reference.
	for _, delim := range []string{"/", "%", "."} {
		ref := referenceList(want, s3api.ListObjectsInput{Delimiter: delim, MaxKeys: 1000})
		res, err := s.ListObjects(t.Context(), s3api.ListObjectsInput{Bucket: "bucket", Delimiter: delim, MaxKeys: 1000})
		if err != nil {
			t.Fatalf("ListObjects(delimiter %q): %v", delim, err)
		}
		compareList(t, fmt.Sprintf("ListObjects(delimiter %q)", delim), ref, res)
	}
	for _, k := range AwkwardKeys {
		if err := s.DeleteObject(t.Context(), "bucket", k); err != nil {
			t.Errorf("DeleteObject(%q): %v", k, err)
		}
	}
	res, err = s.ListObjects(t.Context(), s3api.ListObjectsInput{Bucket: "bucket", MaxKeys: 1000})
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	if len(res.Objects) != 0 {
		t.Errorf("ListObjects after deleting the corpus: %q left", objectKeys(res))
	}
}
