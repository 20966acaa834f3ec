package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// bucketNames: invalid bucket names on the bucket and object operations.
func (g *batteryGen) bucketNames() []bcase {
	t, tg := g.t, g.tg
	names := []string{
		"ab", strings.Repeat("a", 64), "UPPER", "under_score", "-lead", "trail-", ".dot", "dot.", "two..dots",
		"192.168.1.1", "xn--punycode", "sthree-bucket", "name-s3alias", "name--ol-s3", "spa%20ce", "semi%3Bcolon",
		"%C3%A9t%C3%A9", "a.-b", "a-.b", "name--x-s3", "amzn-s3-demo-", "b%2Fslash", "quote%22", "tab%09", "nul%00",
	}
	var out []bcase
	for _, n := range names {
		for _, o := range []struct {
			name string
			s    spec
		}{
			{"CreateBucket", spec{method: "PUT", path: "/" + n}},
			{"ListObjectsV2", spec{method: "GET", path: "/" + n, query: "list-type=2"}},
			{"PutObject", spec{method: "PUT", path: "/" + n + "/k", body: []byte("x")}},
			{"GetObject", spec{method: "GET", path: "/" + n + "/k"}},
			{"HeadBucket", spec{method: "HEAD", path: "/" + n}},
			{"DeleteBucket", spec{method: "DELETE", path: "/" + n}},
		} {
			out = append(out, bcase{name: o.name + "/" + n, w: tg.v4(t, o.s), want: []string{"InvalidBucketName"}})
		}
	}
	// Valid names of buckets that do not exist.
	for _, n := range []string{"nosuchbucket", "no.such.bucket", "a1b", strings.Repeat("z", 63)} {
		out = append(out,
			bcase{name: "ListObjectsV2/" + n, w: tg.v4(t, spec{method: "GET", path: "/" + n, query: "list-type=2"}), want: []string{"NoSuchBucket"}},
			bcase{name: "PutObject/" + n, w: tg.v4(t, spec{method: "PUT", path: "/" + n + "/k", body: []byte("x")}), want: []string{"NoSuchBucket"}},
			bcase{name: "DeleteBucket/" + n, w: tg.v4(t, spec{method: "DELETE", path: "/" + n}), want: []string{"NoSuchBucket"}},
		)
	}
	// Existing buckets: reserved and not empty.
	out = append(out,
		bcase{name: "CreateBucket/ref exists", w: tg.v4(t, spec{method: "PUT", path: "/ref"}), want: []string{"BucketAlreadyOwnedByYou"}},
		bcase{name: "DeleteBucket/ref not empty", w: tg.v4(t, spec{method: "DELETE", path: "/ref"}), want: []string{"BucketNotEmpty"}},
		bcase{name: "CreateBucket/other location", w: tg.v4(t, spec{method: "PUT", path: "/otherloc", body: []byte(`<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`)}), want: []string{"InvalidLocationConstraint", "IllegalLocationConstraintException"}},
	)
	return out
}

// keyNames: keys that are too long or not UTF-8, and keys that do not
// exist.
func (g *batteryGen) keyNames() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	bad := map[string][]string{
		strings.Repeat("k", 1025):                {"KeyTooLongError"},
		strings.Repeat("%C3%A9", 513):            {"KeyTooLongError"},
		"%FF%FE":                                 {"InvalidArgument"},
		"a%C3":                                   {"InvalidArgument"},
		"%ED%A0%80":                              {"InvalidArgument"},
		"ok/" + strings.Repeat("x", 1100):        {"KeyTooLongError"},
		"%C0%AF":                                 {"InvalidArgument"},
		"bad%zzescape":                           {"InvalidRequest", "InvalidURI"},
		strings.Repeat("%E2%82%AC", 342):         {"KeyTooLongError"},
		"%F4%90%80%80":                           {"InvalidArgument"},
		"x%80":                                   {"InvalidArgument"},
		"../" + strings.Repeat("y", 1030):        {"KeyTooLongError"},
		"%2F%2F" + strings.Repeat("z", 1024):     {"KeyTooLongError"},
		"tab%09" + strings.Repeat("w", 1024):     {"KeyTooLongError"},
		"%00%00%FF":                              {"InvalidArgument"},
		"emoji%F0%9F%98" + strings.Repeat("", 0): {"InvalidArgument"},
	}
	keys := make([]string, 0, len(bad))
	for k := range bad {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, o := range []spec{
			{method: "PUT", path: "/ref/" + k, body: []byte("x")},
			{method: "GET", path: "/ref/" + k},
			{method: "HEAD", path: "/ref/" + k},
			{method: "DELETE", path: "/ref/" + k},
			{method: "PUT", path: "/ref/" + k, hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/a"}}},
			{method: "POST", path: "/ref/" + k, query: "uploads="},
		} {
			out = append(out, bcase{name: fmt.Sprintf("%s %.40s", o.method, k), w: tg.v4(t, o), want: bad[k]})
		}
	}
	for _, k := range []string{"missing", "a/", "dir", "dir/", "A", "a%20", "./a", "a//b", "b%3Fx", "../a", "%E2%82%AC", "%F0%9F%98%80"} {
		out = append(out,
			bcase{name: "GET missing " + k, w: tg.v4(t, spec{method: "GET", path: "/ref/" + k}), want: []string{"NoSuchKey"}},
			bcase{name: "HEAD missing " + k, w: tg.v4(t, spec{method: "HEAD", path: "/ref/" + k}), want: []string{"NoSuchKey"}},
			bcase{name: "tagging missing " + k, w: tg.v4(t, spec{method: "GET", path: "/ref/" + k, query: "tagging="}), want: []string{"NoSuchKey"}},
		)
	}
	return out
}

// headers: headers asking for what the node does not do, or wrong.
func (g *batteryGen) headers() []bcase {
	t, tg := g.t, g.tg
	type hc struct {
		name string
		hdr  [][2]string
		want []string
	}
	cases := []hc{
		{"sse AES256", [][2]string{{"X-Amz-Server-Side-Encryption", "AES256"}}, []string{"NotImplemented"}},
		{"sse kms", [][2]string{{"X-Amz-Server-Side-Encryption", "aws:kms"}}, []string{"NotImplemented"}},
		{"sse bogus", [][2]string{{"X-Amz-Server-Side-Encryption", "rot13"}}, []string{"InvalidArgument"}},
		{"sse kms key", [][2]string{{"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", "k"}}, []string{"NotImplemented"}},
		{"sse-c", [][2]string{{"X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256"}, {"X-Amz-Server-Side-Encryption-Customer-Key", "a2V5"}, {"X-Amz-Server-Side-Encryption-Customer-Key-Md5", "bWQ1"}}, []string{"NotImplemented"}},
		{"sse-c key only", [][2]string{{"X-Amz-Server-Side-Encryption-Customer-Key", "a2V5"}}, []string{"NotImplemented"}},
		{"bucket key", [][2]string{{"X-Amz-Server-Side-Encryption-Bucket-Key-Enabled", "true"}}, []string{"NotImplemented"}},
		{"object lock mode", [][2]string{{"X-Amz-Object-Lock-Mode", "GOVERNANCE"}}, []string{"InvalidRequest"}},
		{"object lock until", [][2]string{{"X-Amz-Object-Lock-Retain-Until-Date", "2030-01-01T00:00:00Z"}}, []string{"InvalidRequest"}},
		{"legal hold", [][2]string{{"X-Amz-Object-Lock-Legal-Hold", "ON"}}, []string{"InvalidRequest"}},
		{"storage class bogus", [][2]string{{"X-Amz-Storage-Class", "BOGUS"}}, []string{"InvalidStorageClass"}},
		{"storage class glacier", [][2]string{{"X-Amz-Storage-Class", "GLACIER"}}, []string{"InvalidStorageClass"}},
		{"storage class lower", [][2]string{{"X-Amz-Storage-Class", "standard"}}, []string{"InvalidStorageClass"}},
		{"storage class RRS", [][2]string{{"X-Amz-Storage-Class", "REDUCED_REDUNDANCY"}}, []string{"InvalidStorageClass"}},
		{"sdk checksum MD6", [][2]string{{"X-Amz-Sdk-Checksum-Algorithm", "MD6"}}, []string{"InvalidRequest"}},
		{"sdk checksum empty", [][2]string{{"X-Amz-Sdk-Checksum-Algorithm", ""}}, []string{"InvalidRequest"}},
		{"checksum algorithm bogus", [][2]string{{"X-Amz-Checksum-Algorithm", "XXH3"}}, []string{"InvalidRequest"}},
		{"website redirect", [][2]string{{"X-Amz-Website-Redirect-Location", "/x"}}, []string{"NotImplemented"}},
		{"expected owner", [][2]string{{"X-Amz-Expected-Bucket-Owner", "123456789012"}}, []string{"AccessDenied"}},
		{"mfa", [][2]string{{"X-Amz-Mfa", "123 456"}}, []string{"NotImplemented"}},
		{"grant", [][2]string{{"X-Amz-Grant-Read", "uri=http://acs.amazonaws.com/groups/global/AllUsers"}}, []string{"NotImplemented"}},
		{"acl public", [][2]string{{"X-Amz-Acl", "public-read"}}, []string{"NotImplemented"}},
		{"acl bogus", [][2]string{{"X-Amz-Acl", "everyone"}}, []string{"InvalidArgument"}},
		{"write offset", [][2]string{{"X-Amz-Write-Offset-Bytes", "0"}}, []string{"NotImplemented"}},
	}
	var out []bcase
	for _, c := range cases {
		for _, o := range []struct {
			name string
			s    spec
		}{
			{"PutObject", spec{method: "PUT", path: "/ref/a", body: []byte("new")}},
			{"CopyObject", spec{method: "PUT", path: "/ref/a", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/b"}, {"X-Amz-Metadata-Directive", "REPLACE"}}}},
			{"CreateMultipartUpload", spec{method: "POST", path: "/ref/a", query: "uploads="}},
		} {
			s := o.s
			s.hdr = append(slices.Clone(s.hdr), c.hdr...)
			out = append(out, bcase{name: o.name + "/" + c.name, w: tg.v4(t, s), want: c.want})
		}
	}
	// Reads with encryption headers: the node has no such object.
	for _, c := range cases[:7] {
		out = append(out, bcase{name: "GetObject/" + c.name, w: tg.v4(t, spec{method: "GET", path: "/ref/a", hdr: c.hdr}), want: c.want})
	}
	body := []byte("new")
	out = append(out,
		bcase{name: "content-md5 wrong", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"Content-MD5", md5b64([]byte("other"))}}}), want: []string{"BadDigest"}},
		bcase{name: "content-md5 invalid", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"Content-MD5", "nope"}}}), want: []string{"InvalidDigest"}},
		bcase{name: "checksum wrong", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"X-Amz-Checksum-Crc32", "AAAAAA=="}}}), want: []string{"BadDigest"}},
		bcase{name: "checksum invalid", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"X-Amz-Checksum-Sha256", "x"}}}), want: []string{"InvalidRequest", "InvalidDigest", "InvalidArgument"}},
		bcase{name: "metadata too large", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"X-Amz-Meta-Big", strings.Repeat("m", 3000)}}}), want: []string{"MetadataTooLarge"}},
		bcase{name: "tagging malformed", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"X-Amz-Tagging", "a=b&a=c"}}}), want: []string{"InvalidTag", "InvalidArgument"}},
	)
	// Header sections too large, in bytes or in fields, signed or not.
	big := func(n int) [][2]string { return [][2]string{{"X-Pad", strings.Repeat("p", n)}} }
	many := func(n int) [][2]string {
		h := make([][2]string, n)
		for i := range h {
			h[i] = [2]string{fmt.Sprintf("X-H%d", i), "v"}
		}
		return h
	}
	for _, hs := range []struct {
		name string
		h    [][2]string
	}{{"70 KiB", big(70 << 10)}, {"1 MiB", big(1 << 20)}, {"5000 fields", many(5000)}, {"600 fields", many(600)}, {"60 KiB over 2", append(big(30<<10), [2]string{"X-Pad2", strings.Repeat("q", 40<<10)})}} {
		for _, m := range []string{"GET", "PUT"} {
			s := spec{method: m, path: "/ref/a", hdr: hs.h}
			if m == "PUT" {
				s.body = []byte("new")
			}
			out = append(out,
				bcase{name: "too large/" + hs.name + "/" + m, w: tg.v4(t, s), want: []string{"RequestHeaderSectionTooLarge"}},
				bcase{name: "too large unsigned/" + hs.name + "/" + m, w: tg.unsigned(s), want: []string{"RequestHeaderSectionTooLarge"}},
			)
		}
	}
	// Header fields net/http cannot parse.
	for _, bad := range []string{"No-Colon", "Sp ace: x", ": empty", "X-Bad\x00: v", "X-Nl: a\rb"} {
		b := tg.v4(t, spec{method: "GET", path: "/ref/a"}).bytes()
		b = append(b[:len(b)-2], []byte(bad+"\r\n\r\n")...)
		out = append(out, bcase{name: fmt.Sprintf("unparsable %q", bad), w: rawWire(b), want: []string{"InvalidRequest"}})
	}
	for _, line := range []string{"GET /ref/a HTTP/2.0", "GET /ref/a", "GET  /ref/a HTTP/1.1", "BREW /ref/a HTTP/1.1", "GET ref/a HTTP/1.1"} {
		out = append(out, bcase{name: "request line " + line, w: rawWire([]byte(line + "\r\nHost: " + tg.addr + "\r\n\r\n")), want: []string{"InvalidRequest", "NotImplemented", "MethodNotAllowed", "AccessDenied", "InvalidURI"}})
	}
	return out
}

// ranges: unsatisfiable ranges and part numbers.
func (g *batteryGen) ranges() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	for _, o := range []struct {
		key  string
		size int
	}{{"a", 1000}, {"b", 100 << 10}, {"empty", 0}, {"big", 5<<20 + 1000}} {
		for _, r := range []string{
			fmt.Sprintf("bytes=%d-", o.size), fmt.Sprintf("bytes=%d-%d", o.size, o.size+10), fmt.Sprintf("bytes=%d-", o.size+1000),
			"bytes=99999999999-", "bytes=-0",
		} {
			if o.size == 0 && r == "bytes=-0" {
				continue
			}
			for _, m := range []string{"GET", "HEAD"} {
				out = append(out, bcase{name: fmt.Sprintf("%s %s %s", m, o.key, r), w: tg.v4(t, spec{method: m, path: "/ref/" + o.key, hdr: [][2]string{{"Range", r}}}), want: []string{"InvalidRange"}})
			}
		}
		for _, pn := range []string{"0", "-1", "10001", "abc", "1.5"} {
			out = append(out, bcase{name: fmt.Sprintf("GET %s partNumber=%s", o.key, pn), w: tg.v4(t, spec{method: "GET", path: "/ref/" + o.key, query: "partNumber=" + pn}), want: []string{"InvalidArgument", "InvalidPartNumber"}})
		}
		out = append(out,
			bcase{name: "GET " + o.key + " partNumber past", w: tg.v4(t, spec{method: "GET", path: "/ref/" + o.key, query: "partNumber=3"}), want: []string{"InvalidPartNumber"}},
			bcase{name: "GET " + o.key + " range and part", w: tg.v4(t, spec{method: "GET", path: "/ref/" + o.key, query: "partNumber=1", hdr: [][2]string{{"Range", "bytes=0-1"}}}), want: []string{"InvalidRequest"}},
		)
	}
	return out
}

// conditionals: preconditions that fail, on reads, writes and copies.
func (g *batteryGen) conditionals() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	past := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	future := time.Now().Add(48 * time.Hour).UTC().Format(http.TimeFormat)
	for _, key := range []string{"a", "b", "empty", "big", "dir/c"} {
		for _, m := range []string{"GET", "HEAD"} {
			out = append(out,
				bcase{name: m + " if-match " + key, w: tg.v4(t, spec{method: m, path: "/ref/" + key, hdr: [][2]string{{"If-Match", `"0123"`}}}), want: []string{"PreconditionFailed"}},
				bcase{name: m + " if-unmodified-since " + key, w: tg.v4(t, spec{method: m, path: "/ref/" + key, hdr: [][2]string{{"If-Unmodified-Since", past}}}), want: []string{"PreconditionFailed"}},
				bcase{name: m + " if-none-match * " + key, w: tg.v4(t, spec{method: m, path: "/ref/" + key, hdr: [][2]string{{"If-None-Match", "*"}}}), status: http.StatusNotModified, want: []string{"NotModified"}},
				bcase{name: m + " if-modified-since future " + key, w: tg.v4(t, spec{method: m, path: "/ref/" + key, hdr: [][2]string{{"If-Modified-Since", future}}}), status: http.StatusNotModified, want: []string{"NotModified"}},
			)
		}
		out = append(out,
			bcase{name: "PUT if-none-match * " + key, w: tg.v4(t, spec{method: "PUT", path: "/ref/" + key, body: []byte("x"), hdr: [][2]string{{"If-None-Match", "*"}}}), want: []string{"PreconditionFailed"}},
			bcase{name: "PUT if-match wrong " + key, w: tg.v4(t, spec{method: "PUT", path: "/ref/" + key, body: []byte("x"), hdr: [][2]string{{"If-Match", `"0123"`}}}), want: []string{"PreconditionFailed"}},
			bcase{name: "copy if-match wrong " + key, w: tg.v4(t, spec{method: "PUT", path: "/scratch/cond", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/" + key}, {"X-Amz-Copy-Source-If-Match", `"0123"`}}}), want: []string{"PreconditionFailed"}},
			bcase{name: "copy if-unmodified-since " + key, w: tg.v4(t, spec{method: "PUT", path: "/scratch/cond", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/" + key}, {"X-Amz-Copy-Source-If-Unmodified-Since", past}}}), want: []string{"PreconditionFailed"}},
			bcase{name: "copy if-none-match * " + key, w: tg.v4(t, spec{method: "PUT", path: "/scratch/cond", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/" + key}, {"X-Amz-Copy-Source-If-None-Match", "*"}}}), want: []string{"PreconditionFailed"}},
			bcase{name: "DELETE if-match wrong " + key, w: tg.v4(t, spec{method: "DELETE", path: "/ref/" + key, hdr: [][2]string{{"If-Match", `"0123"`}}}), want: []string{"PreconditionFailed", "NotImplemented"}},
		)
	}
	return out
}

// copySources: x-amz-copy-source values that must be refused.
func (g *batteryGen) copySources() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	srcs := []struct {
		src  string
		want []string
	}{
		{"", []string{"InvalidArgument"}},
		{"/", []string{"InvalidArgument"}},
		{"ref", []string{"InvalidArgument"}},
		{"/ref", []string{"InvalidArgument"}},
		{"/ref/", []string{"InvalidArgument"}},
		{"/nosuchbucket/a", []string{"NoSuchBucket"}},
		{"/ref/nosuchkey", []string{"NoSuchKey"}},
		{"/ref/a%zz", []string{"InvalidArgument"}},
		{"/ref/a?versionId=xyz", []string{"NoSuchVersion", "InvalidArgument"}},
		{"/BAD_BUCKET/a", []string{"InvalidBucketName", "InvalidArgument", "NoSuchBucket"}},
		{"/ref/" + strings.Repeat("k", 1100), []string{"KeyTooLongError", "InvalidArgument"}},
		{"/ref/%FF", []string{"InvalidArgument"}},
	}
	for _, s := range srcs {
		out = append(out,
			bcase{name: "CopyObject " + s.src[:min(len(s.src), 30)], w: tg.v4(t, spec{method: "PUT", path: "/ref/a", hdr: [][2]string{{"X-Amz-Copy-Source", s.src}}}), want: s.want},
			bcase{name: "UploadPartCopy " + s.src[:min(len(s.src), 30)], w: tg.v4(t, spec{method: "PUT", path: "/scratch/open", query: "partNumber=2&uploadId=" + g.upload, hdr: [][2]string{{"X-Amz-Copy-Source", s.src}}}), want: s.want},
		)
	}
	out = append(out,
		bcase{name: "CopyObject onto itself", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/a"}}}), want: []string{"InvalidRequest"}},
		bcase{name: "CopyObject with body", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: []byte("x"), hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/b"}}}), want: []string{"InvalidRequest", "UnexpectedContent"}},
		bcase{name: "CopyObject bad directive", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/b"}, {"X-Amz-Metadata-Directive", "MERGE"}}}), want: []string{"InvalidArgument"}},
		bcase{name: "CopyObject with range", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/b"}, {"X-Amz-Copy-Source-Range", "bytes=0-1"}}}), want: []string{"InvalidArgument", "InvalidRequest"}},
	)
	for _, r := range []string{"bytes=0-99999999", "bytes=5-1", "bytes=abc", "0-1", "bytes=-5", "bytes=2000000-2000001"} {
		out = append(out, bcase{name: "UploadPartCopy range " + r, w: tg.v4(t, spec{method: "PUT", path: "/scratch/open", query: "partNumber=2&uploadId=" + g.upload, hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/a"}, {"X-Amz-Copy-Source-Range", r}}}), want: []string{"InvalidArgument", "InvalidRange"}})
	}
	return out
}

// rawWire is a wire whose bytes are given as is.
func rawWire(b []byte) *wire {
	i := bytes.IndexByte(b, ' ')
	m := "GET"
	if i > 0 {
		m = string(b[:i])
	}
	return &wire{method: m, raw: b}
}
