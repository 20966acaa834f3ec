package s3api_test

import (
	"bytes"
	"encoding/xml"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/internal/checksum"
)

type objectAttributesXML struct {
	ETag     string
	Checksum *struct {
		ChecksumCRC32 string
		ChecksumType  string
	}
	ObjectParts *struct {
		TotalPartsCount      int
		NextPartNumberMarker int
		IsTruncated          bool
		Part                 []struct{ PartNumber, Size int64 }
	}
	StorageClass string
	ObjectSize   *int64
}

func TestGetObjectAttributes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	body := []byte("hello")
	e.mustDo(req{method: "PUT", target: "/bkt1/single", body: body, hdr: map[string]string{"x-amz-checksum-crc32": checksum.Sum(checksum.CRC32, body)}}, 200)
	part1 := bytes.Repeat([]byte("x"), s3api.MinPartSize)
	part2 := []byte("0123456789")
	id := createUpload(e, "/bkt1/mp", nil)
	t1 := uploadPart(e, "/bkt1/mp", id, 1, part1, nil)
	t2 := uploadPart(e, "/bkt1/mp", id, 2, part2, nil)
	e.mustDo(req{method: "POST", target: "/bkt1/mp?uploadId=" + id, body: completeBody(xmlPart{1, t1, ""}, xmlPart{2, t2, ""})}, 200)

	attrs := func(target, attrs string, extra map[string]string) objectAttributesXML {
		t.Helper()
		hdr := map[string]string{"x-amz-object-attributes": attrs}
		for k, v := range extra {
			hdr[k] = v
		}
		rec := e.mustDo(req{method: "GET", target: target, hdr: hdr}, 200)
		var out objectAttributesXML
		if err := xml.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		if rec.Header().Get("Last-Modified") == "" {
			t.Errorf("%s: no Last-Modified", target)
		}
		return out
	}
	got := attrs("/bkt1/single?attributes", "ETag,Checksum,ObjectParts,StorageClass,ObjectSize", nil)
	if got.ETag != "5d41402abc4b2a76b9719d911017c592" || got.Checksum == nil || got.Checksum.ChecksumCRC32 == "" ||
		got.Checksum.ChecksumType != "FULL_OBJECT" || got.ObjectParts != nil || got.StorageClass != "STANDARD" || got.ObjectSize == nil || *got.ObjectSize != 5 {
		t.Errorf("single: %+v", got)
	}
	got = attrs("/bkt1/single?attributes", "ObjectSize", nil)
	if got.ETag != "" || got.StorageClass != "" || got.ObjectSize == nil {
		t.Errorf("ObjectSize only: %+v", got)
	}
	got = attrs("/bkt1/mp?attributes", "ObjectParts", map[string]string{"x-amz-max-parts": "1"})
	if p := got.ObjectParts; p == nil || p.TotalPartsCount != 2 || !p.IsTruncated || len(p.Part) != 1 || p.NextPartNumberMarker != 1 || p.Part[0].Size != int64(len(part1)) {
		t.Errorf("parts, page 1: %+v", got.ObjectParts)
	}
	got = attrs("/bkt1/mp?attributes", "ObjectParts", map[string]string{"x-amz-part-number-marker": "1"})
	if p := got.ObjectParts; p == nil || p.IsTruncated || len(p.Part) != 1 || p.Part[0].PartNumber != 2 || p.Part[0].Size != 10 {
		t.Errorf("parts, page 2: %+v", got.ObjectParts)
	}
	for _, tt := range []struct {
		target string
		hdr    map[string]string
		status int
		code   string
	}{
		{"/bkt1/single?attributes", nil, 400, "InvalidArgument"},
		{"/bkt1/single?attributes", map[string]string{"x-amz-object-attributes": "Owner"}, 400, "InvalidArgument"},
		{"/bkt1/missing?attributes", map[string]string{"x-amz-object-attributes": "ETag"}, 404, "NoSuchKey"},
		{"/nobucket/k?attributes", map[string]string{"x-amz-object-attributes": "ETag"}, 404, "NoSuchBucket"},
	} {
		if got := errorCode(t, e.mustDo(req{method: "GET", target: tt.target, hdr: tt.hdr}, tt.status)); got != tt.code {
			t.Errorf("%s %v: %s, want %s", tt.target, tt.hdr, got, tt.code)
		}
	}
}
