package s3api_test

import (
	"strings"
	"testing"
)

const ownerACL = `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>s3mesh</ID></Owner><AccessControlList>` +
	`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>s3mesh</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>` +
	`</AccessControlList></AccessControlPolicy>`

const publicACL = `<AccessControlPolicy><Owner><ID>s3mesh</ID></Owner><AccessControlList>` +
	`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>s3mesh</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>` +
	`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>` +
	`</AccessControlList></AccessControlPolicy>`

func TestGetACL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/k", body: []byte("x")}, 200)
	want := `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>s3mesh</ID><DisplayName>s3mesh</DisplayName></Owner>` +
		`<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>s3mesh</ID><DisplayName>s3mesh</DisplayName></Grantee>` +
		`<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`
	for _, target := range []string{"/bkt1?acl", "/bkt1/k?acl"} {
		rec := e.mustDo(req{method: "GET", target: target}, 200)
		if got := strings.TrimPrefix(rec.Body.String(), `<?xml version="1.0" encoding="UTF-8"?>`+"\n"); got != want {
			t.Errorf("%s:\n%s\nwant\n%s", target, got, want)
		}
	}
	for target, code := range map[string]string{"/nobucket?acl": "NoSuchBucket", "/bkt1/nope?acl": "NoSuchKey"} {
		if got := errorCode(t, e.do(req{method: "GET", target: target})); got != code {
			t.Errorf("%s: code %q, want %q", target, got, code)
		}
	}
}

func TestPutACL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/k", body: []byte("x")}, 200)
	tests := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"bucket private", req{target: "/bkt1?acl", hdr: map[string]string{"x-amz-acl": "private"}}, 200, ""},
		{"object owner full control", req{target: "/bkt1/k?acl", hdr: map[string]string{"x-amz-acl": "bucket-owner-full-control"}}, 200, ""},
		{"object owner-only body", req{target: "/bkt1/k?acl", body: []byte(ownerACL)}, 200, ""},
		{"bucket owner-only body", req{target: "/bkt1?acl", body: []byte(ownerACL)}, 200, ""},
		{"bucket public-read", req{target: "/bkt1?acl", hdr: map[string]string{"x-amz-acl": "public-read"}}, 501, "NotImplemented"},
		{"object public body", req{target: "/bkt1/k?acl", body: []byte(publicACL)}, 501, "NotImplemented"},
		{"grant header", req{target: "/bkt1/k?acl", hdr: map[string]string{"x-amz-grant-read": "uri=http://acs.amazonaws.com/groups/global/AllUsers"}}, 501, "NotImplemented"},
		{"unknown canned ACL", req{target: "/bkt1/k?acl", hdr: map[string]string{"x-amz-acl": "everyone"}}, 400, "InvalidArgument"},
		{"header and body", req{target: "/bkt1/k?acl", body: []byte(ownerACL), hdr: map[string]string{"x-amz-acl": "private"}}, 400, "InvalidRequest"},
		{"nothing", req{target: "/bkt1/k?acl"}, 400, "MissingRequestBodyError"},
		{"malformed", req{target: "/bkt1/k?acl", body: []byte("<AccessControlPolicy>")}, 400, "MalformedXML"},
		{"missing object", req{target: "/bkt1/nope?acl", hdr: map[string]string{"x-amz-acl": "private"}}, 404, "NoSuchKey"},
		{"PutObject public-read", req{target: "/bkt1/p", body: []byte("x"), hdr: map[string]string{"x-amz-acl": "public-read"}}, 501, "NotImplemented"},
		{"PutObject private", req{target: "/bkt1/p", body: []byte("x"), hdr: map[string]string{"x-amz-acl": "private"}}, 200, ""},
		{"CreateBucket public-read-write", req{target: "/bkt2", hdr: map[string]string{"x-amz-acl": "public-read-write"}}, 501, "NotImplemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.r
			r.method = "PUT"
			rec := e.mustDo(r, tt.status)
			if tt.code != "" {
				if got := errorCode(t, rec); got != tt.code {
					t.Fatalf("code %q, want %q", got, tt.code)
				}
			}
		})
	}
}

func TestGetBucketVersioning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	rec := e.mustDo(req{method: "GET", target: "/bkt1?versioning"}, 200)
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></VersioningConfiguration>`
	if rec.Body.String() != want {
		t.Errorf("body:\n%s", rec.Body.String())
	}
	if got := errorCode(t, e.do(req{method: "GET", target: "/nobucket?versioning"})); got != "NoSuchBucket" {
		t.Errorf("missing bucket: %q", got)
	}
	e.mustDo(req{method: "PUT", target: "/bkt1?versioning", body: []byte("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")}, 200)
	rec = e.mustDo(req{method: "GET", target: "/bkt1?versioning"}, 200)
	if want := `<Status>Enabled</Status>`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("after PutBucketVersioning:\n%s", rec.Body.String())
	}
	for _, body := range []string{"<x/>", "<VersioningConfiguration><Status>On</Status></VersioningConfiguration>"} {
		if got := errorCode(t, e.mustDo(req{method: "PUT", target: "/bkt1?versioning", body: []byte(body)}, 400)); got != "MalformedXML" {
			t.Errorf("PutBucketVersioning(%s): %q", body, got)
		}
	}
	if got := errorCode(t, e.mustDo(req{method: "PUT", target: "/bkt1?versioning", body: []byte("<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>")}, 501)); got != "NotImplemented" {
		t.Errorf("PutBucketVersioning with MFA delete: %q", got)
	}
}
