package s3api_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/internal/checksum"
	"s3mesh/s3api/s3err"
)

func deleteBody(quiet bool, keys ...string) []byte {
	var b strings.Builder
	b.WriteString(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	if quiet {
		b.WriteString("<Quiet>true</Quiet>")
	}
	for _, k := range keys {
		b.WriteString("<Object><Key>")
		_ = xml.EscapeText(&b, []byte(k))
		b.WriteString("</Key></Object>")
	}
	b.WriteString("</Delete>")
	return []byte(b.String())
}

type deleteResultXML struct {
	Deleted []struct{ Key string }
	Error   []struct{ Key, Code, Message string }
}

func TestDeleteObject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/k", body: []byte("x")}, 200)
	e.mustDo(req{method: "DELETE", target: "/bkt1/k"}, 204)
	e.mustDo(req{method: "GET", target: "/bkt1/k"}, 404)
	e.mustDo(req{method: "DELETE", target: "/bkt1/k"}, 204)
	if got := errorCode(t, e.do(req{method: "DELETE", target: "/nosuchbucket/k"})); got != "NoSuchBucket" {
		t.Errorf("code %q", got)
	}
}

func TestDeleteObjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	for _, k := range []string{"a", "b", "c<&>"} {
		e.mustDo(req{method: "PUT", target: "/bkt1/" + escapeKey(k), body: []byte("x")}, 200)
	}
	body := deleteBody(false, "a", "c<&>", "missing", strings.Repeat("k", 1025))
	rec := e.mustDo(req{method: "POST", target: "/bkt1?delete", body: body, hdr: map[string]string{"Content-MD5": md5b64(body)}}, 200)
	var res deleteResultXML
	if err := xml.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 3 || res.Deleted[0].Key != "a" || res.Deleted[1].Key != "c<&>" || res.Deleted[2].Key != "missing" {
		t.Errorf("Deleted %+v", res.Deleted)
	}
	if len(res.Error) != 1 || res.Error[0].Code != "KeyTooLongError" {
		t.Errorf("Error %+v", res.Error)
	}
	if _, err := e.store.HeadObject(context.Background(), "bkt1", "a"); !errors.Is(err, s3err.ErrNoSuchKey) {
		t.Errorf("a not deleted: %v", err)
	}
	// Quiet, with a checksum instead of Content-MD5.
	body = deleteBody(true, "b")
	rec = e.mustDo(req{method: "POST", target: "/bkt1?delete", body: body,
		hdr: map[string]string{"x-amz-checksum-crc32": checksum.Sum(checksum.CRC32, body)}}, 200)
	res = deleteResultXML{}
	if err := xml.Unmarshal(rec.Body.Bytes(), &res); err != nil || len(res.Deleted) != 0 || len(res.Error) != 0 {
		t.Errorf("quiet result %s (%v)", rec.Body.String(), err)
	}

	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprint("k", i)
	}
	tooMany := deleteBody(false, many...)
	ok := deleteBody(false, "x")
	for _, tt := range []struct {
		name string
		r    req
		code string
	}{
		{"no digest", req{body: ok}, "InvalidRequest"},
		{"md5 mismatch", req{body: ok, hdr: map[string]string{"Content-MD5": md5b64([]byte("y"))}}, "BadDigest"},
		{"checksum mismatch", req{body: ok, hdr: map[string]string{"x-amz-checksum-sha256": checksum.Sum(checksum.SHA256, []byte("y"))}}, "BadDigest"},
		{"garbage", req{body: []byte("garbage"), hdr: map[string]string{"Content-MD5": md5b64([]byte("garbage"))}}, "MalformedXML"},
		{"no objects", req{body: []byte("<Delete/>"), hdr: map[string]string{"Content-MD5": md5b64([]byte("<Delete/>"))}}, "MalformedXML"},
		{"too many", req{body: tooMany, hdr: map[string]string{"Content-MD5": md5b64(tooMany)}}, "MalformedXML"},
		{"no bucket", req{target: "/nosuchbucket?delete", body: ok, hdr: map[string]string{"Content-MD5": md5b64(ok)}}, "NoSuchBucket"},
	} {
		tt.r.method = "POST"
		if tt.r.target == "" {
			tt.r.target = "/bkt1?delete"
		}
		if got := errorCode(t, e.do(tt.r)); got != tt.code {
			t.Errorf("%s: code %q, want %q", tt.name, got, tt.code)
		}
	}
}

// FuzzDeleteObjectsXML checks the DeleteObjects body parser never panics,
// rejects with MalformedXML only, and accepts 1 to 1000 objects.
func FuzzDeleteObjectsXML(f *testing.F) {
	f.Add(deleteBody(false, "a", "b/c"))
	f.Add(deleteBody(true, "sample1.txt"))
	f.Add([]byte(`<Delete><Object><Key>k</Key><VersionId>v</VersionId></Object></Delete>`))
	f.Add([]byte(`<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>`))
	f.Add([]byte(`<Delete>`))
	f.Add([]byte(`<Delete/><Delete/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := s3api.ParseDeleteRequest(data)
		if err != nil {
			if !errors.Is(err, s3err.ErrMalformedXML) {
				t.Fatalf("error %v is not MalformedXML", err)
			}
			return
		}
		if len(req.Keys) == 0 || len(req.Keys) > 1000 {
			t.Fatalf("accepted %d objects", len(req.Keys))
		}
	})
}
