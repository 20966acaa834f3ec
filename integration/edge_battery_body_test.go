package integration

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// contentLength: bodies shorter or longer than announced, and lengths
// net/http cannot parse.
func (g *batteryGen) contentLength() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	sizes := []int{1, 1000, 8192, 16384, 65536, 100 << 10}
	targets := []struct {
		name, path, query string
	}{
		{"PutObject", "/ref/a", ""},
		{"UploadPart", "/scratch/open", "partNumber=2&uploadId=" + g.upload},
	}
	for _, tgt := range targets {
		for _, n := range sizes {
			data := randomBytes(uint64(n), n)
			for _, mode := range []string{"signed", "unsigned"} {
				s := spec{method: "PUT", path: tgt.path, query: tgt.query, body: data}
				if mode == "unsigned" {
					s.payload = "UNSIGNED-PAYLOAD"
				}
				full := tg.v4(t, s)
				head := len(full.bytes()) - n
				for _, sent := range []int{0, n / 2, n - 1} {
					if sent == n || (sent == 0 && n == 1 && false) {
						continue
					}
					name := fmt.Sprintf("%s/%s/%d of %d", tgt.name, mode, sent, n)
					out = append(out,
						bcase{name: name + "/fin", w: full, send: head + sent, end: "fin", want: []string{"IncompleteBody"}},
						bcase{name: name + "/stall", w: full, send: head + sent, end: "stall", want: []string{"RequestTimeout"}},
					)
				}
				// Longer than announced: the announced part does not
				// match its signature; the rest is a malformed request.
				if mode == "signed" {
					short := full.clone().set("Content-Length", strconv.Itoa(n/2))
					out = append(out, bcase{name: fmt.Sprintf("%s/%s/announced %d of %d", tgt.name, mode, n/2, n), w: short, want: []string{"XAmzContentSHA256Mismatch"}})
				}
			}
		}
	}
	for _, cl := range []string{"-1", "abc", "1e3", "10, 20", "0x10", "99999999999999999999", " "} {
		w := tg.v4(t, spec{method: "PUT", path: "/ref/a", body: []byte("0123456789")}).set("Content-Length", cl)
		out = append(out, bcase{name: "invalid " + cl, w: w, want: []string{"InvalidRequest"}})
	}
	w := tg.v4(t, spec{method: "PUT", path: "/ref/a", body: []byte("0123456789")}).add("Content-Length", "11")
	out = append(out, bcase{name: "two lengths", w: w, want: []string{"InvalidRequest"}})
	for _, te := range []string{"gzip", "chunked, gzip", "identity", "deflate"} {
		w := tg.v4(t, spec{method: "PUT", path: "/ref/a", body: []byte("0123456789")}).del("Content-Length").set("Transfer-Encoding", te)
		out = append(out, bcase{name: "transfer-encoding " + te, w: w, want: []string{"NotImplemented", "InvalidRequest"}})
	}
	// Chunked transfer coding that breaks off or lies.
	for _, body := range []string{"5\r\nabc", "zz\r\nabc\r\n0\r\n\r\n", "3\r\nabcdef\r\n0\r\n\r\n", "3\r\nabc\r\n"} {
		w := tg.v4(t, spec{method: "PUT", path: "/ref/a", payload: "UNSIGNED-PAYLOAD"}).del("Content-Length").set("Transfer-Encoding", "chunked")
		w.body = []byte(body)
		// S3 wants a length beside the chunked coding: refused before the
		// body is read.
		out = append(out, bcase{name: fmt.Sprintf("chunked %q", body), w: w, end: "fin", want: []string{"MissingContentLength", "IncompleteBody"}})
	}
	// No length at all on a PUT: S3 requires one.
	w = tg.v4(t, spec{method: "PUT", path: "/ref/a"}).del("Content-Length")
	out = append(out, bcase{name: "no length", w: w, want: []string{"MissingContentLength"}, ok: false})
	return out
}

// halfClose: complete, valid requests whose client half-closes after
// sending them: carried out in full and acknowledged.
func (g *batteryGen) halfClose() []bcase {
	t, tg := g.t, g.tg
	g.written = map[string][]byte{}
	var out []bcase
	for i, n := range []int{0, 1, 1000, 1 << 16, 300 << 10} {
		for _, mode := range []string{"signed", "unsigned", "chunked", "presigned"} {
			key := fmt.Sprintf("hc/%s/%d", mode, n)
			data := randomBytes(uint64(100+i), n)
			var w *wire
			switch mode {
			case "signed":
				w = tg.v4(t, spec{method: "PUT", path: "/scratch/" + key, body: data})
			case "unsigned":
				w = tg.v4(t, spec{method: "PUT", path: "/scratch/" + key, body: data, payload: "UNSIGNED-PAYLOAD"})
			case "chunked":
				if n == 0 {
					continue
				}
				w, _ = tg.streaming(t, "/scratch/"+key, data, 64<<10, nil)
			case "presigned":
				w = tg.presign(t, spec{method: "PUT", path: "/scratch/" + key, body: data}, tg.region, signTimeNow(), 300)
			}
			g.written[key] = data
			out = append(out, bcase{name: "PutObject/" + key, w: w, end: "fin", ok: true})
		}
	}
	for i := range 4 {
		b := fmt.Sprintf("hc-bucket-%d", i)
		g.createdBuckets = append(g.createdBuckets, b)
		out = append(out, bcase{name: "CreateBucket/" + b, w: tg.v4(t, spec{method: "PUT", path: "/" + b}), end: "fin", ok: true})
	}
	g.written["hc/copy"] = nil // copied from ref/empty
	out = append(out,
		bcase{name: "CopyObject", w: tg.v4(t, spec{method: "PUT", path: "/scratch/hc/copy", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/empty"}}}), end: "fin", ok: true},
		bcase{name: "GetObject", w: tg.v4(t, spec{method: "GET", path: "/ref/b"}), end: "fin", ok: true},
		bcase{name: "HeadObject", w: tg.v4(t, spec{method: "HEAD", path: "/ref/big"}), end: "fin", ok: true},
		bcase{name: "ListObjectsV2", w: tg.v4(t, spec{method: "GET", path: "/ref", query: "list-type=2"}), end: "fin", ok: true},
		bcase{name: "UploadPart", w: tg.v4(t, spec{method: "PUT", path: "/scratch/open", query: "partNumber=3&uploadId=" + g.upload, body: randomBytes(9, 1000)}), end: "fin", ok: true},
	)
	return out
}

// stalls: requests that stop before their end.
func (g *batteryGen) stalls() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	put := tg.v4(t, spec{method: "PUT", path: "/ref/a", body: randomBytes(7, 100<<10)})
	raw := put.bytes()
	head := len(raw) - len(put.body)
	for _, n := range []int{1, 4, 10, 17, 40, head / 2, head - 3, head - 1} {
		out = append(out, bcase{name: fmt.Sprintf("header %d of %d", n, head), w: put, send: n, end: "stall", want: []string{"RequestTimeout"}})
	}
	for _, n := range []int{0, 1, 1000, 50 << 10, 100<<10 - 1} {
		out = append(out, bcase{name: fmt.Sprintf("body %d of %d", n, 100<<10), w: put, send: head + n, end: "stall", want: []string{"RequestTimeout"}})
	}
	get := tg.v4(t, spec{method: "GET", path: "/ref/b"})
	for _, n := range []int{5, 30} {
		out = append(out, bcase{name: fmt.Sprintf("get header %d", n), w: get, send: n, end: "stall", want: []string{"RequestTimeout"}})
	}
	// A connection that sends nothing is closed (no request to answer).
	out = append(out, bcase{name: "silent", w: &wire{method: "GET"}, send: -1, end: "stall", close: true})
	// One byte, then nothing: the request is cut short.
	out = append(out, bcase{name: "one byte", w: get, send: 1, end: "stall", want: []string{"RequestTimeout"}})
	chunkedPut, _ := tg.streaming(t, "/ref/a", randomBytes(8, 100<<10), 64<<10, nil)
	craw := chunkedPut.bytes()
	chead := len(craw) - len(chunkedPut.body)
	for _, n := range []int{10, 100, 70000} {
		out = append(out, bcase{name: fmt.Sprintf("aws-chunked body %d", n), w: chunkedPut, send: chead + n, end: "stall", want: []string{"RequestTimeout"}})
	}
	return out
}

// awsChunked: streaming-signature bodies, corrupted.
func (g *batteryGen) awsChunked() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	for _, n := range []int{1, 8192, 65536, 150000} {
		data := randomBytes(uint64(n)+7, n)
		mk := func() (*wire, *chunked) { return tg.streaming(t, "/ref/a", data, 64<<10, nil) }
		type mut struct {
			name string
			f    func(w *wire, c *chunked)
			want []string
		}
		muts := []mut{
			{"chunk signature", func(w *wire, c *chunked) { c.sigs[0] = strings.Repeat("0", 64); w.body = c.encode() }, []string{"SignatureDoesNotMatch"}},
			{"final signature", func(w *wire, c *chunked) { c.finalSig = strings.Repeat("1", 64); w.body = c.encode() }, []string{"SignatureDoesNotMatch"}},
			{"chunk data", func(w *wire, c *chunked) {
				c.chunks[0] = bytes.Clone(c.chunks[0])
				c.chunks[0][0] ^= 1
				w.body = c.encode()
			}, []string{"SignatureDoesNotMatch"}},
			{"no final chunk", func(w *wire, c *chunked) {
				w.body = w.body[:bytes.LastIndex(w.body, []byte("0;chunk-signature"))]
				w.set("Content-Length", strconv.Itoa(len(w.body)))
			}, []string{"IncompleteBody"}},
			{"decoded length larger", func(w *wire, c *chunked) { w.set("X-Amz-Decoded-Content-Length", strconv.Itoa(n+1)) }, []string{"SignatureDoesNotMatch"}},
			{"decoded length missing", func(w *wire, c *chunked) { w.del("X-Amz-Decoded-Content-Length") }, []string{"MissingContentLength", "SignatureDoesNotMatch"}},
			{"size not hex", func(w *wire, c *chunked) {
				w.body = append([]byte("zz"), w.body[len(strconv.FormatInt(int64(len(c.chunks[0])), 16)):]...)
			}, []string{"InvalidRequest", "IncompleteBody"}},
			{"size too large", func(w *wire, c *chunked) {
				w.body = append([]byte("fffffffffff"), w.body[len(strconv.FormatInt(int64(len(c.chunks[0])), 16)):]...)
			}, []string{"InvalidRequest", "EntityTooLarge"}},
			{"no signature", func(w *wire, c *chunked) {
				w.body = bytes.Replace(w.body, []byte(";chunk-signature="+c.sigs[0]), nil, 1)
			}, []string{"InvalidRequest", "SignatureDoesNotMatch"}},
			{"garbage after", func(w *wire, c *chunked) {
				w.body = append(bytes.Clone(w.body), "garbage"...)
				w.set("Content-Length", strconv.Itoa(len(w.body)))
			}, []string{"InvalidRequest", "IncompleteBody"}},
			{"truncated fin", func(w *wire, c *chunked) {}, []string{"IncompleteBody"}},
			{"no content-encoding", func(w *wire, c *chunked) { w.del("Content-Encoding") }, []string{"SignatureDoesNotMatch"}},
			{"seed swapped", func(w *wire, c *chunked) {
				w.set("Authorization", strings.Replace(w.get("Authorization"), c.headerSignature, strings.Repeat("a", 64), 1))
			}, []string{"SignatureDoesNotMatch"}},
			{"unsigned trailer bad checksum", func(w *wire, c *chunked) {}, nil},
		}
		for _, m := range muts {
			w, c := mk()
			bc := bcase{name: fmt.Sprintf("%d/%s", n, m.name), want: m.want}
			switch m.name {
			case "truncated fin":
				bc.w, bc.send, bc.end = w, len(w.bytes())-len(w.body)/2-1, "fin"
			case "unsigned trailer bad checksum":
				bc.w = tg.unsignedTrailer(t, "/ref/a", data, "AAAAAA==")
				bc.want = []string{"BadDigest"}
			default:
				m.f(w, c)
				bc.w = w
			}
			out = append(out, bc)
		}
	}
	return out
}

// xmlBodies: request bodies that are malformed or do not validate.
func (g *batteryGen) xmlBodies() []bcase {
	t, tg := g.t, g.tg
	type target struct {
		name, method, path, query, root string
		md5                             bool
	}
	targets := []target{
		{"DeleteObjects", "POST", "/ref", "delete=", "Delete", true},
		{"CompleteMultipartUpload", "POST", "/scratch/open", "uploadId=" + g.upload, "CompleteMultipartUpload", false},
		{"CreateBucket", "PUT", "/xmlbucket", "", "CreateBucketConfiguration", false},
		{"PutObjectTagging", "PUT", "/ref/a", "tagging=", "Tagging", false},
		{"PutObjectAcl", "PUT", "/ref/a", "acl=", "AccessControlPolicy", false},
	}
	inner := map[string]string{
		"Delete":                    "<Object><Key>a</Key></Object>",
		"CompleteMultipartUpload":   "<Part><PartNumber>1</PartNumber><ETag>" + g.partETag + "</ETag></Part>",
		"CreateBucketConfiguration": "<LocationConstraint>" + tg.region + "</LocationConstraint>",
		"Tagging":                   "<TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet>",
		"AccessControlPolicy":       "<Owner><ID>s3mesh</ID></Owner><AccessControlList></AccessControlList>",
	}
	dup := map[string]string{
		"Delete":                    "<Object><Key>b</Key><Key>a</Key></Object>",
		"CompleteMultipartUpload":   "<Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>" + g.partETag + "</ETag></Part>",
		"CreateBucketConfiguration": "<LocationConstraint>" + tg.region + "</LocationConstraint><LocationConstraint>" + tg.region + "</LocationConstraint>",
		"Tagging":                   "<TagSet><Tag><Key>k</Key><Key>k2</Key><Value>v</Value></Tag></TagSet>",
		"AccessControlPolicy":       "<Owner><ID>s3mesh</ID><ID>other</ID></Owner>",
	}
	var out []bcase
	for _, tt := range targets {
		r := tt.root
		bodies := []struct {
			name string
			body string
			want []string
		}{
			{"foreign namespace", `<` + r + ` xmlns="urn:evil">` + inner[r] + `</` + r + `>`, []string{"MalformedXML"}},
			{"foreign prefix", `<e:` + r + ` xmlns:e="urn:evil">` + inner[r] + `</e:` + r + `>`, []string{"MalformedXML"}},
			{"duplicate element", `<` + r + `>` + dup[r] + `</` + r + `>`, []string{"MalformedXML"}},
			{"unknown element", `<` + r + `>` + inner[r] + `<Evil>1</Evil></` + r + `>`, []string{"MalformedXML"}},
			{"wrong root", `<Other>` + inner[r] + `</Other>`, []string{"MalformedXML"}},
			{"truncated", `<` + r + `>` + inner[r], []string{"MalformedXML"}},
			{"not xml", `{"json": true}`, []string{"MalformedXML"}},
			{"two roots", `<` + r + `>` + inner[r] + `</` + r + `><` + r + `/>`, []string{"MalformedXML"}},
			{"entity", `<!DOCTYPE x [<!ENTITY e "a">]><` + r + `>&e;` + inner[r] + `</` + r + `>`, []string{"MalformedXML"}},
			{"nested deep", `<` + r + `>` + strings.Repeat("<Object>", 500) + `</` + r + `>`, []string{"MalformedXML"}},
			{"text in element", `<` + r + `>text` + inner[r] + `<Evil/></` + r + `>`, []string{"MalformedXML"}},
			{"too large", `<` + r + `>` + strings.Repeat(" ", 3<<20) + `</` + r + `>`, []string{"MaxMessageLengthExceeded", "MalformedXML", "EntityTooLarge"}},
		}
		for _, b := range bodies {
			body := []byte(b.body)
			var hdr [][2]string
			if tt.md5 {
				hdr = [][2]string{{"Content-MD5", md5b64(body)}}
			}
			want := b.want
			if tt.name == "CreateBucket" && (b.name == "not xml" || b.name == "wrong root") {
				want = append(want, "MalformedXML")
			}
			out = append(out, bcase{name: tt.name + "/" + b.name, w: tg.v4(t, spec{method: tt.method, path: tt.path, query: tt.query, body: body, hdr: hdr}), want: want})
		}
		if tt.name != "CreateBucket" {
			out = append(out, bcase{name: tt.name + "/empty", w: tg.v4(t, spec{method: tt.method, path: tt.path, query: tt.query, body: []byte{}}), want: []string{"MissingRequestBodyError", "MalformedXML", "InvalidRequest"}})
		}
	}
	del := []byte(`<Delete><Object><Key>a</Key></Object></Delete>`)
	out = append(out,
		bcase{name: "DeleteObjects/no md5", w: tg.v4(t, spec{method: "POST", path: "/ref", query: "delete=", body: del}), want: []string{"InvalidRequest", "MissingContentMD5"}},
		bcase{name: "DeleteObjects/wrong md5", w: tg.v4(t, spec{method: "POST", path: "/ref", query: "delete=", body: del, hdr: [][2]string{{"Content-MD5", md5b64([]byte("x"))}}}), want: []string{"BadDigest"}},
		bcase{name: "DeleteObjects/1001 keys", w: func() *wire {
			b := []byte("<Delete>" + strings.Repeat("<Object><Key>a</Key></Object>", 1001) + "</Delete>")
			return tg.v4(t, spec{method: "POST", path: "/ref", query: "delete=", body: b, hdr: [][2]string{{"Content-MD5", md5b64(b)}}})
		}(), want: []string{"MalformedXML"}},
	)
	return out
}

// multipart: sequences that must be refused.
func (g *batteryGen) multipart() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	u := g.upload
	small := randomBytes(11, 100)
	for _, pn := range []string{"0", "10001", "-1", "abc", "", "1.0", "99999999999"} {
		out = append(out, bcase{name: "UploadPart partNumber=" + pn, w: tg.v4(t, spec{method: "PUT", path: "/scratch/open", query: "partNumber=" + pn + "&uploadId=" + u, body: small}), want: []string{"InvalidArgument", "InvalidPartNumber"}})
	}
	for _, id := range []string{"nosuchupload", "", "%00", strings.Repeat("u", 2000), u + "x"} {
		out = append(out,
			bcase{name: "UploadPart upload " + id[:min(len(id), 20)], w: tg.v4(t, spec{method: "PUT", path: "/scratch/open", query: "partNumber=1&uploadId=" + id, body: small}), want: []string{"NoSuchUpload", "InvalidArgument"}},
			bcase{name: "ListParts upload " + id[:min(len(id), 20)], w: tg.v4(t, spec{method: "GET", path: "/scratch/open", query: "uploadId=" + id}), want: []string{"NoSuchUpload", "InvalidArgument"}},
			bcase{name: "Abort upload " + id[:min(len(id), 20)], w: tg.v4(t, spec{method: "DELETE", path: "/scratch/open", query: "uploadId=" + id}), want: []string{"NoSuchUpload", "InvalidArgument"}},
			bcase{name: "Complete upload " + id[:min(len(id), 20)], w: tg.v4(t, spec{method: "POST", path: "/scratch/open", query: "uploadId=" + id, body: completeBody(g.partETag)}), want: []string{"NoSuchUpload", "InvalidArgument"}},
		)
	}
	// The upload under another key.
	out = append(out,
		bcase{name: "UploadPart other key", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", query: "partNumber=1&uploadId=" + u, body: small}), want: []string{"NoSuchUpload"}},
		bcase{name: "Complete other key", w: tg.v4(t, spec{method: "POST", path: "/ref/a", query: "uploadId=" + u, body: completeBody(g.partETag)}), want: []string{"NoSuchUpload"}},
	)
	part := func(n int, etag string) string {
		return fmt.Sprintf("<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", n, etag)
	}
	completes := []struct {
		name  string
		parts string
		want  []string
	}{
		{"missing part", part(1, g.partETag) + part(7, `"00000000000000000000000000000000"`), []string{"InvalidPart"}},
		{"wrong etag", part(1, `"00000000000000000000000000000000"`), []string{"InvalidPart"}},
		{"descending", part(2, `"x"`) + part(1, g.partETag), []string{"InvalidPartOrder", "InvalidPart"}},
		{"repeated", part(1, g.partETag) + part(1, g.partETag), []string{"InvalidPartOrder", "InvalidPart"}},
		{"zero", part(0, g.partETag), []string{"InvalidArgument", "InvalidPart", "MalformedXML"}},
		{"too high", part(10001, g.partETag), []string{"InvalidArgument", "InvalidPart", "MalformedXML"}},
		{"none", "", []string{"MalformedXML"}},
		{"not a number", "<Part><PartNumber>one</PartNumber><ETag>x</ETag></Part>", []string{"MalformedXML", "InvalidArgument", "InvalidPart"}},
	}
	for _, c := range completes {
		out = append(out, bcase{name: "Complete " + c.name, w: tg.v4(t, spec{method: "POST", path: "/scratch/open", query: "uploadId=" + u, body: []byte("<CompleteMultipartUpload>" + c.parts + "</CompleteMultipartUpload>")}), want: c.want})
	}
	for _, q := range []string{"uploads=&max-uploads=-1", "uploads=&max-uploads=abc", "uploadId=" + u + "&max-parts=-1", "uploadId=" + u + "&part-number-marker=abc"} {
		method, path := "GET", "/scratch"
		if strings.HasPrefix(q, "uploadId") {
			path = "/scratch/open"
		}
		out = append(out, bcase{name: "list " + q, w: tg.v4(t, spec{method: method, path: path, query: q}), want: []string{"InvalidArgument"}})
	}
	return out
}

// unsignedTrailer returns a STREAMING-UNSIGNED-PAYLOAD-TRAILER PUT of data
// with an x-amz-checksum-crc32 trailer of value sum.
func (tg *edgeTarget) unsignedTrailer(t testing.TB, path string, data []byte, sum string) *wire {
	var b bytes.Buffer
	if len(data) > 0 {
		fmt.Fprintf(&b, "%x\r\n", len(data))
		b.Write(data)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "0\r\nx-amz-checksum-crc32:%s\r\n\r\n", sum)
	w := tg.signV4(t, spec{method: "PUT", path: path, payload: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", hdr: [][2]string{
		{"Content-Encoding", "aws-chunked"}, {"X-Amz-Decoded-Content-Length", strconv.Itoa(len(data))}, {"X-Amz-Trailer", "x-amz-checksum-crc32"},
	}}, tg.region, tg.sk, signTimeNow())
	w.body = b.Bytes()
	return w.set("Content-Length", strconv.Itoa(b.Len()))
}
