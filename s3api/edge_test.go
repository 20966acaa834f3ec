package s3api_test

import (
	"testing"

	"s3mesh/s3api"
)

// TestUnsupportedHeaders: a header asking for what the node does not do is
// refused with the documented code, never acknowledged; what the node does
// do (STANDARD, owner-enforced ownership, a known checksum algorithm) is
// accepted.
func TestUnsupportedHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	tests := []struct {
		header, value string
		code          string // "" accepted
	}{
		{"x-amz-server-side-encryption", "AES256", "NotImplemented"},
		{"x-amz-server-side-encryption", "aws:kms", "NotImplemented"},
		{"x-amz-server-side-encryption", "none", "InvalidArgument"},
		{"x-amz-server-side-encryption-aws-kms-key-id", "k", "NotImplemented"},
		{"x-amz-server-side-encryption-customer-algorithm", "AES256", "NotImplemented"},
		{"x-amz-server-side-encryption-customer-key", "a2V5", "NotImplemented"},
		{"x-amz-server-side-encryption-bucket-key-enabled", "true", "NotImplemented"},
		{"x-amz-object-lock-mode", "COMPLIANCE", "InvalidRequest"},
		{"x-amz-object-lock-retain-until-date", "2030-01-01T00:00:00Z", "InvalidRequest"},
		{"x-amz-object-lock-legal-hold", "ON", "InvalidRequest"},
		{"x-amz-storage-class", "BOGUS", "InvalidStorageClass"},
		{"x-amz-storage-class", "GLACIER", "InvalidStorageClass"},
		{"x-amz-storage-class", "STANDARD", ""},
		{"x-amz-sdk-checksum-algorithm", "MD6", "InvalidRequest"},
		{"x-amz-sdk-checksum-algorithm", "CRC32", ""},
		{"x-amz-website-redirect-location", "/x", "NotImplemented"},
		{"x-amz-mfa", "1 2", "NotImplemented"},
		{"x-amz-write-offset-bytes", "0", "NotImplemented"},
		{"x-amz-expected-bucket-owner", "123456789012", "AccessDenied"},
		{"x-amz-expected-bucket-owner", s3api.DefaultOwnerID, ""},
		{"x-amz-request-payer", "requester", ""},
	}
	for _, tt := range tests {
		rec := e.do(req{method: "PUT", target: "/bkt1/k", body: []byte("x"), hdr: map[string]string{tt.header: tt.value}})
		got := ""
		if rec.Code != 200 {
			got = errorCode(t, rec)
		}
		if got != tt.code {
			t.Errorf("%s: %s: status %d code %q, want %q", tt.header, tt.value, rec.Code, got, tt.code)
		}
	}
	// CreateBucket: Object Lock only when off; ownership only when enforced.
	for _, tt := range []struct {
		header, value string
		code          string
	}{
		{"x-amz-bucket-object-lock-enabled", "true", "NotImplemented"},
		{"x-amz-bucket-object-lock-enabled", "false", ""},
		{"x-amz-object-ownership", "ObjectWriter", "NotImplemented"},
		{"x-amz-object-ownership", "BucketOwnerEnforced", ""},
	} {
		rec := e.do(req{method: "PUT", target: "/bkt2", hdr: map[string]string{tt.header: tt.value}})
		got := ""
		if rec.Code != 200 {
			got = errorCode(t, rec)
		}
		if tt.code == "" && rec.Code == 200 {
			e.mustDo(req{method: "DELETE", target: "/bkt2"}, 204)
		}
		if got != tt.code {
			t.Errorf("CreateBucket %s: %s: status %d code %q, want %q", tt.header, tt.value, rec.Code, got, tt.code)
		}
	}
}
