package integration

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestAWSSDK exercises the operations s3mesh serves with aws-sdk-go-v2 in
// each checksum mode.
func TestAWSSDK(t *testing.T) {
	srv := startS3(t, "")
	for _, m := range sdkModes {
		t.Run(m.name, func(t *testing.T) {
			c := newSDK(srv, m, testAccessKey, testSecretKey)
			tests := []struct {
				name string
				fn   func(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string)
			}{
				{"Buckets", sdkBuckets},
				{"PutObject", sdkPutObject},
				{"Range", sdkRange},
				{"Conditionals", sdkConditionals},
				{"ResponseOverrides", sdkResponseOverrides},
				{"DeleteObjects", sdkDeleteObjects},
				{"ListObjects", sdkListObjectsV1},
				{"ListObjectsV2", sdkListObjectsV2},
				{"Presigned", sdkPresigned},
				{"Errors", sdkErrors},
				{"Uploader", sdkUploader},
			}
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					bucket := bucketName(fmt.Sprintf("t%d", i), m.name)
					if tt.name != "Buckets" {
						if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
							t.Fatalf("CreateBucket(%s): %v", bucket, err)
						}
					}
					tt.fn(t, srv, m, c, bucket)
				})
			}
		})
	}
}

func sdkPut(t *testing.T, c *s3.Client, bucket, key string, data []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("PutObject(%s/%s): %v", bucket, key, err)
	}
	return out
}

func sdkBuckets(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string) {
	ctx := t.Context()
	b1, b2 := bucket+"-a", bucket+"-b"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b2}); err != nil {
		t.Fatalf("CreateBucket without LocationConstraint: %v", err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    &b1,
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(srv.Region)},
	}); err != nil {
		t.Fatalf("CreateBucket with LocationConstraint %s: %v", srv.Region, err)
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b1})
	wantSDKError(t, "CreateBucket(existing)", err, "BucketAlreadyOwnedByYou", 409)
	bad := bucket + "-c"
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    &bad,
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1},
	})
	wantSDKError(t, "CreateBucket(other region)", err, "InvalidLocationConstraint", 400)

	for _, b := range []string{b1, b2} {
		if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &b}); err != nil {
			t.Errorf("HeadBucket(%s): %v", b, err)
		}
		loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: &b})
		if err != nil {
			t.Errorf("GetBucketLocation(%s): %v", b, err)
		} else if loc.LocationConstraint != "" {
			t.Errorf("GetBucketLocation(%s) = %q, want \"\" for us-east-1", b, loc.LocationConstraint)
		}
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bad})
	wantSDKError(t, "HeadBucket(missing)", err, "", 404)

	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, aws.ToString(b.Name))
		if b.CreationDate == nil || b.CreationDate.IsZero() {
			t.Errorf("ListBuckets: %s has no CreationDate", aws.ToString(b.Name))
		}
	}
	if !slices.IsSorted(names) || !slices.Contains(names, b1) || !slices.Contains(names, b2) {
		t.Errorf("ListBuckets = %q, want sorted names including %s and %s", names, b1, b2)
	}
	if lb.Owner == nil || aws.ToString(lb.Owner.ID) == "" {
		t.Errorf("ListBuckets: no owner ID (%+v)", lb.Owner)
	}

	sdkPut(t, c, b1, "k", []byte("v"))
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &b1})
	wantSDKError(t, "DeleteBucket(non-empty)", err, "BucketNotEmpty", 409)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b1, Key: aws.String("k")}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	for _, b := range []string{b1, b2} {
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &b}); err != nil {
			t.Errorf("DeleteBucket(%s): %v", b, err)
		}
		_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &b})
		wantSDKError(t, "HeadBucket(deleted)", err, "", 404)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &b1})
	wantSDKError(t, "DeleteBucket(deleted)", err, "NoSuchBucket", 404)

	// A server in another region keeps the bucket's LocationConstraint.
	eu := startS3(t, "eu-central-1")
	ec := newSDK(eu, m, testAccessKey, testSecretKey)
	if _, err := ec.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    &b1,
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuCentral1},
	}); err != nil {
		t.Fatalf("CreateBucket in eu-central-1: %v", err)
	}
	loc, err := ec.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: &b1})
	if err != nil {
		t.Fatalf("GetBucketLocation: %v", err)
	}
	if loc.LocationConstraint != types.BucketLocationConstraintEuCentral1 {
		t.Errorf("GetBucketLocation = %q, want eu-central-1", loc.LocationConstraint)
	}
}

func sdkPutObject(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string) {
	ctx := t.Context()
	data := randomBytes(10, 300<<10)
	out, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: aws.String("meta/obj"), Body: bytes.NewReader(data),
		ContentType:        aws.String("application/x-test"),
		CacheControl:       aws.String("max-age=60"),
		ContentDisposition: aws.String(`attachment; filename="x.bin"`),
		ContentLanguage:    aws.String("fr"),
		Metadata:           map[string]string{"color": "blue", "empty": ""},
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	wantETag := `"` + md5hex(data) + `"`
	if aws.ToString(out.ETag) != wantETag {
		t.Errorf("PutObject ETag = %s, want %s", aws.ToString(out.ETag), wantETag)
	}
	putCID := cidOf(out.ResultMetadata)
	checkCID(t, "PutObject", putCID)

	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("meta/obj")})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if aws.ToString(head.ETag) != wantETag || aws.ToInt64(head.ContentLength) != int64(len(data)) ||
		aws.ToString(head.ContentType) != "application/x-test" || aws.ToString(head.CacheControl) != "max-age=60" ||
		aws.ToString(head.ContentDisposition) != `attachment; filename="x.bin"` || aws.ToString(head.ContentLanguage) != "fr" {
		t.Errorf("HeadObject = etag %s length %d type %q cache %q disposition %q language %q",
			aws.ToString(head.ETag), aws.ToInt64(head.ContentLength), aws.ToString(head.ContentType),
			aws.ToString(head.CacheControl), aws.ToString(head.ContentDisposition), aws.ToString(head.ContentLanguage))
	}
	if v, ok := head.Metadata["color"]; !ok || v != "blue" {
		t.Errorf("HeadObject metadata = %v, want color=blue", head.Metadata)
	}
	if _, ok := head.Metadata["empty"]; !ok {
		t.Errorf("HeadObject metadata = %v, want the empty value kept", head.Metadata)
	}
	if head.LastModified == nil || head.LastModified.IsZero() {
		t.Errorf("HeadObject: no Last-Modified")
	}
	checkCID(t, "HeadObject", cidOf(head.ResultMetadata))
	if got := cidOf(head.ResultMetadata); got != putCID {
		t.Errorf("HeadObject x-s3mesh-cid %q, PutObject's %q", got, putCID)
	}
	get, body := mustGet(t, c, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("meta/obj")})
	if !bytes.Equal(body, data) {
		t.Errorf("GetObject: %d bytes md5 %s, want md5 %s", len(body), md5hex(body), md5hex(data))
	}
	if got := cidOf(get.ResultMetadata); got != putCID {
		t.Errorf("GetObject x-s3mesh-cid %q, PutObject's %q", got, putCID)
	}
	if m.req == aws.RequestChecksumCalculationWhenSupported {
		// The SDK sent a CRC32; asked for it, the server returns it.
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("meta/obj"), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatalf("HeadObject(ChecksumMode): %v", err)
		}
		if aws.ToString(h.ChecksumCRC32) == "" {
			t.Errorf("HeadObject(ChecksumMode): no CRC32 checksum")
		}
	}

	// If-None-Match: * creates once.
	key := aws.String("once")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: key, Body: strings.NewReader("first"), IfNoneMatch: aws.String("*")}); err != nil {
		t.Fatalf("PutObject(If-None-Match *): %v", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: key, Body: strings.NewReader("second"), IfNoneMatch: aws.String("*")})
	wantSDKError(t, "second PutObject(If-None-Match *)", err, "PreconditionFailed", 412)
	if _, b := mustGet(t, c, &s3.GetObjectInput{Bucket: &bucket, Key: key}); string(b) != "first" {
		t.Errorf("after the refused put: %q, want \"first\"", b)
	}

	// A wrong Content-MD5 is refused and commits nothing.
	other := md5.Sum([]byte("other"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: key, Body: strings.NewReader("third"),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(other[:]))})
	wantSDKError(t, "PutObject(wrong Content-MD5)", err, "BadDigest", 400)
	right := md5.Sum([]byte("fourth"))
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: key, Body: strings.NewReader("fourth"),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(right[:]))}); err != nil {
		t.Errorf("PutObject(right Content-MD5): %v", err)
	}

	// HeadObject and DeleteObject.
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("missing")})
	wantSDKError(t, "HeadObject(missing)", err, "", 404)
	for range 2 { // the second delete is of a missing key, and succeeds
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: key}); err != nil {
			t.Errorf("DeleteObject: %v", err)
		}
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: key})
	wantSDKError(t, "GetObject(deleted)", err, "NoSuchKey", 404)
}

func sdkRange(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string) {
	data := randomBytes(11, 1000)
	sdkPut(t, c, bucket, "r", data)
	cases := []struct {
		rng          string
		from, to     int // inclusive
		contentRange string
	}{
		{"bytes=0-9", 0, 9, "bytes 0-9/1000"},
		{"bytes=5-5", 5, 5, "bytes 5-5/1000"},
		{"bytes=990-", 990, 999, "bytes 990-999/1000"},
		{"bytes=-7", 993, 999, "bytes 993-999/1000"},
		{"bytes=900-5000", 900, 999, "bytes 900-999/1000"},
		{"bytes=0-", 0, 999, "bytes 0-999/1000"},
	}
	for _, tc := range cases {
		out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("r"), Range: aws.String(tc.rng)})
		if err != nil {
			t.Errorf("GetObject(Range %s): %v", tc.rng, err)
			continue
		}
		body, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			t.Errorf("GetObject(Range %s): read: %v", tc.rng, err)
			continue
		}
		if !bytes.Equal(body, data[tc.from:tc.to+1]) {
			t.Errorf("Range %s: got %d bytes, want bytes %d-%d", tc.rng, len(body), tc.from, tc.to)
		}
		if aws.ToString(out.ContentRange) != tc.contentRange {
			t.Errorf("Range %s: Content-Range %q, want %q", tc.rng, aws.ToString(out.ContentRange), tc.contentRange)
		}
		if aws.ToInt64(out.ContentLength) != int64(tc.to-tc.from+1) {
			t.Errorf("Range %s: Content-Length %d, want %d", tc.rng, aws.ToInt64(out.ContentLength), tc.to-tc.from+1)
		}
	}
	_, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("r"), Range: aws.String("bytes=1000-2000")})
	wantSDKError(t, "Range past the end", err, "InvalidRange", 416)
}

func sdkConditionals(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string) {
	ctx := t.Context()
	data := []byte("conditional body")
	out := sdkPut(t, c, bucket, "c", data)
	etag := aws.ToString(out.ETag)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("c")})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	lm := aws.ToTime(head.LastModified)
	before, after := lm.Add(-time.Hour), lm.Add(time.Hour)
	key := aws.String("c")
	cases := []struct {
		name   string
		in     s3.GetObjectInput
		code   string
		status int // 0: success
	}{
		{"If-Match current", s3.GetObjectInput{IfMatch: &etag}, "", 0},
		{"If-Match other", s3.GetObjectInput{IfMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)}, "PreconditionFailed", 412},
		{"If-Match *", s3.GetObjectInput{IfMatch: aws.String("*")}, "", 0},
		{"If-None-Match current", s3.GetObjectInput{IfNoneMatch: &etag}, "NotModified", 304},
		{"If-None-Match other", s3.GetObjectInput{IfNoneMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)}, "", 0},
		{"If-Modified-Since later", s3.GetObjectInput{IfModifiedSince: &after}, "NotModified", 304},
		{"If-Modified-Since earlier", s3.GetObjectInput{IfModifiedSince: &before}, "", 0},
		{"If-Unmodified-Since earlier", s3.GetObjectInput{IfUnmodifiedSince: &before}, "PreconditionFailed", 412},
		{"If-Unmodified-Since later", s3.GetObjectInput{IfUnmodifiedSince: &after}, "", 0},
		// If-Match wins over a failing If-Unmodified-Since; If-None-Match
		// over a passing If-Modified-Since (RFC 7232 section 6).
		{"If-Match and If-Unmodified-Since", s3.GetObjectInput{IfMatch: &etag, IfUnmodifiedSince: &before}, "", 0},
		{"If-None-Match and If-Modified-Since", s3.GetObjectInput{IfNoneMatch: &etag, IfModifiedSince: &before}, "NotModified", 304},
	}
	for _, tc := range cases {
		in := tc.in
		in.Bucket, in.Key = &bucket, key
		got, err := c.GetObject(ctx, &in)
		if tc.status == 0 {
			if err != nil {
				t.Errorf("GetObject(%s): %v", tc.name, err)
				continue
			}
			b, err := io.ReadAll(got.Body)
			got.Body.Close()
			if err != nil || !bytes.Equal(b, data) {
				t.Errorf("GetObject(%s): body %q, %v", tc.name, b, err)
			}
			continue
		}
		wantSDKError(t, "GetObject("+tc.name+")", err, tc.code, tc.status)
		// HeadObject answers the same status (with no body, so no code).
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: key, IfMatch: in.IfMatch, IfNoneMatch: in.IfNoneMatch,
			IfModifiedSince: in.IfModifiedSince, IfUnmodifiedSince: in.IfUnmodifiedSince})
		wantSDKError(t, "HeadObject("+tc.name+")", err, "", tc.status)
	}
}

func sdkResponseOverrides(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string) {
	sdkPut(t, c, bucket, "o", []byte("override body"))
	expires := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	in := &s3.GetObjectInput{
		Bucket: &bucket, Key: aws.String("o"),
		ResponseContentType:        aws.String("text/x-override"),
		ResponseContentDisposition: aws.String(`attachment; filename="o.txt"`),
		ResponseCacheControl:       aws.String("no-store"),
		ResponseContentLanguage:    aws.String("de"),
		ResponseContentEncoding:    aws.String("identity"),
		ResponseExpires:            &expires,
	}
	out, body := mustGet(t, c, in)
	if string(body) != "override body" {
		t.Errorf("GetObject body %q", body)
	}
	got := []string{aws.ToString(out.ContentType), aws.ToString(out.ContentDisposition), aws.ToString(out.CacheControl),
		aws.ToString(out.ContentLanguage), aws.ToString(out.ContentEncoding)}
	want := []string{"text/x-override", `attachment; filename="o.txt"`, "no-store", "de", "identity"}
	if !slices.Equal(got, want) {
		t.Errorf("GetObject with response-* overrides: headers %q, want %q", got, want)
	}
	if out.Expires == nil || !out.Expires.Equal(expires) {
		t.Errorf("GetObject with response-expires: Expires %v (raw %q), want %v", out.Expires, aws.ToString(out.ExpiresString), expires)
	}

	// The same through a presigned URL fetched with net/http.
	ps := s3.NewPresignClient(c)
	req, err := ps.PresignGetObject(t.Context(), in, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatalf("PresignGetObject: %v", err)
	}
	r, err := http.NewRequestWithContext(t.Context(), req.Method, req.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	status, hdr, b := doPresigned(t, srv, m, r)
	if status != 200 || string(b) != "override body" {
		t.Fatalf("presigned GET: %d %q", status, b)
	}
	for i, h := range []string{"Content-Type", "Content-Disposition", "Cache-Control", "Content-Language", "Content-Encoding"} {
		if hdr.Get(h) != want[i] {
			t.Errorf("presigned GET: %s %q, want %q", h, hdr.Get(h), want[i])
		}
	}
	if hdr.Get("Expires") != expires.Format(http.TimeFormat) {
		t.Errorf("presigned GET: Expires %q, want %q", hdr.Get("Expires"), expires.Format(http.TimeFormat))
	}
}

// doPresigned sends a presigned request with the client fitting m.
func doPresigned(t *testing.T, srv *s3Server, m sdkMode, r *http.Request) (int, http.Header, []byte) {
	t.Helper()
	client := http.DefaultClient
	if m.tls {
		client = srv.TLS.Client()
	}
	resp, err := client.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: read: %v", r.Method, err)
	}
	return resp.StatusCode, resp.Header, b
}

func sdkDeleteObjects(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string) {
	ctx := t.Context()
	keys := []string{"d/1", "d/2", "d/3", "d/4", "d 5+"}
	for _, k := range keys {
		sdkPut(t, c, bucket, k, []byte(k))
	}
	ids := func(keys ...string) []types.ObjectIdentifier {
		var out []types.ObjectIdentifier
		for _, k := range keys {
			out = append(out, types.ObjectIdentifier{Key: aws.String(k)})
		}
		return out
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &types.Delete{Objects: ids("d/1", "d 5+", "never")}})
	if err != nil {
		t.Fatalf("DeleteObjects: %v", err)
	}
	var deleted []string
	for _, d := range out.Deleted {
		deleted = append(deleted, aws.ToString(d.Key))
	}
	slices.Sort(deleted)
	if !slices.Equal(deleted, []string{"d 5+", "d/1", "never"}) || len(out.Errors) != 0 {
		t.Errorf("DeleteObjects: deleted %q errors %+v, want [d 5+ d/1 never] and none", deleted, out.Errors)
	}
	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &types.Delete{Objects: ids("d/2", "d/3"), Quiet: aws.Bool(true)}})
	if err != nil {
		t.Fatalf("DeleteObjects(quiet): %v", err)
	}
	if len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Errorf("DeleteObjects(quiet): deleted %+v errors %+v, want neither", out.Deleted, out.Errors)
	}
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	if len(l.Contents) != 1 || aws.ToString(l.Contents[0].Key) != "d/4" {
		t.Errorf("after DeleteObjects: %d objects, want d/4 alone", len(l.Contents))
	}
	missing := bucket + "-missing"
	_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &missing, Delete: &types.Delete{Objects: ids("x")}})
	wantSDKError(t, "DeleteObjects(missing bucket)", err, "NoSuchBucket", 404)
}

// listingKeys is the key set of the listing tests.
var listingKeys = []string{"l/a", "l/b/1", "l/b/2", "l/c", "l/d/1", "l/e", "m"}

func sdkListObjectsV1(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string) {
	ctx := t.Context()
	for _, k := range listingKeys {
		sdkPut(t, c, bucket, k, []byte(k))
	}
	// With a delimiter, pages follow NextMarker.
	var got []string
	in := &s3.ListObjectsInput{Bucket: &bucket, Prefix: aws.String("l/"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)}
	for page := 0; ; page++ {
		if page > len(listingKeys) {
			t.Fatalf("ListObjects did not end")
		}
		out, err := c.ListObjects(ctx, in)
		if err != nil {
			t.Fatalf("ListObjects(%+v): %v", in, err)
		}
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
			if o.Owner == nil || aws.ToString(o.Owner.ID) == "" {
				t.Errorf("ListObjects: %s has no owner", aws.ToString(o.Key))
			}
		}
		for _, p := range out.CommonPrefixes {
			got = append(got, "prefix:"+aws.ToString(p.Prefix))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		if aws.ToString(out.NextMarker) == "" {
			t.Fatalf("ListObjects page %d: truncated with a delimiter and no NextMarker", page)
		}
		in.Marker = out.NextMarker
	}
	slices.Sort(got)
	want := []string{"l/a", "l/c", "l/e", "prefix:l/b/", "prefix:l/d/"}
	if !slices.Equal(got, want) {
		t.Errorf("ListObjects with delimiter, 2 per page: %q, want %q", got, want)
	}
	// Without one, the marker is the last key.
	out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: &bucket, Marker: aws.String("l/b/2"), MaxKeys: aws.Int32(3)})
	if err != nil {
		t.Fatalf("ListObjects(marker): %v", err)
	}
	got = nil
	for _, o := range out.Contents {
		got = append(got, aws.ToString(o.Key))
	}
	if !slices.Equal(got, []string{"l/c", "l/d/1", "l/e"}) || !aws.ToBool(out.IsTruncated) {
		t.Errorf("ListObjects(marker l/b/2, 3 keys) = %q truncated %v, want [l/c l/d/1 l/e] truncated", got, aws.ToBool(out.IsTruncated))
	}
}

func sdkListObjectsV2(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string) {
	ctx := t.Context()
	for _, k := range listingKeys {
		sdkPut(t, c, bucket, k, []byte(k))
	}
	odd := "l/sp ace+plus%25&<amp>"
	sdkPut(t, c, bucket, odd, []byte(odd))

	list := func(in *s3.ListObjectsV2Input) (keys, prefixes []string, pages int) {
		t.Helper()
		in.Bucket = &bucket
		for pages = 1; ; pages++ {
			if pages > 20 {
				t.Fatalf("ListObjectsV2 did not end")
			}
			out, err := c.ListObjectsV2(ctx, in)
			if err != nil {
				t.Fatalf("ListObjectsV2(%+v): %v", in, err)
			}
			n := len(out.Contents) + len(out.CommonPrefixes)
			if aws.ToInt32(out.KeyCount) != int32(n) {
				t.Errorf("ListObjectsV2: KeyCount %d, want %d", aws.ToInt32(out.KeyCount), n)
			}
			for _, o := range out.Contents {
				k := aws.ToString(o.Key)
				if in.EncodingType == types.EncodingTypeUrl {
					var err error
					if k, err = url.QueryUnescape(k); err != nil {
						t.Errorf("encoding-type=url: key %q: %v", aws.ToString(o.Key), err)
					}
				}
				keys = append(keys, k)
				if aws.ToBool(in.FetchOwner) != (o.Owner != nil && aws.ToString(o.Owner.ID) != "") {
					t.Errorf("ListObjectsV2(fetch-owner %v): %s owner %+v", aws.ToBool(in.FetchOwner), k, o.Owner)
				}
				if aws.ToString(o.ETag) != `"`+md5hex([]byte(k))+`"` {
					t.Errorf("ListObjectsV2: %s ETag %s", k, aws.ToString(o.ETag))
				}
			}
			for _, p := range out.CommonPrefixes {
				prefixes = append(prefixes, aws.ToString(p.Prefix))
			}
			if !aws.ToBool(out.IsTruncated) {
				return keys, prefixes, pages
			}
			if aws.ToString(out.NextContinuationToken) == "" {
				t.Fatalf("ListObjectsV2: truncated without a NextContinuationToken")
			}
			in.ContinuationToken = out.NextContinuationToken
		}
	}
	all := append(slices.Clone(listingKeys), odd)
	slices.Sort(all)
	keys, _, _ := list(&s3.ListObjectsV2Input{})
	if !slices.Equal(keys, all) {
		t.Errorf("ListObjectsV2 = %q, want %q", keys, all)
	}
	keys, prefixes, pages := list(&s3.ListObjectsV2Input{Prefix: aws.String("l/"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), FetchOwner: aws.Bool(true)})
	if want := []string{"l/a", "l/c", "l/e", odd}; !slices.Equal(keys, want) {
		t.Errorf("ListObjectsV2(prefix, delimiter) keys %q, want %q", keys, want)
	}
	if want := []string{"l/b/", "l/d/"}; !slices.Equal(prefixes, want) {
		t.Errorf("ListObjectsV2(prefix, delimiter) common prefixes %q, want %q", prefixes, want)
	}
	if pages != 3 {
		t.Errorf("ListObjectsV2(6 entries, max-keys 2): %d pages, want 3", pages)
	}
	keys, _, _ = list(&s3.ListObjectsV2Input{StartAfter: aws.String("l/b/1"), MaxKeys: aws.Int32(3)})
	if want := []string{"l/b/2", "l/c", "l/d/1", "l/e", odd, "m"}; !slices.Equal(keys, want) {
		t.Errorf("ListObjectsV2(start-after l/b/1) = %q, want %q", keys, want)
	}
	keys, _, _ = list(&s3.ListObjectsV2Input{Prefix: aws.String("l/s"), EncodingType: types.EncodingTypeUrl})
	if !slices.Equal(keys, []string{odd}) {
		t.Errorf("ListObjectsV2(encoding-type=url) = %q, want %q", keys, []string{odd})
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("l/s"), EncodingType: types.EncodingTypeUrl})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) == 1 && aws.ToString(out.Contents[0].Key) == odd {
		t.Errorf("ListObjectsV2(encoding-type=url): key %q came back unencoded", odd)
	}
	if out.EncodingType != types.EncodingTypeUrl {
		t.Errorf("ListObjectsV2(encoding-type=url): EncodingType %q in the response", out.EncodingType)
	}
}

func sdkPresigned(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string) {
	ctx := t.Context()
	ps := s3.NewPresignClient(c)
	data := randomBytes(12, 70<<10)
	put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("pre/sig ned+")}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatalf("PresignPutObject: %v", err)
	}
	r, err := http.NewRequestWithContext(ctx, put.Method, put.URL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range put.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			r.Header[k] = v
		}
	}
	status, hdr, body := doPresigned(t, srv, m, r)
	if status != 200 {
		t.Fatalf("presigned PUT: %d %s (signed headers %v)", status, body, put.SignedHeader)
	}
	if hdr.Get("ETag") != `"`+md5hex(data)+`"` {
		t.Errorf("presigned PUT: ETag %s, want %q", hdr.Get("ETag"), md5hex(data))
	}
	checkCID(t, "presigned PUT", hdr.Get("x-s3mesh-cid"))
	get, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("pre/sig ned+")})
	if err != nil {
		t.Fatalf("PresignGetObject: %v", err)
	}
	r, err = http.NewRequestWithContext(ctx, get.Method, get.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	status, hdr, body = doPresigned(t, srv, m, r)
	if status != 200 || !bytes.Equal(body, data) {
		t.Fatalf("presigned GET: %d, %d bytes", status, len(body))
	}
	checkCID(t, "presigned GET", hdr.Get("x-s3mesh-cid"))
	// A tampered presigned URL is refused.
	u, _ := url.Parse(get.URL)
	q := u.Query()
	q.Set("X-Amz-Expires", "604800")
	u.RawQuery = q.Encode()
	r, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	status, _, body = doPresigned(t, srv, m, r)
	if status != 403 || errorCode(body) != "SignatureDoesNotMatch" {
		t.Errorf("tampered presigned GET: %d %s, want 403 SignatureDoesNotMatch", status, errorCode(body))
	}
}

func sdkErrors(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string) {
	ctx := t.Context()
	sdkPut(t, c, bucket, "exists", []byte("x"))
	missing := bucket + "-nope"
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &missing, Key: aws.String("k")})
	wantSDKError(t, "GetObject(missing bucket)", err, "NoSuchBucket", 404)
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &missing})
	wantSDKError(t, "ListObjectsV2(missing bucket)", err, "NoSuchBucket", 404)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: &missing, Key: aws.String("k"), Body: strings.NewReader("x")})
	wantSDKError(t, "PutObject(missing bucket)", err, "NoSuchBucket", 404)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("missing")})
	wantSDKError(t, "GetObject(missing key)", err, "NoSuchKey", 404)
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	wantSDKError(t, "CreateBucket(Bad_Name)", err, "InvalidBucketName", 400)

	wrongSecret := newSDK(srv, m, testAccessKey, testSecretKey+"x")
	_, err = wrongSecret.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantSDKError(t, "ListBuckets(wrong secret)", err, "SignatureDoesNotMatch", 403)
	_, err = wrongSecret.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("exists"), Body: strings.NewReader("overwritten")})
	wantSDKError(t, "PutObject(wrong secret)", err, "SignatureDoesNotMatch", 403)
	wrongKey := newSDK(srv, m, "AKIDOESNOTEXIST00000", testSecretKey)
	_, err = wrongKey.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("exists")})
	wantSDKError(t, "GetObject(unknown access key)", err, "InvalidAccessKeyId", 403)
	anon := newSDK(srv, m, "", "")
	_, err = anon.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("exists")})
	wantSDKError(t, "GetObject(anonymous)", err, "AccessDenied", 403)
	if _, b := mustGet(t, c, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("exists")}); string(b) != "x" {
		t.Errorf("object after refused writes = %q, want \"x\"", b)
	}

	// Unsigned requests with net/http.
	for _, path := range []string{"/", "/" + bucket, "/" + bucket + "/exists"} {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		status, _, body := rawDo(t, r)
		if status != 403 || errorCode(body) != "AccessDenied" {
			t.Errorf("anonymous GET %s: %d %q, want 403 AccessDenied", path, status, errorCode(body))
		}
	}
}

func sdkUploader(t *testing.T, srv *s3Server, m sdkMode, c *s3.Client, bucket string) {
	const size = 20 << 20
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 32 << 20 })
	// A reader that is neither seekable nor sized, as a pipe would be.
	body := struct{ io.Reader }{randomReader(13, size)}
	out, err := up.Upload(t.Context(), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("big/upload"), Body: body})
	if err != nil {
		t.Fatalf("Uploader.Upload(20 MiB, part size 32 MiB): %v", err)
	}
	if out.UploadID != "" {
		t.Errorf("Uploader used multipart upload %q for a body below the part size", out.UploadID)
	}
	want := sha256.New()
	if _, err := io.Copy(want, randomReader(13, size)); err != nil {
		t.Fatal(err)
	}
	get, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("big/upload")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	defer get.Body.Close()
	got := sha256.New()
	n, err := io.Copy(got, get.Body)
	if err != nil {
		t.Fatalf("GetObject: read: %v", err)
	}
	if n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("GetObject: %d bytes sha256 %s, want %d bytes sha256 %s", n, hex.EncodeToString(got.Sum(nil)), size, hex.EncodeToString(want.Sum(nil)))
	}

	// Below the body size, the part size makes the uploader go multipart,
	// four parts in flight at once.
	mp := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 << 20; u.Concurrency = 4 })
	out, err = mp.Upload(t.Context(), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("big/multipart"),
		Body: struct{ io.Reader }{randomReader(14, size)}})
	if err != nil {
		t.Fatalf("Uploader.Upload(20 MiB, part size 5 MiB): %v", err)
	}
	if out.UploadID == "" || !strings.HasSuffix(aws.ToString(out.ETag), `-4"`) {
		t.Errorf("Uploader: upload ID %q, ETag %s; want a four-part multipart upload", out.UploadID, aws.ToString(out.ETag))
	}
	head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("big/multipart"), PartNumber: aws.Int32(2)})
	if err != nil {
		t.Fatalf("HeadObject(partNumber=2): %v", err)
	}
	if aws.ToInt64(head.ContentLength) != 5<<20 || aws.ToInt32(head.PartsCount) != 4 {
		t.Errorf("HeadObject(partNumber=2): length %d, parts %d; want %d, 4", aws.ToInt64(head.ContentLength), aws.ToInt32(head.PartsCount), 5<<20)
	}
	dl := manager.NewDownloader(c, func(d *manager.Downloader) { d.PartSize = 3 << 20; d.Concurrency = 4 })
	buf := manager.NewWriteAtBuffer(make([]byte, 0, size))
	if _, err := dl.Download(t.Context(), buf, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("big/multipart")}); err != nil {
		t.Fatalf("Downloader.Download: %v", err)
	}
	want.Reset()
	io.Copy(want, randomReader(14, size))
	if gotSum := sha256.Sum256(buf.Bytes()); !bytes.Equal(gotSum[:], want.Sum(nil)) {
		t.Errorf("Downloader: %d bytes differ from the %d uploaded", len(buf.Bytes()), size)
	}
}
