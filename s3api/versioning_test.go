package s3api_test

import (
	"encoding/xml"
	"net/url"
	"strings"
	"testing"
)

type listVersionsXML struct {
	Name, Prefix        string
	KeyMarker           string
	VersionIdMarker     string
	MaxKeys             int
	IsTruncated         bool
	NextKeyMarker       string
	NextVersionIdMarker string
	Entries             []struct {
		XMLName   xml.Name
		Key       string
		VersionId string
		IsLatest  bool
		ETag      string
	} `xml:",any"`
}

// TestVersioningHTTP checks the versioning headers and bodies over HTTP
// against s3mem.
func TestVersioningHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	// Unversioned: no version header; the object lists as its null version.
	rec := e.mustDo(req{method: "PUT", target: "/bkt1/k", body: []byte("zero")}, 200)
	if v := rec.Header().Get("x-amz-version-id"); v != "" {
		t.Errorf("unversioned PUT: x-amz-version-id %q", v)
	}
	var lv listVersionsXML
	rec = e.mustDo(req{method: "GET", target: "/bkt1?versions"}, 200)
	if err := xml.Unmarshal(rec.Body.Bytes(), &lv); err != nil {
		t.Fatal(err)
	}
	if len(lv.Entries) != 1 || lv.Entries[0].VersionId != "null" || !lv.Entries[0].IsLatest {
		t.Fatalf("unversioned listing: %s", rec.Body.String())
	}
	e.mustDo(req{method: "PUT", target: "/bkt1?versioning", body: []byte("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")}, 200)
	v1 := e.mustDo(req{method: "PUT", target: "/bkt1/k", body: []byte("one")}, 200).Header().Get("x-amz-version-id")
	v2 := e.mustDo(req{method: "PUT", target: "/bkt1/k", body: []byte("two")}, 200).Header().Get("x-amz-version-id")
	if v1 == "" || v2 == "" || v1 == v2 {
		t.Fatalf("version IDs %q %q", v1, v2)
	}
	if got := e.mustDo(req{method: "GET", target: "/bkt1/k?versionId=" + url.QueryEscape(v1)}, 200); got.Body.String() != "one" || got.Header().Get("x-amz-version-id") != v1 {
		t.Errorf("GET v1: %q %v", got.Body.String(), got.Header())
	}
	// A copy of a version that is not current.
	e.mustDo(req{method: "PUT", target: "/bkt2"}, 200)
	rec = e.mustDo(req{method: "PUT", target: "/bkt2/copy", hdr: map[string]string{"x-amz-copy-source": "/bkt1/k?versionId=" + url.QueryEscape(v1)}}, 200)
	if rec.Header().Get("x-amz-copy-source-version-id") != v1 || rec.Header().Get("x-amz-version-id") != "" {
		t.Errorf("copy of v1: %v", rec.Header())
	}
	if got := e.mustDo(req{method: "GET", target: "/bkt2/copy"}, 200); got.Body.String() != "one" {
		t.Errorf("copy of v1: %q", got.Body.String())
	}
	rec = e.mustDo(req{method: "DELETE", target: "/bkt1/k"}, 204)
	dm := rec.Header().Get("x-amz-version-id")
	if rec.Header().Get("x-amz-delete-marker") != "true" || dm == "" {
		t.Fatalf("DELETE: headers %v", rec.Header())
	}
	rec = e.mustDo(req{method: "GET", target: "/bkt1/k"}, 404)
	if rec.Header().Get("x-amz-delete-marker") != "true" || rec.Header().Get("x-amz-version-id") != dm || errorCode(t, rec) != "NoSuchKey" {
		t.Errorf("GET after a delete marker: %v %s", rec.Header(), rec.Body.String())
	}
	rec = e.mustDo(req{method: "GET", target: "/bkt1/k?versionId=" + url.QueryEscape(dm)}, 405)
	if rec.Header().Get("x-amz-delete-marker") != "true" || errorCode(t, rec) != "MethodNotAllowed" {
		t.Errorf("GET of a delete marker: %v %s", rec.Header(), rec.Body.String())
	}
	rec = e.mustDo(req{method: "HEAD", target: "/bkt1/k?versionId=" + url.QueryEscape(dm)}, 405)
	if rec.Header().Get("x-amz-delete-marker") != "true" {
		t.Errorf("HEAD of a delete marker: %v", rec.Header())
	}
	rec = e.mustDo(req{method: "GET", target: "/bkt1?versions&max-keys=2"}, 200)
	lv = listVersionsXML{}
	if err := xml.Unmarshal(rec.Body.Bytes(), &lv); err != nil {
		t.Fatal(err)
	}
	if len(lv.Entries) != 2 || lv.Entries[0].XMLName.Local != "DeleteMarker" || lv.Entries[1].VersionId != v2 ||
		!lv.IsTruncated || lv.NextKeyMarker != "k" || lv.NextVersionIdMarker != v2 {
		t.Fatalf("first page: %s", rec.Body.String())
	}
	rec = e.mustDo(req{method: "GET", target: "/bkt1?versions&key-marker=k&version-id-marker=" + url.QueryEscape(v2)}, 200)
	lv = listVersionsXML{}
	if err := xml.Unmarshal(rec.Body.Bytes(), &lv); err != nil {
		t.Fatal(err)
	}
	if len(lv.Entries) != 2 || lv.Entries[0].VersionId != v1 || lv.Entries[1].VersionId != "null" || lv.IsTruncated {
		t.Fatalf("second page: %s", rec.Body.String())
	}
	if got := errorCode(t, e.mustDo(req{method: "GET", target: "/bkt1?versions&version-id-marker=x"}, 400)); got != "InvalidArgument" {
		t.Errorf("version-id-marker without key-marker: %s", got)
	}
	// DELETE of a version removes it; of the marker, with its header.
	rec = e.mustDo(req{method: "DELETE", target: "/bkt1/k?versionId=" + url.QueryEscape(dm)}, 204)
	if rec.Header().Get("x-amz-delete-marker") != "true" || rec.Header().Get("x-amz-version-id") != dm {
		t.Errorf("DELETE of the marker: %v", rec.Header())
	}
	if got := e.mustDo(req{method: "GET", target: "/bkt1/k"}, 200); got.Body.String() != "two" {
		t.Errorf("after removing the marker: %q", got.Body.String())
	}
	// DeleteObjects with versions.
	body := `<Delete><Object><Key>k</Key><VersionId>` + v2 + `</VersionId></Object><Object><Key>k</Key></Object></Delete>`
	rec = e.mustDo(req{method: "POST", target: "/bkt1?delete", body: []byte(body), hdr: map[string]string{"Content-MD5": md5b64([]byte(body))}}, 200)
	if s := rec.Body.String(); !strings.Contains(s, "<VersionId>"+v2+"</VersionId>") || !strings.Contains(s, "<DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>") {
		t.Errorf("DeleteObjects: %s", s)
	}
}
