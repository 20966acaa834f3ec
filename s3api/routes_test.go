package s3api_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// TestResolve checks the routing of the request forms in the S3 API
// reference examples, path style and virtual-hosted style.
func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, target string
		host           string
		hdr            map[string]string
		op             s3api.Op
		bucket, key    string
	}{
		// Service.
		{method: "GET", target: "/", op: "ListBuckets"},
		{method: "GET", target: "/", host: "s3.example.com", op: "ListBuckets"},
		{method: "POST", target: "/?Action=AssumeRole", op: "Unknown"},
		// Buckets.
		{method: "PUT", target: "/examplebucket", op: "CreateBucket", bucket: "examplebucket"},
		{method: "PUT", target: "/examplebucket/", op: "CreateBucket", bucket: "examplebucket"},
		{method: "HEAD", target: "/examplebucket", op: "HeadBucket", bucket: "examplebucket"},
		{method: "DELETE", target: "/examplebucket", op: "DeleteBucket", bucket: "examplebucket"},
		{method: "GET", target: "/examplebucket?location", op: "GetBucketLocation", bucket: "examplebucket"},
		{method: "GET", target: "/examplebucket?location=", op: "GetBucketLocation", bucket: "examplebucket"},
		{method: "GET", target: "/examplebucket?list-type=2", op: "ListObjectsV2", bucket: "examplebucket"},
		{method: "GET", target: "/examplebucket?list-type=2&max-keys=3&prefix=E&start-after=ExampleGuide.pdf", op: "ListObjectsV2", bucket: "examplebucket"},
		{method: "GET", target: "/examplebucket?list-type=1", op: "ListObjects", bucket: "examplebucket"},
		{method: "GET", target: "/quotes?prefix=N&marker=Ned&max-keys=40", op: "ListObjects", bucket: "quotes"},
		{method: "GET", target: "/examplebucket/?delimiter=/&prefix=photos/2006/", op: "ListObjects", bucket: "examplebucket"},
		{method: "POST", target: "/examplebucket?delete", op: "DeleteObjects", bucket: "examplebucket"},
		{method: "GET", target: "/examplebucket?uploads", op: "ListMultipartUploads", bucket: "examplebucket"},
		{method: "GET", target: "/examplebucket?versions", op: "ListObjectVersions", bucket: "examplebucket"},
		{method: "GET", target: "/examplebucket?acl", op: "GetBucketAcl", bucket: "examplebucket"},
		{method: "PUT", target: "/examplebucket?tagging", op: "PutBucketTagging", bucket: "examplebucket"},
		{method: "PUT", target: "/examplebucket?versioning", op: "PutBucketVersioning", bucket: "examplebucket"},
		{method: "GET", target: "/examplebucket?policyStatus", op: "GetBucketPolicyStatus", bucket: "examplebucket"},
		{method: "DELETE", target: "/examplebucket?policy", op: "DeleteBucketPolicy", bucket: "examplebucket"},
		{method: "PUT", target: "/examplebucket?lifecycle", op: "PutBucketLifecycleConfiguration", bucket: "examplebucket"},
		{method: "POST", target: "/examplebucket", op: "PostObject", bucket: "examplebucket"},
		// Objects.
		{method: "PUT", target: "/examplebucket/my-image.jpg", op: "PutObject", bucket: "examplebucket", key: "my-image.jpg"},
		{method: "GET", target: "/examplebucket/my-image.jpg", op: "GetObject", bucket: "examplebucket", key: "my-image.jpg"},
		{method: "GET", target: "/examplebucket/my-image.jpg?versionId=null", op: "GetObject", bucket: "examplebucket", key: "my-image.jpg"},
		{method: "GET", target: "/examplebucket/my-image.jpg?response-content-type=text/plain", op: "GetObject", bucket: "examplebucket", key: "my-image.jpg"},
		{method: "HEAD", target: "/examplebucket/my-image.jpg", op: "HeadObject", bucket: "examplebucket", key: "my-image.jpg"},
		{method: "DELETE", target: "/examplebucket/my-image.jpg", op: "DeleteObject", bucket: "examplebucket", key: "my-image.jpg"},
		{method: "PUT", target: "/examplebucket/my-image.jpg", hdr: map[string]string{"x-amz-copy-source": "/bucket/source"}, op: "CopyObject", bucket: "examplebucket", key: "my-image.jpg"},
		{method: "POST", target: "/examplebucket/example-object?uploads", op: "CreateMultipartUpload", bucket: "examplebucket", key: "example-object"},
		{method: "PUT", target: "/examplebucket/my-movie.m2ts?partNumber=1&uploadId=VCVsb2FkIElEIGZvciBlbZZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZR", op: "UploadPart", bucket: "examplebucket", key: "my-movie.m2ts"},
		{method: "PUT", target: "/examplebucket/my-movie.m2ts?partNumber=1&uploadId=X", hdr: map[string]string{"x-amz-copy-source": "/b/k"}, op: "UploadPartCopy", bucket: "examplebucket", key: "my-movie.m2ts"},
		{method: "POST", target: "/examplebucket/example-object?uploadId=AAAsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA", op: "CompleteMultipartUpload", bucket: "examplebucket", key: "example-object"},
		{method: "DELETE", target: "/examplebucket/example-object?uploadId=X", op: "AbortMultipartUpload", bucket: "examplebucket", key: "example-object"},
		{method: "GET", target: "/examplebucket/example-object?uploadId=X&max-parts=2", op: "ListParts", bucket: "examplebucket", key: "example-object"},
		{method: "GET", target: "/examplebucket/example-object?tagging", op: "GetObjectTagging", bucket: "examplebucket", key: "example-object"},
		{method: "PUT", target: "/examplebucket/example-object?tagging", op: "PutObjectTagging", bucket: "examplebucket", key: "example-object"},
		{method: "GET", target: "/examplebucket/my-image.jpg?acl", op: "GetObjectAcl", bucket: "examplebucket", key: "my-image.jpg"},
		{method: "PUT", target: "/examplebucket?acl", op: "PutBucketAcl", bucket: "examplebucket"},
		{method: "GET", target: "/examplebucket?versioning", op: "GetBucketVersioning", bucket: "examplebucket"},
		{method: "GET", target: "/examplebucket?uploads&prefix=a&delimiter=/&max-uploads=3&key-marker=k&upload-id-marker=u", op: "ListMultipartUploads", bucket: "examplebucket"},
		{method: "GET", target: "/example-bucket/example-object?partNumber=2", op: "GetObject", bucket: "example-bucket", key: "example-object"},
		{method: "HEAD", target: "/example-bucket/example-object?partNumber=2", op: "HeadObject", bucket: "example-bucket", key: "example-object"},
		{method: "PUT", target: "/", host: "examplebucket.s3.example.com", hdr: map[string]string{"x-amz-copy-source": "/bucket/source"}, op: "CreateBucket", bucket: "examplebucket"},
		{method: "PUT", target: "/k?partNumber=3&uploadId=u", host: "examplebucket.s3.example.com", hdr: map[string]string{"x-amz-copy-source": "/b/k"}, op: "UploadPartCopy", bucket: "examplebucket", key: "k"},
		{method: "POST", target: "/k?uploads", host: "examplebucket.s3.example.com", op: "CreateMultipartUpload", bucket: "examplebucket", key: "k"},
		{method: "DELETE", target: "/examplebucket/example-object?tagging", op: "DeleteObjectTagging", bucket: "examplebucket", key: "example-object"},
		{method: "PUT", target: "/examplebucket/example-object?acl", op: "PutObjectAcl", bucket: "examplebucket", key: "example-object"},
		{method: "POST", target: "/examplebucket/example-object?restore", op: "RestoreObject", bucket: "examplebucket", key: "example-object"},
		{method: "POST", target: "/examplebucket/example-object?select&select-type=2", op: "SelectObjectContent", bucket: "examplebucket", key: "example-object"},
		{method: "GET", target: "/examplebucket/example-object?attributes", op: "GetObjectAttributes", bucket: "examplebucket", key: "example-object"},
		{method: "POST", target: "/examplebucket/example-object", op: "Unknown", bucket: "examplebucket", key: "example-object"},
		{method: "PATCH", target: "/examplebucket/example-object", op: "Unknown", bucket: "examplebucket", key: "example-object"},
		// Keys that must survive the router untouched.
		{method: "GET", target: "/b12/a//b", op: "GetObject", bucket: "b12", key: "a//b"},
		{method: "GET", target: "/b12//lead", op: "GetObject", bucket: "b12", key: "/lead"},
		{method: "GET", target: "/b12/../x", op: "GetObject", bucket: "b12", key: "../x"},
		{method: "GET", target: "/b12/%2E%2E%2Fx", op: "GetObject", bucket: "b12", key: "../x"},
		{method: "GET", target: "/b12/dir/", op: "GetObject", bucket: "b12", key: "dir/"},
		{method: "GET", target: "/b12/a%2Fb", op: "GetObject", bucket: "b12", key: "a/b"},
		{method: "GET", target: "/b12/a%20b+c%25d%3B", op: "GetObject", bucket: "b12", key: "a b+c%d;"},
		{method: "GET", target: "/b12/%E6%97%A5%E6%9C%AC", op: "GetObject", bucket: "b12", key: "日本"},
		// Semicolons in the query (a raw ';' in a presigned X-Amz-SignedHeaders).
		{method: "GET", target: "/b12/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host;x-amz-date&X-Amz-Signature=00", op: "GetObject", bucket: "b12", key: "k"},
		{method: "GET", target: "/b12?list-type=2&prefix=a;b", op: "ListObjectsV2", bucket: "b12"},
		{method: "GET", target: "/b12?acl;x=1", op: "ListObjects", bucket: "b12"},
		// Virtual-hosted style.
		{method: "GET", target: "/", host: "examplebucket.s3.example.com", op: "ListObjects", bucket: "examplebucket"},
		{method: "GET", target: "/?list-type=2", host: "examplebucket.s3.example.com:9000", op: "ListObjectsV2", bucket: "examplebucket"},
		{method: "PUT", target: "/", host: "examplebucket.s3.example.com", op: "CreateBucket", bucket: "examplebucket"},
		{method: "GET", target: "/photos/puppy.jpg", host: "examplebucket.s3.example.com", op: "GetObject", bucket: "examplebucket", key: "photos/puppy.jpg"},
		{method: "GET", target: "/a//b", host: "My.Bucket.S3.Example.Com", op: "GetObject", bucket: "my.bucket", key: "a//b"},
		{method: "POST", target: "/?delete", host: "examplebucket.s3.example.com", op: "DeleteObjects", bucket: "examplebucket"},
		{method: "GET", target: "/k", host: "otherhost.example.org", op: "ListObjects", bucket: "k"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.host+tt.target, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tt.method, "http://localhost"+tt.target, nil)
			if tt.host != "" {
				r.Host = tt.host
			}
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			op, bucket, key, err := s3api.Resolve([]string{"s3.example.com"}, r)
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if op != tt.op || bucket != tt.bucket || key != tt.key {
				t.Fatalf("resolve = (%s, %q, %q), want (%s, %q, %q)", op, bucket, key, tt.op, tt.bucket, tt.key)
			}
		})
	}
}

// TestRoutesNamed checks the routing table: every op is a distinct AWS
// name, and the served ones are in it.
func TestRoutesNamed(t *testing.T) {
	t.Parallel()
	ops := s3api.Routes()
	for _, op := range []s3api.Op{
		s3api.OpListBuckets, s3api.OpCreateBucket, s3api.OpHeadBucket, s3api.OpDeleteBucket,
		s3api.OpGetBucketLocation, s3api.OpPutObject, s3api.OpGetObject, s3api.OpHeadObject,
		s3api.OpDeleteObject, s3api.OpDeleteObjects, s3api.OpListObjects, s3api.OpListObjectsV2,
		s3api.OpCreateMultipartUpload, s3api.OpUploadPart, s3api.OpUploadPartCopy,
		s3api.OpCompleteMultipartUpload, s3api.OpAbortMultipartUpload, s3api.OpListParts,
		s3api.OpListMultipartUploads, s3api.OpCopyObject, s3api.OpGetObjectTagging,
		s3api.OpPutObjectTagging, s3api.OpDeleteObjectTagging, s3api.OpGetObjectAcl,
		s3api.OpPutObjectAcl, s3api.OpGetBucketAcl, s3api.OpPutBucketAcl, s3api.OpGetBucketVersioning,
	} {
		if !slices.Contains(ops, op) || !s3api.Served(op) {
			t.Errorf("%s not routed and served", op)
		}
	}
	for _, op := range ops {
		if op == "" || op == s3api.OpUnknown {
			t.Errorf("bad op %q in the table", op)
		}
	}
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	got := s3api.ParseQuery("a=1&b&c=x;y&d=%zz&e=%2B+&&a=2")
	want := url.Values{"a": {"1", "2"}, "b": {""}, "c": {"x;y"}, "d": {"%zz"}, "e": {"+ "}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// FuzzResolveOp checks that routing is total: every request gets an
// operation from the table or Unknown, and never a panic.
func FuzzResolveOp(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "/", ""},
		{"PUT", "/bucket/key", ""},
		{"GET", "/bucket", "list-type=2&prefix=a;b"},
		{"POST", "/bucket/key", "uploads"},
		{"PUT", "/bucket/a//b", "partNumber=1&uploadId=x"},
		{"GET", "/bucket/%2e%2e/x", "X-Amz-SignedHeaders=host;x-amz-date"},
		{"DELETE", "//", "tagging"},
	} {
		f.Add(s[0], s[1], s[2], "")
		f.Add(s[0], s[1], s[2], "bucket.s3.example.com")
	}
	ops := s3api.Routes()
	f.Fuzz(func(t *testing.T, method, path, query, host string) {
		u := &url.URL{Path: path, RawQuery: query}
		if p, err := url.PathUnescape(path); err == nil {
			u.Path, u.RawPath = p, path
		}
		r := &http.Request{Method: method, URL: u, Host: host, Header: http.Header{}}
		op, _, _, err := s3api.Resolve([]string{"s3.example.com"}, r)
		if err != nil {
			if !errors.Is(err, s3err.ErrInvalidURI) {
				t.Fatalf("error %v is not InvalidURI", err)
			}
			return
		}
		if op != s3api.OpUnknown && !slices.Contains(ops, op) {
			t.Fatalf("op %q not in the table", op)
		}
	})
}
