package s3api_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
	"s3mesh/s3api/s3mem"
)

// plainStore hides the optional roles of the store it wraps.
type plainStore struct{ s3api.ObjectStore }

var crc32IEEE = crc32.IEEETable

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// crcSum returns the big-endian CRC-32 of data with table tab.
func crcSum(tab *crc32.Table, data []byte) []byte {
	v := crc32.Checksum(data, tab)
	return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

func md5hex(data []byte) string { s := md5.Sum(data); return hex.EncodeToString(s[:]) }

// multipartETag is the ETag S3 gives a multipart object.
func multipartETag(parts ...[]byte) string {
	var cat []byte
	for _, p := range parts {
		s := md5.Sum(p)
		cat = append(cat, s[:]...)
	}
	s := md5.Sum(cat)
	return hex.EncodeToString(s[:]) + "-" + strconv.Itoa(len(parts))
}

// createUpload starts an upload of target and returns its ID.
func createUpload(e *env, target string, hdr map[string]string) string {
	e.t.Helper()
	rec := e.mustDo(req{method: "POST", target: target + "?uploads", hdr: hdr}, 200)
	var body struct {
		Bucket   string `xml:"Bucket"`
		Key      string `xml:"Key"`
		UploadID string `xml:"UploadId"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.UploadID == "" {
		e.t.Fatalf("InitiateMultipartUploadResult: %v\n%s", err, rec.Body.String())
	}
	return body.UploadID
}

// uploadPart uploads one part and returns its ETag header.
func uploadPart(e *env, target, id string, n int, data []byte, hdr map[string]string) string {
	e.t.Helper()
	rec := e.mustDo(req{method: "PUT", target: fmt.Sprintf("%s?partNumber=%d&uploadId=%s", target, n, id), body: data, hdr: hdr}, 200)
	return rec.Header().Get("ETag")
}

// xmlPart is one Part of a CompleteMultipartUpload body.
type xmlPart struct {
	n     int
	etag  string
	extra string // further elements, such as a checksum
}

func completeBody(parts ...xmlPart) []byte {
	var b strings.Builder
	b.WriteString(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	for _, p := range parts {
		fmt.Fprintf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag>%s</Part>", p.n, p.etag, p.extra)
	}
	b.WriteString(`</CompleteMultipartUpload>`)
	return []byte(b.String())
}

type completeResult struct {
	Location       string `xml:"Location"`
	Bucket         string `xml:"Bucket"`
	Key            string `xml:"Key"`
	ETag           string `xml:"ETag"`
	ChecksumCRC32  string `xml:"ChecksumCRC32"`
	ChecksumCRC32C string `xml:"ChecksumCRC32C"`
	ChecksumType   string `xml:"ChecksumType"`
}

func TestMultipartUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	part1 := bytes.Repeat([]byte("a"), s3api.MinPartSize)
	part2 := []byte("the last part")
	id := createUpload(e, "/bkt1/dir/obj", map[string]string{
		"Content-Type":             "text/plain",
		"x-amz-meta-color":         "blue",
		"x-amz-tagging":            "k1=v1&k%202=v%262",
		"x-amz-checksum-algorithm": "crc32",
		"x-amz-acl":                "private",
	})
	c1, c2 := crcSum(crc32.IEEETable, part1), crcSum(crc32.IEEETable, part2)
	rec := e.mustDo(req{method: "PUT", target: "/bkt1/dir/obj?partNumber=1&uploadId=" + id, body: part1,
		hdr: map[string]string{"x-amz-checksum-crc32": b64(c1)}}, 200)
	if got := rec.Header().Get("ETag"); got != `"`+md5hex(part1)+`"` {
		t.Errorf("part 1 ETag %s", got)
	}
	if got := rec.Header().Get("x-amz-checksum-crc32"); got != b64(c1) {
		t.Errorf("part 1 checksum echo %q", got)
	}
	etag2 := uploadPart(e, "/bkt1/dir/obj", id, 2, part2, map[string]string{"x-amz-checksum-crc32": b64(c2)})

	// ListParts, one page at a time.
	rec = e.mustDo(req{method: "GET", target: "/bkt1/dir/obj?uploadId=" + id + "&max-parts=1"}, 200)
	var lp struct {
		IsTruncated          bool   `xml:"IsTruncated"`
		NextPartNumberMarker int    `xml:"NextPartNumberMarker"`
		StorageClass         string `xml:"StorageClass"`
		ChecksumAlgorithm    string `xml:"ChecksumAlgorithm"`
		ChecksumType         string `xml:"ChecksumType"`
		OwnerID              string `xml:"Owner>ID"`
		InitiatorID          string `xml:"Initiator>ID"`
		Parts                []struct {
			PartNumber    int    `xml:"PartNumber"`
			ETag          string `xml:"ETag"`
			Size          int64  `xml:"Size"`
			ChecksumCRC32 string `xml:"ChecksumCRC32"`
		} `xml:"Part"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &lp); err != nil {
		t.Fatal(err)
	}
	if !lp.IsTruncated || lp.NextPartNumberMarker != 1 || len(lp.Parts) != 1 || lp.Parts[0].Size != int64(len(part1)) ||
		lp.Parts[0].ChecksumCRC32 != b64(c1) || lp.StorageClass != "STANDARD" || lp.ChecksumAlgorithm != "CRC32" ||
		lp.ChecksumType != "COMPOSITE" || lp.OwnerID == "" || lp.InitiatorID == "" {
		t.Errorf("ListParts page 1: %+v\n%s", lp, rec.Body.String())
	}
	rec = e.mustDo(req{method: "GET", target: "/bkt1/dir/obj?uploadId=" + id + "&part-number-marker=1"}, 200)
	lp.Parts = nil
	if err := xml.Unmarshal(rec.Body.Bytes(), &lp); err != nil {
		t.Fatal(err)
	}
	if lp.IsTruncated || len(lp.Parts) != 1 || lp.Parts[0].PartNumber != 2 || lp.Parts[0].ETag != etag2 {
		t.Errorf("ListParts page 2: %+v", lp)
	}

	// ListMultipartUploads sees the upload.
	rec = e.mustDo(req{method: "GET", target: "/bkt1?uploads&prefix=dir/"}, 200)
	if !strings.Contains(rec.Body.String(), "<UploadId>"+id+"</UploadId>") || !strings.Contains(rec.Body.String(), "<Key>dir/obj</Key>") {
		t.Errorf("ListMultipartUploads:\n%s", rec.Body.String())
	}

	rec = e.mustDo(req{method: "POST", target: "/bkt1/dir/obj?uploadId=" + id, body: completeBody(
		xmlPart{1, `"` + md5hex(part1) + `"`, "<ChecksumCRC32>" + b64(c1) + "</ChecksumCRC32>"},
		xmlPart{2, "&quot;" + md5hex(part2) + "&quot;", ""},
	)}, 200)
	var cr completeResult
	if err := xml.Unmarshal(rec.Body.Bytes(), &cr); err != nil {
		t.Fatal(err)
	}
	wantComposite := b64(crcSum(crc32.IEEETable, append(append([]byte{}, c1...), c2...))) + "-2"
	if cr.ETag != `"`+multipartETag(part1, part2)+`"` || cr.Bucket != "bkt1" || cr.Key != "dir/obj" ||
		cr.Location != "http://localhost:9000/bkt1/dir/obj" || cr.ChecksumCRC32 != wantComposite || cr.ChecksumType != "COMPOSITE" {
		t.Errorf("CompleteMultipartUploadResult %+v, want composite %s", cr, wantComposite)
	}

	// The object: content, metadata, tags, checksum, parts.
	rec = e.mustDo(req{method: "GET", target: "/bkt1/dir/obj", hdr: map[string]string{"x-amz-checksum-mode": "ENABLED"}}, 200)
	if !bytes.Equal(rec.Body.Bytes(), append(append([]byte{}, part1...), part2...)) {
		t.Error("content differs")
	}
	for k, v := range map[string]string{
		"Content-Type": "text/plain", "x-amz-meta-color": "blue", "x-amz-tagging-count": "2",
		"x-amz-mp-parts-count": "2", "x-amz-checksum-crc32": wantComposite, "x-amz-checksum-type": "COMPOSITE",
	} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	rec = e.mustDo(req{method: "GET", target: "/bkt1/dir/obj?tagging"}, 200)
	if !strings.Contains(rec.Body.String(), "<Tag><Key>k 2</Key><Value>v&amp;2</Value></Tag>") {
		t.Errorf("tags:\n%s", rec.Body.String())
	}

	// The upload is gone.
	e.mustDo(req{method: "GET", target: "/bkt1/dir/obj?uploadId=" + id}, 404)
}

func TestGetObjectPartNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	part1 := bytes.Repeat([]byte("x"), s3api.MinPartSize)
	part2 := []byte("0123456789")
	id := createUpload(e, "/bkt1/mp", nil)
	t1 := uploadPart(e, "/bkt1/mp", id, 1, part1, nil)
	t2 := uploadPart(e, "/bkt1/mp", id, 2, part2, nil)
	e.mustDo(req{method: "POST", target: "/bkt1/mp?uploadId=" + id, body: completeBody(xmlPart{1, t1, ""}, xmlPart{2, t2, ""})}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/single", body: []byte("hello")}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/empty", body: []byte{}}, 200)
	total := strconv.Itoa(len(part1) + len(part2))

	tests := []struct {
		name, method, target string
		hdr                  map[string]string
		status               int
		code                 string
		contentRange, parts  string
		body                 string
		length               string
	}{
		{name: "part 2", method: "GET", target: "/bkt1/mp?partNumber=2", status: 206,
			contentRange: fmt.Sprintf("bytes %d-%d/%s", len(part1), len(part1)+9, total), parts: "2", body: "0123456789", length: "10"},
		{name: "head part 1", method: "HEAD", target: "/bkt1/mp?partNumber=1", status: 206,
			contentRange: fmt.Sprintf("bytes 0-%d/%s", len(part1)-1, total), parts: "2", length: strconv.Itoa(len(part1))},
		{name: "plain head", method: "HEAD", target: "/bkt1/mp", status: 200, parts: "2", length: total},
		{name: "beyond the count", method: "GET", target: "/bkt1/mp?partNumber=3", status: 400, code: "InvalidPartNumber"},
		{name: "head beyond the count", method: "HEAD", target: "/bkt1/mp?partNumber=3", status: 400},
		{name: "zero", method: "GET", target: "/bkt1/mp?partNumber=0", status: 400, code: "InvalidArgument"},
		{name: "not a number", method: "GET", target: "/bkt1/mp?partNumber=x", status: 400, code: "InvalidArgument"},
		{name: "with a range", method: "GET", target: "/bkt1/mp?partNumber=1", hdr: map[string]string{"Range": "bytes=0-1"}, status: 400, code: "InvalidRequest"},
		{name: "single part 1", method: "GET", target: "/bkt1/single?partNumber=1", status: 206, contentRange: "bytes 0-4/5", body: "hello", length: "5"},
		{name: "single part 2", method: "GET", target: "/bkt1/single?partNumber=2", status: 400, code: "InvalidPartNumber"},
		{name: "empty part 1", method: "GET", target: "/bkt1/empty?partNumber=1", status: 200, length: "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := e.mustDo(req{method: tt.method, target: tt.target, hdr: tt.hdr}, tt.status)
			if tt.code != "" {
				if got := errorCode(t, rec); got != tt.code {
					t.Fatalf("code %q, want %q", got, tt.code)
				}
				return
			}
			h := rec.Header()
			if h.Get("Content-Range") != tt.contentRange || h.Get("x-amz-mp-parts-count") != tt.parts || h.Get("Content-Length") != tt.length {
				t.Errorf("Content-Range %q parts %q length %q", h.Get("Content-Range"), h.Get("x-amz-mp-parts-count"), h.Get("Content-Length"))
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Errorf("body %q", rec.Body.String())
			}
		})
	}
}

func TestMultipartFullObjectChecksum(t *testing.T) {
	t.Parallel()
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	rec := e.mustDo(req{method: "POST", target: "/bkt1/o?uploads", hdr: map[string]string{
		"x-amz-checksum-algorithm": "CRC32C", "x-amz-checksum-type": "FULL_OBJECT"}}, 200)
	if rec.Header().Get("x-amz-checksum-algorithm") != "CRC32C" || rec.Header().Get("x-amz-checksum-type") != "FULL_OBJECT" {
		t.Errorf("create headers %v", rec.Header())
	}
	var init struct {
		UploadID string `xml:"UploadId"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &init); err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{bytes.Repeat([]byte{1, 2, 3}, s3api.MinPartSize/3+1), bytes.Repeat([]byte("q"), s3api.MinPartSize), []byte("tail")}
	var xp []xmlPart
	var whole []byte
	for i, p := range parts {
		sum := b64(crcSum(castagnoli, p))
		etag := uploadPart(e, "/bkt1/o", init.UploadID, i+1, p, map[string]string{"x-amz-checksum-crc32c": sum})
		xp = append(xp, xmlPart{i + 1, etag, "<ChecksumCRC32C>" + sum + "</ChecksumCRC32C>"})
		whole = append(whole, p...)
	}
	want := b64(crcSum(castagnoli, whole))
	// A wrong whole-object checksum in the request fails the completion.
	rec = e.mustDo(req{method: "POST", target: "/bkt1/o?uploadId=" + init.UploadID, body: completeBody(xp...),
		hdr: map[string]string{"x-amz-checksum-crc32c": b64([]byte{0, 0, 0, 0})}}, 400)
	if got := errorCode(t, rec); got != "BadDigest" {
		t.Fatalf("code %q", got)
	}
	rec = e.mustDo(req{method: "POST", target: "/bkt1/o?uploadId=" + init.UploadID, body: completeBody(xp...),
		hdr: map[string]string{"x-amz-checksum-crc32c": want, "x-amz-mp-object-size": strconv.Itoa(len(whole))}}, 200)
	var cr completeResult
	if err := xml.Unmarshal(rec.Body.Bytes(), &cr); err != nil {
		t.Fatal(err)
	}
	if cr.ChecksumCRC32C != want || cr.ChecksumType != "FULL_OBJECT" {
		t.Errorf("complete: %+v, want CRC32C %s", cr, want)
	}
	rec = e.mustDo(req{method: "HEAD", target: "/bkt1/o", hdr: map[string]string{"x-amz-checksum-mode": "ENABLED"}}, 200)
	if rec.Header().Get("x-amz-checksum-crc32c") != want || rec.Header().Get("x-amz-checksum-type") != "FULL_OBJECT" {
		t.Errorf("HEAD checksum headers %v", rec.Header())
	}
}

func TestCreateMultipartUploadErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	tests := []struct {
		name string
		hdr  map[string]string
		code string
	}{
		{"unknown algorithm", map[string]string{"x-amz-checksum-algorithm": "MD4"}, "InvalidRequest"},
		{"type without algorithm", map[string]string{"x-amz-checksum-type": "COMPOSITE"}, "InvalidRequest"},
		{"unknown type", map[string]string{"x-amz-checksum-algorithm": "CRC32", "x-amz-checksum-type": "PARTIAL"}, "InvalidRequest"},
		{"full-object SHA256", map[string]string{"x-amz-checksum-algorithm": "SHA256", "x-amz-checksum-type": "FULL_OBJECT"}, "InvalidRequest"},
		{"composite CRC64NVME", map[string]string{"x-amz-checksum-algorithm": "CRC64NVME", "x-amz-checksum-type": "COMPOSITE"}, "InvalidRequest"},
		{"too many tags", map[string]string{"x-amz-tagging": "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11"}, "InvalidTag"},
		{"public ACL", map[string]string{"x-amz-acl": "public-read"}, "NotImplemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := e.do(req{method: "POST", target: "/bkt1/k?uploads", hdr: tt.hdr})
			if got := errorCode(t, rec); got != tt.code {
				t.Fatalf("code %q (status %d), want %q", got, rec.Code, tt.code)
			}
		})
	}
	rec := e.do(req{method: "POST", target: "/nobucket/k?uploads"})
	if got := errorCode(t, rec); got != "NoSuchBucket" {
		t.Errorf("missing bucket: %q", got)
	}
	rec = e.mustDo(req{method: "POST", target: "/bkt1/k?uploads", hdr: map[string]string{"x-amz-checksum-algorithm": "crc64nvme"}}, 200)
	if rec.Header().Get("x-amz-checksum-type") != "FULL_OBJECT" {
		t.Errorf("CRC64NVME default type %q", rec.Header().Get("x-amz-checksum-type"))
	}
}

func TestUploadPartErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	id := createUpload(e, "/bkt1/k", nil)
	minusOne := int64(-1)
	tests := []struct {
		name   string
		target string
		r      req
		code   string
	}{
		{"part 0", "/bkt1/k?partNumber=0&uploadId=" + id, req{body: []byte("x")}, "InvalidArgument"},
		{"part 10001", "/bkt1/k?partNumber=10001&uploadId=" + id, req{body: []byte("x")}, "InvalidArgument"},
		{"no such upload", "/bkt1/k?partNumber=1&uploadId=nope", req{body: []byte("x")}, "NoSuchUpload"},
		{"bad Content-MD5", "/bkt1/k?partNumber=1&uploadId=" + id, req{body: []byte("x"), hdr: map[string]string{"Content-MD5": b64(make([]byte, 16))}}, "BadDigest"},
		{"bad checksum", "/bkt1/k?partNumber=1&uploadId=" + id, req{body: []byte("x"), hdr: map[string]string{"x-amz-checksum-crc32": b64(make([]byte, 4))}}, "BadDigest"},
		{"no length", "/bkt1/k?partNumber=1&uploadId=" + id, req{body: []byte("x"), length: &minusOne}, "MissingContentLength"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.r
			r.method, r.target = "PUT", tt.target
			rec := e.do(r)
			if got := errorCode(t, rec); got != tt.code {
				t.Fatalf("code %q (status %d), want %q", got, rec.Code, tt.code)
			}
		})
	}
	// Nothing was stored by the failed uploads.
	rec := e.mustDo(req{method: "GET", target: "/bkt1/k?uploadId=" + id}, 200)
	if strings.Contains(rec.Body.String(), "<Part>") {
		t.Errorf("a failed part was stored:\n%s", rec.Body.String())
	}
}

func TestCompleteMultipartUploadErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	id := createUpload(e, "/bkt1/k", map[string]string{"x-amz-checksum-algorithm": "CRC32"})
	small := []byte("small")
	sum := b64(crcSum(crc32.IEEETable, small))
	etag := uploadPart(e, "/bkt1/k", id, 1, small, map[string]string{"x-amz-checksum-crc32": sum})
	etag2 := uploadPart(e, "/bkt1/k", id, 2, small, map[string]string{"x-amz-checksum-crc32": sum})
	tests := []struct {
		name   string
		body   []byte
		hdr    map[string]string
		target string
		code   string
	}{
		{name: "garbage", body: []byte("<CompleteMultipartUpload><Part>"), code: "MalformedXML"},
		{name: "wrong root", body: []byte("<Complete></Complete>"), code: "MalformedXML"},
		{name: "empty list", body: completeBody(), code: "MalformedXML"},
		{name: "empty body", body: []byte{}, code: "MalformedXML"},
		{name: "part 0", body: completeBody(xmlPart{0, etag, ""}), code: "InvalidArgument"},
		{name: "part 10001", body: completeBody(xmlPart{10001, etag, ""}), code: "InvalidArgument"},
		{name: "descending", body: completeBody(xmlPart{2, etag2, ""}, xmlPart{1, etag, ""}), code: "InvalidPartOrder"},
		{name: "repeated", body: completeBody(xmlPart{1, etag, ""}, xmlPart{1, etag, ""}), code: "InvalidPartOrder"},
		{name: "wrong ETag", body: completeBody(xmlPart{1, `"` + md5hex([]byte("other")) + `"`, ""}), code: "InvalidPart"},
		{name: "missing part", body: completeBody(xmlPart{3, etag, ""}), code: "InvalidPart"},
		{name: "wrong part checksum", body: completeBody(xmlPart{1, etag, "<ChecksumCRC32>AAAAAA==</ChecksumCRC32>"}), code: "InvalidPart"},
		{name: "too small", body: completeBody(xmlPart{1, etag, ""}, xmlPart{2, etag2, ""}), code: "EntityTooSmall"},
		{name: "wrong object size", body: completeBody(xmlPart{1, etag, ""}), hdr: map[string]string{"x-amz-mp-object-size": "99"}, code: "InvalidRequest"},
		{name: "If-Match on a missing key", body: completeBody(xmlPart{1, etag, ""}), hdr: map[string]string{"If-Match": `"abc"`}, code: "NoSuchKey"},
		{name: "no such upload", target: "/bkt1/k?uploadId=nope", body: completeBody(xmlPart{1, etag, ""}), code: "NoSuchUpload"},
	}
	var tooMany []xmlPart
	for i := 1; i <= s3api.MaxParts+1; i++ {
		tooMany = append(tooMany, xmlPart{i, etag, ""})
	}
	tests = append(tests, struct {
		name   string
		body   []byte
		hdr    map[string]string
		target string
		code   string
	}{name: "10001 parts", body: completeBody(tooMany...), code: "InvalidArgument"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = "/bkt1/k?uploadId=" + id
			}
			rec := e.do(req{method: "POST", target: target, body: tt.body, hdr: tt.hdr})
			if got := errorCode(t, rec); got != tt.code {
				t.Fatalf("code %q (status %d), want %q\n%s", got, rec.Code, tt.code, rec.Body.String())
			}
		})
	}
	// The upload survived every failed completion.
	rec := e.mustDo(req{method: "POST", target: "/bkt1/k?uploadId=" + id, body: completeBody(xmlPart{1, etag, "<ChecksumCRC32>" + sum + "</ChecksumCRC32>"})}, 200)
	var cr completeResult
	if err := xml.Unmarshal(rec.Body.Bytes(), &cr); err != nil {
		t.Fatal(err)
	}
	if want := b64(crcSum(crc32.IEEETable, mustB64(t, sum))) + "-1"; cr.ChecksumCRC32 != want {
		t.Errorf("composite of one part %q, want %q", cr.ChecksumCRC32, want)
	}
	// If-None-Match: * now fails: the key exists.
	id2 := createUpload(e, "/bkt1/k", nil)
	t2 := uploadPart(e, "/bkt1/k", id2, 1, small, nil)
	rec = e.do(req{method: "POST", target: "/bkt1/k?uploadId=" + id2, body: completeBody(xmlPart{1, t2, ""}), hdr: map[string]string{"If-None-Match": "*"}})
	if got := errorCode(t, rec); got != "PreconditionFailed" {
		t.Errorf("If-None-Match: code %q", got)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAbortMultipartUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	id := createUpload(e, "/bkt1/k", nil)
	uploadPart(e, "/bkt1/k", id, 1, []byte("x"), nil)
	e.mustDo(req{method: "DELETE", target: "/bkt1/k?uploadId=" + id}, 204)
	rec := e.mustDo(req{method: "GET", target: "/bkt1/k?uploadId=" + id}, 404)
	if got := errorCode(t, rec); got != "NoSuchUpload" {
		t.Errorf("ListParts after abort: %q", got)
	}
	rec = e.mustDo(req{method: "DELETE", target: "/bkt1/k?uploadId=" + id}, 404)
	if got := errorCode(t, rec); got != "NoSuchUpload" {
		t.Errorf("second abort: %q", got)
	}
}

func TestListMultipartUploads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	ids := map[string]string{}
	for _, k := range []string{"a/1", "a/2", "b c", "z"} {
		ids[k] = createUpload(e, "/bkt1/"+escapeKey(k), nil)
	}
	type result struct {
		IsTruncated        bool     `xml:"IsTruncated"`
		NextKeyMarker      string   `xml:"NextKeyMarker"`
		NextUploadIDMarker string   `xml:"NextUploadIdMarker"`
		Keys               []string `xml:"Upload>Key"`
		StorageClass       []string `xml:"Upload>StorageClass"`
		Prefixes           []string `xml:"CommonPrefixes>Prefix"`
		EncodingType       string   `xml:"EncodingType"`
		MaxUploads         int      `xml:"MaxUploads"`
	}
	get := func(query string) result {
		t.Helper()
		rec := e.mustDo(req{method: "GET", target: "/bkt1?uploads" + query}, 200)
		var res result
		if err := xml.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := get(""); strings.Join(res.Keys, ",") != "a/1,a/2,b c,z" || res.IsTruncated || res.StorageClass[0] != "STANDARD" {
		t.Errorf("all: %+v", res)
	}
	if res := get("&delimiter=/"); strings.Join(res.Keys, ",") != "b c,z" || strings.Join(res.Prefixes, ",") != "a/" {
		t.Errorf("delimiter: %+v", res)
	}
	res := get("&max-uploads=2")
	if !res.IsTruncated || strings.Join(res.Keys, ",") != "a/1,a/2" || res.NextKeyMarker != "a/2" || res.NextUploadIDMarker != ids["a/2"] {
		t.Errorf("page 1: %+v", res)
	}
	if res := get("&key-marker=" + res.NextKeyMarker + "&upload-id-marker=" + res.NextUploadIDMarker); strings.Join(res.Keys, ",") != "b c,z" {
		t.Errorf("page 2: %+v", res)
	}
	if res := get("&encoding-type=url&prefix=b"); strings.Join(res.Keys, ",") != "b%20c" || res.EncodingType != "url" {
		t.Errorf("url encoding: %+v", res)
	}
	if res := get("&max-uploads=0"); len(res.Keys) != 0 || res.MaxUploads != 0 {
		t.Errorf("max-uploads=0: %+v", res)
	}
	for _, q := range []string{"&max-uploads=-1", "&max-uploads=x", "&encoding-type=base64"} {
		if got := errorCode(t, e.do(req{method: "GET", target: "/bkt1?uploads" + q})); got != "InvalidArgument" {
			t.Errorf("%s: code %q", q, got)
		}
	}
	if got := errorCode(t, e.do(req{method: "GET", target: "/nobucket?uploads"})); got != "NoSuchBucket" {
		t.Errorf("missing bucket: %q", got)
	}
}

func TestUploadPartCopy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt2"}, 200)
	src := []byte("0123456789abcdef")
	srcTag := e.mustDo(req{method: "PUT", target: "/bkt2/src", body: src}, 200).Header().Get("ETag")
	id := createUpload(e, "/bkt1/dst", nil)
	tests := []struct {
		name   string
		hdr    map[string]string
		status int
		code   string
		want   string // the part's content
	}{
		{name: "whole", hdr: map[string]string{"x-amz-copy-source": "bkt2/src"}, status: 200, want: string(src)},
		{name: "range", hdr: map[string]string{"x-amz-copy-source": "/bkt2/src", "x-amz-copy-source-range": "bytes=2-5"}, status: 200, want: "2345"},
		{name: "if-match", hdr: map[string]string{"x-amz-copy-source": "/bkt2/src", "x-amz-copy-source-if-match": srcTag}, status: 200, want: string(src)},
		{name: "range past the end", hdr: map[string]string{"x-amz-copy-source": "/bkt2/src", "x-amz-copy-source-range": "bytes=10-16"}, status: 416, code: "InvalidRange"},
		{name: "bad range", hdr: map[string]string{"x-amz-copy-source": "/bkt2/src", "x-amz-copy-source-range": "bytes=5-2"}, status: 400, code: "InvalidArgument"},
		{name: "suffix range", hdr: map[string]string{"x-amz-copy-source": "/bkt2/src", "x-amz-copy-source-range": "bytes=-2"}, status: 400, code: "InvalidArgument"},
		{name: "if-match fails", hdr: map[string]string{"x-amz-copy-source": "/bkt2/src", "x-amz-copy-source-if-match": `"nope"`}, status: 412, code: "PreconditionFailed"},
		{name: "if-none-match fails", hdr: map[string]string{"x-amz-copy-source": "/bkt2/src", "x-amz-copy-source-if-none-match": srcTag}, status: 412, code: "PreconditionFailed"},
		{name: "missing source", hdr: map[string]string{"x-amz-copy-source": "/bkt2/nope"}, status: 404, code: "NoSuchKey"},
		{name: "bad source", hdr: map[string]string{"x-amz-copy-source": "bkt2"}, status: 400, code: "InvalidArgument"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.mustDo(req{method: "PUT", target: fmt.Sprintf("/bkt1/dst?partNumber=%d&uploadId=%s", i+1, id), hdr: tt.hdr}, tt.status)
			if tt.code != "" {
				if got := errorCode(t, rec); got != tt.code {
					t.Fatalf("code %q, want %q", got, tt.code)
				}
				return
			}
			var res struct {
				ETag         string `xml:"ETag"`
				LastModified string `xml:"LastModified"`
			}
			if err := xml.Unmarshal(rec.Body.Bytes(), &res); err != nil || !strings.Contains(rec.Body.String(), "<CopyPartResult") {
				t.Fatalf("CopyPartResult: %v\n%s", err, rec.Body.String())
			}
			if res.ETag != `"`+md5hex([]byte(tt.want))+`"` || res.LastModified == "" {
				t.Errorf("result %+v, want ETag of %q", res, tt.want)
			}
		})
	}
}

// TestMultipartNotImplemented checks that a store without the roles is
// answered NotImplemented for every operation that needs one.
func TestMultipartNotImplemented(t *testing.T) {
	t.Parallel()
	e := newEnvStore(t, plainStore{s3mem.New()})
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/src", body: []byte("x")}, 200)
	for _, r := range []req{
		{method: "POST", target: "/bkt1/k?uploads"},
		{method: "PUT", target: "/bkt1/k?partNumber=1&uploadId=x", body: []byte("x")},
		{method: "PUT", target: "/bkt1/k?partNumber=1&uploadId=x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/src"}},
		{method: "POST", target: "/bkt1/k?uploadId=x", body: completeBody(xmlPart{1, "x", ""})},
		{method: "DELETE", target: "/bkt1/k?uploadId=x"},
		{method: "GET", target: "/bkt1/k?uploadId=x"},
		{method: "GET", target: "/bkt1?uploads"},
		{method: "PUT", target: "/bkt1/k", hdr: map[string]string{"x-amz-copy-source": "/bkt1/src"}},
		{method: "PUT", target: "/bkt1/src?tagging", body: []byte("<Tagging><TagSet/></Tagging>")},
		{method: "DELETE", target: "/bkt1/src?tagging"},
	} {
		t.Run(r.method+" "+r.target, func(t *testing.T) {
			rec := e.do(r)
			if rec.Code != http.StatusNotImplemented || errorCode(t, rec) != "NotImplemented" {
				t.Fatalf("status %d body %s, want 501 NotImplemented", rec.Code, rec.Body.String())
			}
		})
	}
}

// FuzzCompleteMultipartUploadXML checks the CompleteMultipartUpload body
// parser: never a panic, an S3 error of the documented codes for a bad
// body, and for a good one 1..10,000 parts in strictly ascending order
// with numbers in 1..10,000 and unquoted ETags.
func FuzzCompleteMultipartUploadXML(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a54357aff0632cce46d942af68356b38"</ETag></Part>` +
		`<Part><PartNumber>2</PartNumber><ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>&quot;x&quot;</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber></Part><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>99999999999999999999</PartNumber></Part></CompleteMultipartUpload>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		parts, err := s3api.ParseCompleteMultipartUpload(data)
		if err != nil {
			e, ok := s3err.As(err)
			if !ok {
				t.Fatalf("error %v carries no S3 code", err)
			}
			switch e.Code {
			case s3err.ErrMalformedXML, s3err.ErrInvalidArgument, s3err.ErrInvalidPartOrder:
			default:
				t.Fatalf("unexpected code %s", e.Code)
			}
			return
		}
		if len(parts) == 0 || len(parts) > s3api.MaxParts {
			t.Fatalf("%d parts", len(parts))
		}
		for i, p := range parts {
			if p.PartNumber < 1 || p.PartNumber > s3api.MaxParts || (i > 0 && p.PartNumber <= parts[i-1].PartNumber) {
				t.Fatalf("part %d numbered %d", i, p.PartNumber)
			}
			if strings.HasPrefix(p.ETag, `"`) && strings.HasSuffix(p.ETag, `"`) && len(p.ETag) >= 2 {
				t.Fatalf("ETag %q still quoted", p.ETag)
			}
		}
	})
}
