package s3api_test

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
)

func TestObjectTagging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/k", body: []byte("x"), hdr: map[string]string{"x-amz-tagging": "b=2&a=1&empty="}}, 200)

	type tagSet struct {
		Keys   []string `xml:"TagSet>Tag>Key"`
		Values []string `xml:"TagSet>Tag>Value"`
	}
	get := func() tagSet {
		t.Helper()
		rec := e.mustDo(req{method: "GET", target: "/bkt1/k?tagging"}, 200)
		var ts tagSet
		if err := xml.Unmarshal(rec.Body.Bytes(), &ts); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	if ts := get(); strings.Join(ts.Keys, ",") != "a,b,empty" || strings.Join(ts.Values, ",") != "1,2," {
		t.Errorf("tags from the header: %+v", ts)
	}
	if got := e.mustDo(req{method: "HEAD", target: "/bkt1/k"}, 200).Header().Get("x-amz-tagging-count"); got != "3" {
		t.Errorf("x-amz-tagging-count %q", got)
	}

	body := []byte(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>new</Key><Value>v</Value></Tag></TagSet></Tagging>`)
	e.mustDo(req{method: "PUT", target: "/bkt1/k?tagging", body: body, hdr: map[string]string{"Content-MD5": md5b64(body)}}, 200)
	if ts := get(); strings.Join(ts.Keys, ",") != "new" {
		t.Errorf("tags after PutObjectTagging: %+v", ts)
	}
	if got := e.mustDo(req{method: "GET", target: "/bkt1/k"}, 200).Body.String(); got != "x" {
		t.Errorf("content changed: %q", got)
	}
	e.mustDo(req{method: "DELETE", target: "/bkt1/k?tagging"}, 204)
	if ts := get(); len(ts.Keys) != 0 {
		t.Errorf("tags after DeleteObjectTagging: %+v", ts)
	}
	if got := e.mustDo(req{method: "HEAD", target: "/bkt1/k"}, 200).Header().Get("x-amz-tagging-count"); got != "" {
		t.Errorf("x-amz-tagging-count %q without tags", got)
	}
}

func TestTaggingErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/k", body: []byte("x")}, 200)
	tagBody := func(n int, key, value string) []byte {
		var b strings.Builder
		b.WriteString("<Tagging><TagSet>")
		for i := range n {
			fmt.Fprintf(&b, "<Tag><Key>%s%d</Key><Value>%s</Value></Tag>", key, i, value)
		}
		b.WriteString("</TagSet></Tagging>")
		return []byte(b.String())
	}
	long := strings.Repeat("k", 128)
	tests := []struct {
		name string
		r    req
		code string
	}{
		{"header: 11 tags", req{method: "PUT", target: "/bkt1/h", body: []byte("x"), hdr: map[string]string{"x-amz-tagging": "a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1"}}, "InvalidTag"},
		{"header: key too long", req{method: "PUT", target: "/bkt1/h", body: []byte("x"), hdr: map[string]string{"x-amz-tagging": long + "x=1"}}, "InvalidTag"},
		{"header: value too long", req{method: "PUT", target: "/bkt1/h", body: []byte("x"), hdr: map[string]string{"x-amz-tagging": "k=" + strings.Repeat("v", 257)}}, "InvalidTag"},
		{"header: repeated key", req{method: "PUT", target: "/bkt1/h", body: []byte("x"), hdr: map[string]string{"x-amz-tagging": "k=1&k=2"}}, "InvalidTag"},
		{"header: empty key", req{method: "PUT", target: "/bkt1/h", body: []byte("x"), hdr: map[string]string{"x-amz-tagging": "=1"}}, "InvalidTag"},
		{"header: aws prefix", req{method: "PUT", target: "/bkt1/h", body: []byte("x"), hdr: map[string]string{"x-amz-tagging": "aws:k=1"}}, "InvalidTag"},
		{"header: bad escape", req{method: "PUT", target: "/bkt1/h", body: []byte("x"), hdr: map[string]string{"x-amz-tagging": "k=%zz"}}, "InvalidArgument"},
		{"body: 11 tags", req{method: "PUT", target: "/bkt1/k?tagging", body: tagBody(11, "k", "v")}, "InvalidTag"},
		{"body: value too long", req{method: "PUT", target: "/bkt1/k?tagging", body: tagBody(1, "k", strings.Repeat("v", 257))}, "InvalidTag"},
		{"body: malformed", req{method: "PUT", target: "/bkt1/k?tagging", body: []byte("<Tagging><TagSet>")}, "MalformedXML"},
		{"body: empty", req{method: "PUT", target: "/bkt1/k?tagging"}, "MissingRequestBodyError"},
		{"body: bad Content-MD5", req{method: "PUT", target: "/bkt1/k?tagging", body: tagBody(1, "k", "v"), hdr: map[string]string{"Content-MD5": md5b64([]byte("other"))}}, "BadDigest"},
		{"missing key", req{method: "PUT", target: "/bkt1/nope?tagging", body: tagBody(1, "k", "v")}, "NoSuchKey"},
		{"get missing key", req{method: "GET", target: "/bkt1/nope?tagging"}, "NoSuchKey"},
		{"get other version", req{method: "GET", target: "/bkt1/k?tagging&versionId=abc"}, "InvalidArgument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := e.do(tt.r)
			if got := errorCode(t, rec); got != tt.code {
				t.Fatalf("code %q (status %d), want %q", got, rec.Code, tt.code)
			}
		})
	}
	// 10 tags of the longest key and value are fine.
	e.mustDo(req{method: "PUT", target: "/bkt1/k?tagging", body: tagBody(10, strings.Repeat("k", 127), strings.Repeat("日", 256))}, 200)
}
