package integration

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// TestMinio exercises the operations s3mesh serves with minio-go in each of
// its signing modes.
func TestMinio(t *testing.T) {
	srv := startS3(t, "")
	for _, m := range minioModes {
		t.Run(m.name, func(t *testing.T) {
			c := newMinio(t, srv, m, testAccessKey, testSecretKey)
			tests := []struct {
				name string
				fn   func(t *testing.T, srv *s3Server, m minioMode, c *minio.Client, bucket string)
			}{
				{"Buckets", minioBuckets},
				{"PutObject", minioPutObject},
				{"GetObject", minioGetObject},
				{"ListObjects", minioListObjects},
				{"RemoveObjects", minioRemoveObjects},
				{"Presigned", minioPresigned},
				{"Errors", minioErrors},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					bucket := bucketName(strings.ToLower(tt.name), m.name)
					if err := c.MakeBucket(t.Context(), bucket, minio.MakeBucketOptions{}); err != nil {
						t.Fatalf("MakeBucket(%s): %v", bucket, err)
					}
					tt.fn(t, srv, m, c, bucket)
				})
			}
		})
	}
}

func minioPut(t *testing.T, c *minio.Client, m minioMode, bucket, key string, data []byte) minio.UploadInfo {
	t.Helper()
	info, err := c.PutObject(t.Context(), bucket, key, bytes.NewReader(data), int64(len(data)), m.opts)
	if err != nil {
		t.Fatalf("PutObject(%s/%s, %d bytes): %v", bucket, key, len(data), err)
	}
	return info
}

func minioBuckets(t *testing.T, srv *s3Server, m minioMode, c *minio.Client, bucket string) {
	ctx := t.Context()
	ok, err := c.BucketExists(ctx, bucket)
	if err != nil || !ok {
		t.Errorf("BucketExists(%s) = %v, %v", bucket, ok, err)
	}
	ok, err = c.BucketExists(ctx, bucket+"-missing")
	if err != nil || ok {
		t.Errorf("BucketExists(missing) = %v, %v", ok, err)
	}
	wantMinioError(t, "MakeBucket(existing)", c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}), "BucketAlreadyOwnedByYou", 409)
	loc, err := c.GetBucketLocation(ctx, bucket)
	if err != nil || loc != "us-east-1" {
		t.Errorf("GetBucketLocation = %q, %v; want us-east-1", loc, err)
	}
	buckets, err := c.ListBuckets(ctx)
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	if !slices.ContainsFunc(buckets, func(b minio.BucketInfo) bool { return b.Name == bucket && !b.CreationDate.IsZero() }) {
		t.Errorf("ListBuckets = %+v, want %s with a creation date", buckets, bucket)
	}
	minioPut(t, c, m, bucket, "k", []byte("v"))
	wantMinioError(t, "RemoveBucket(non-empty)", c.RemoveBucket(ctx, bucket), "BucketNotEmpty", 409)
	if err := c.RemoveObject(ctx, bucket, "k", minio.RemoveObjectOptions{}); err != nil {
		t.Fatalf("RemoveObject: %v", err)
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil {
		t.Fatalf("RemoveBucket: %v", err)
	}
	wantMinioError(t, "RemoveBucket(removed)", c.RemoveBucket(ctx, bucket), "NoSuchBucket", 404)
}

func minioPutObject(t *testing.T, srv *s3Server, m minioMode, c *minio.Client, bucket string) {
	ctx := t.Context()
	// Sizes around minio-go's 64 KiB signed chunks.
	for i, n := range []int{0, 1, 64 << 10, 64<<10 + 1, 3<<20 + 5} {
		data := randomBytes(uint64(20+i), n)
		opts := m.opts
		opts.ContentType = "application/x-minio"
		opts.UserMetadata = map[string]string{"color": "blue"}
		info, err := c.PutObject(ctx, bucket, "p/obj", bytes.NewReader(data), int64(n), opts)
		if err != nil {
			t.Fatalf("PutObject(%d bytes): %v", n, err)
		}
		if info.ETag != md5hex(data) || info.Size != int64(n) {
			t.Errorf("PutObject(%d bytes): ETag %s size %d, want %s %d", n, info.ETag, info.Size, md5hex(data), n)
		}
		st, err := c.StatObject(ctx, bucket, "p/obj", minio.StatObjectOptions{})
		if err != nil {
			t.Fatalf("StatObject: %v", err)
		}
		if st.ETag != md5hex(data) || st.Size != int64(n) || st.ContentType != "application/x-minio" || st.UserMetadata["Color"] != "blue" {
			t.Errorf("StatObject = etag %s size %d type %q meta %v", st.ETag, st.Size, st.ContentType, st.UserMetadata)
		}
		checkCID(t, "StatObject", st.Headers.Get("x-s3mesh-cid"))
		o, err := c.GetObject(ctx, bucket, "p/obj", minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("GetObject: %v", err)
		}
		got, err := io.ReadAll(o)
		o.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("GetObject(%d bytes): %d bytes, %v", n, len(got), err)
		}
	}

	// If-None-Match: * creates once.
	opts := m.opts
	opts.SetMatchETagExcept("*")
	if _, err := c.PutObject(ctx, bucket, "once", strings.NewReader("first"), 5, opts); err != nil {
		t.Fatalf("PutObject(If-None-Match *): %v", err)
	}
	_, err := c.PutObject(ctx, bucket, "once", strings.NewReader("second"), 6, opts)
	wantMinioError(t, "second PutObject(If-None-Match *)", err, "PreconditionFailed", 412)

	// An unknown size makes minio-go upload in parts.
	unsized := randomBytes(31, 6<<20+17)
	opts = m.opts
	opts.PartSize = 5 << 20
	info, err := c.PutObject(ctx, bucket, "unsized", struct{ io.Reader }{bytes.NewReader(unsized)}, -1, opts)
	if err != nil {
		t.Fatalf("PutObject(size -1, multipart): %v", err)
	}
	if !strings.HasSuffix(info.ETag, "-2") {
		t.Errorf("PutObject(size -1) ETag %q, want a two-part multipart ETag", info.ETag)
	}
	obj, err := c.GetObject(ctx, bucket, "unsized", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, unsized) {
		t.Errorf("GetObject(multipart object): %d bytes, %v; want the %d bytes sent", len(got), err, len(unsized))
	}
}

func minioGetObject(t *testing.T, srv *s3Server, m minioMode, c *minio.Client, bucket string) {
	ctx := t.Context()
	data := randomBytes(30, 1000)
	info := minioPut(t, c, m, bucket, "g", data)
	read := func(opts minio.GetObjectOptions) ([]byte, error) {
		o, err := c.GetObject(ctx, bucket, "g", opts)
		if err != nil {
			return nil, err
		}
		defer o.Close()
		return io.ReadAll(o)
	}
	ranges := []struct {
		start, end int64
		want       []byte
	}{
		{0, 9, data[:10]},
		{990, 0, data[990:]},
		{0, -7, data[993:]},
		{500, 500, data[500:501]},
	}
	for _, r := range ranges {
		var opts minio.GetObjectOptions
		if err := opts.SetRange(r.start, r.end); err != nil {
			t.Fatal(err)
		}
		got, err := read(opts)
		if err != nil || !bytes.Equal(got, r.want) {
			t.Errorf("GetObject(range %d,%d): %d bytes, %v; want %d bytes", r.start, r.end, len(got), err, len(r.want))
		}
	}
	var opts minio.GetObjectOptions
	_ = opts.SetRange(2000, 3000)
	_, err := read(opts)
	wantMinioError(t, "GetObject(range past the end)", err, "InvalidRange", 416)

	st, err := c.StatObject(ctx, bucket, "g", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conds := []struct {
		name   string
		set    func(o *minio.GetObjectOptions) error
		code   string
		status int
	}{
		{"If-Match", func(o *minio.GetObjectOptions) error { return o.SetMatchETag(info.ETag) }, "", 200},
		{"If-Match other", func(o *minio.GetObjectOptions) error { return o.SetMatchETag("0123456789abcdef0123456789abcdef") }, "PreconditionFailed", 412},
		{"If-None-Match", func(o *minio.GetObjectOptions) error { return o.SetMatchETagExcept(info.ETag) }, "NotModified", 304},
		{"If-Modified-Since later", func(o *minio.GetObjectOptions) error { return o.SetModified(st.LastModified.Add(time.Hour)) }, "NotModified", 304},
		{"If-Unmodified-Since earlier", func(o *minio.GetObjectOptions) error { return o.SetUnmodified(st.LastModified.Add(-time.Hour)) }, "PreconditionFailed", 412},
		{"If-Unmodified-Since later", func(o *minio.GetObjectOptions) error { return o.SetUnmodified(st.LastModified.Add(time.Hour)) }, "", 200},
	}
	for _, cd := range conds {
		var o minio.GetObjectOptions
		if err := cd.set(&o); err != nil {
			t.Fatal(err)
		}
		got, err := read(o)
		if cd.status == 200 {
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("GetObject(%s): %d bytes, %v", cd.name, len(got), err)
			}
			continue
		}
		resp := minio.ToErrorResponse(err)
		if err == nil || resp.StatusCode != cd.status || (cd.status != 304 && resp.Code != cd.code) {
			t.Errorf("GetObject(%s): %v (%s %d), want %s %d", cd.name, err, resp.Code, resp.StatusCode, cd.code, cd.status)
		}
	}
}

func minioListObjects(t *testing.T, srv *s3Server, m minioMode, c *minio.Client, bucket string) {
	ctx := t.Context()
	for _, k := range listingKeys {
		minioPut(t, c, m, bucket, k, []byte(k))
	}
	collect := func(opts minio.ListObjectsOptions) []string {
		t.Helper()
		var out []string
		for o := range c.ListObjects(ctx, bucket, opts) {
			if o.Err != nil {
				t.Fatalf("ListObjects(%+v): %v", opts, o.Err)
			}
			out = append(out, o.Key)
		}
		return out
	}
	for _, v1 := range []bool{false, true} {
		got := collect(minio.ListObjectsOptions{Recursive: true, MaxKeys: 2, UseV1: v1})
		if !slices.Equal(got, listingKeys) {
			t.Errorf("ListObjects(recursive, v1 %v) = %q, want %q", v1, got, listingKeys)
		}
		got = collect(minio.ListObjectsOptions{Prefix: "l/", MaxKeys: 2, UseV1: v1})
		if want := []string{"l/a", "l/b/", "l/c", "l/d/", "l/e"}; !slices.Equal(got, want) {
			t.Errorf("ListObjects(prefix l/, delimiter /, v1 %v) = %q, want %q", v1, got, want)
		}
		got = collect(minio.ListObjectsOptions{Recursive: true, StartAfter: "l/c", UseV1: v1})
		if want := []string{"l/d/1", "l/e", "m"}; !slices.Equal(got, want) {
			t.Errorf("ListObjects(start-after l/c, v1 %v) = %q, want %q", v1, got, want)
		}
	}
}

func minioRemoveObjects(t *testing.T, srv *s3Server, m minioMode, c *minio.Client, bucket string) {
	ctx := t.Context()
	keys := []string{"r/1", "r/2", "r 3+", "r/4"}
	for _, k := range keys {
		minioPut(t, c, m, bucket, k, []byte(k))
	}
	ch := make(chan minio.ObjectInfo, len(keys)+1)
	for _, k := range append(keys[:3], "never") {
		ch <- minio.ObjectInfo{Key: k}
	}
	close(ch)
	for e := range c.RemoveObjects(ctx, bucket, ch, minio.RemoveObjectsOptions{}) {
		t.Errorf("RemoveObjects: %s: %v", e.ObjectName, e.Err)
	}
	var left []string
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		left = append(left, o.Key)
	}
	if !slices.Equal(left, []string{"r/4"}) {
		t.Errorf("after RemoveObjects: %q, want [r/4]", left)
	}
}

func minioPresigned(t *testing.T, srv *s3Server, m minioMode, c *minio.Client, bucket string) {
	ctx := t.Context()
	client := http.DefaultClient
	if m.tls {
		client = srv.TLS.Client()
	}
	do := func(method string, u *url.URL, body []byte) (int, http.Header, []byte) {
		t.Helper()
		r, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, b
	}
	data := randomBytes(40, 10000)
	pu, err := c.PresignedPutObject(ctx, bucket, "pre/k ey+", time.Hour)
	if err != nil {
		t.Fatalf("PresignedPutObject: %v", err)
	}
	if status, _, body := do(http.MethodPut, pu, data); status != 200 {
		t.Fatalf("presigned PUT: %d %s", status, body)
	}
	params := url.Values{"response-content-type": {"text/x-presigned"}, "response-content-disposition": {"inline"}}
	gu, err := c.PresignedGetObject(ctx, bucket, "pre/k ey+", time.Hour, params)
	if err != nil {
		t.Fatalf("PresignedGetObject: %v", err)
	}
	status, hdr, body := do(http.MethodGet, gu, nil)
	if status != 200 || !bytes.Equal(body, data) {
		t.Fatalf("presigned GET: %d, %d bytes", status, len(body))
	}
	if hdr.Get("Content-Type") != "text/x-presigned" || hdr.Get("Content-Disposition") != "inline" {
		t.Errorf("presigned GET: Content-Type %q Content-Disposition %q", hdr.Get("Content-Type"), hdr.Get("Content-Disposition"))
	}
	hu, err := c.PresignedHeadObject(ctx, bucket, "pre/k ey+", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if status, hdr, _ := do(http.MethodHead, hu, nil); status != 200 || hdr.Get("Content-Length") != "10000" {
		t.Errorf("presigned HEAD: %d, Content-Length %q", status, hdr.Get("Content-Length"))
	}
}

func minioErrors(t *testing.T, srv *s3Server, m minioMode, c *minio.Client, bucket string) {
	ctx := t.Context()
	minioPut(t, c, m, bucket, "exists", []byte("x"))
	_, err := c.StatObject(ctx, bucket, "missing", minio.StatObjectOptions{})
	wantMinioError(t, "StatObject(missing key)", err, "NoSuchKey", 404)
	o, err := c.GetObject(ctx, bucket+"-nope", "k", minio.GetObjectOptions{})
	if err == nil {
		_, err = io.ReadAll(o)
		o.Close()
	}
	wantMinioError(t, "GetObject(missing bucket)", err, "NoSuchBucket", 404)

	wrongSecret := newMinio(t, srv, m, testAccessKey, testSecretKey+"x")
	_, err = wrongSecret.ListBuckets(ctx)
	wantMinioError(t, "ListBuckets(wrong secret)", err, "SignatureDoesNotMatch", 403)
	_, err = wrongSecret.PutObject(ctx, bucket, "exists", strings.NewReader("overwritten"), 11, m.opts)
	wantMinioError(t, "PutObject(wrong secret)", err, "SignatureDoesNotMatch", 403)
	wrongKey := newMinio(t, srv, m, "AKIDOESNOTEXIST00000", testSecretKey)
	_, err = wrongKey.StatObject(ctx, bucket, "exists", minio.StatObjectOptions{})
	if resp := minio.ToErrorResponse(err); err == nil || resp.StatusCode != 403 {
		t.Errorf("StatObject(unknown access key) = %v, want 403", err)
	}
	_, err = wrongKey.ListBuckets(ctx)
	wantMinioError(t, "ListBuckets(unknown access key)", err, "InvalidAccessKeyId", 403)

	o, err = c.GetObject(ctx, bucket, "exists", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	o.Close()
	if err != nil || string(got) != "x" {
		t.Errorf("object after refused writes = %q, %v", got, err)
	}
	if errors.Is(err, io.EOF) {
		t.Errorf("unexpected EOF error")
	}
}
