package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// docVirtualHost is the VirtualHostBucket of the AWS documentation's
// endpoints: bucket.s3[.region].amazonaws.com, and static.example.com as a
// CNAME for the bucket of that name.
func docVirtualHost(r *http.Request) string {
	host, _, _ := strings.Cut(r.Host, ":")
	if host == "static.example.com" {
		return host
	}
	for _, d := range []string{".s3.us-west-1.amazonaws.com", ".s3.amazonaws.com"} {
		if b, ok := strings.CutSuffix(host, d); ok {
			return b
		}
	}
	return ""
}

func newV2Verifier(t testing.TB, now time.Time, vhost func(*http.Request) string) *Verifier {
	t.Helper()
	v, err := New(Config{
		Credentials:       testCredentials,
		Now:               func() time.Time { return now },
		VirtualHostBucket: vhost,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// readRequest parses a raw HTTP request as net/http's server does.
func readRequest(t testing.TB, raw string) *http.Request {
	t.Helper()
	raw = strings.ReplaceAll(strings.TrimLeft(raw, "\n"), "\n", "\r\n") + "\r\n"
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	return r
}

func mustDate(t testing.TB, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.RFC1123Z, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// v2DocExamples are the worked examples of the AWS documentation page
// "Signing and authenticating REST requests (AWS signature version 2)",
// with the signatures printed there. now is the request's Date.
var v2DocExamples = []struct {
	name string
	now  string
	raw  string
}{
	{"object GET", "Tue, 27 Mar 2007 19:36:42 +0000", `
GET /photos/puppy.jpg HTTP/1.1
Host: awsexamplebucket1.s3.us-west-1.amazonaws.com
Date: Tue, 27 Mar 2007 19:36:42 +0000
Authorization: AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=
`},
	{"object PUT", "Tue, 27 Mar 2007 21:15:45 +0000", `
PUT /photos/puppy.jpg HTTP/1.1
Content-Type: image/jpeg
Content-Length: 94328
Host: awsexamplebucket1.s3.us-west-1.amazonaws.com
Date: Tue, 27 Mar 2007 21:15:45 +0000
Authorization: AWS AKIAIOSFODNN7EXAMPLE:iqRzw+ileNPu1fhspnRs8nOjjIA=
`},
	{"list", "Tue, 27 Mar 2007 19:42:41 +0000", `
GET /?prefix=photos&max-keys=50&marker=puppy HTTP/1.1
User-Agent: Mozilla/5.0
Host: awsexamplebucket1.s3.us-west-1.amazonaws.com
Date: Tue, 27 Mar 2007 19:42:41 +0000
Authorization: AWS AKIAIOSFODNN7EXAMPLE:m0WP8eCtspQl5Ahe6L1SozdX9YA=
`},
	{"fetch acl sub-resource", "Tue, 27 Mar 2007 19:44:46 +0000", `
GET /?acl HTTP/1.1
Host: awsexamplebucket1.s3.us-west-1.amazonaws.com
Date: Tue, 27 Mar 2007 19:44:46 +0000
Authorization: AWS AKIAIOSFODNN7EXAMPLE:82ZHiFIjc+WbcwFKGUVEQspPn+0=
`},
	{"delete with x-amz-date", "Tue, 27 Mar 2007 21:20:27 +0000", `
DELETE /johnsmith/photos/puppy.jpg HTTP/1.1
User-Agent: dotnet
Host: s3.amazonaws.com
Date: Tue, 27 Mar 2007 21:20:27 +0000
x-amz-date: Tue, 27 Mar 2007 21:20:26 +0000
Authorization: AWS AKIAIOSFODNN7EXAMPLE:R4dJ53KECjStyBO5iTBJZ4XVOaI=
`},
	{"upload with amz headers and CNAME", "Tue, 27 Mar 2007 21:06:08 +0000", `
PUT /db-backup.dat.gz HTTP/1.1
User-Agent: curl/7.15.5
Host: static.example.com:8080
Date: Tue, 27 Mar 2007 21:06:08 +0000
x-amz-acl: public-read
content-type: application/x-download
Content-MD5: 4gJE4saaMU4BqNR0kLY+lw==
X-Amz-Meta-ReviewedBy: joe@example.com
X-Amz-Meta-ReviewedBy: jane@example.com
X-Amz-Meta-FileChecksum: 0x02661779
X-Amz-Meta-ChecksumAlgorithm: crc32
Content-Disposition: attachment; filename=database.dat
Content-Encoding: gzip
Content-Length: 5913339
Authorization: AWS AKIAIOSFODNN7EXAMPLE:jtBQa0Aq+DkULFI8qrpwIjGEx0E=
`},
	{"list all buckets", "Wed, 28 Mar 2007 01:29:59 +0000", `
GET / HTTP/1.1
Host: s3.us-west-1.amazonaws.com
Date: Wed, 28 Mar 2007 01:29:59 +0000
Authorization: AWS AKIAIOSFODNN7EXAMPLE:qGdzdERIC03wnaRNKh6OqZehG9s=
`},
	{"unicode keys", "Wed, 28 Mar 2007 01:49:49 +0000", `
GET /dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re HTTP/1.1
Host: s3.us-west-1.amazonaws.com
Date: Wed, 28 Mar 2007 01:49:49 +0000
Authorization: AWS AKIAIOSFODNN7EXAMPLE:DNEZGsoieTZ92F3bUfSPQcbGmlM=
`},
	{"query string authentication", "Wed, 28 Mar 2007 01:49:49 +0000", `
GET /photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620 HTTP/1.1
Host: johnsmith.s3.amazonaws.com
`},
}

func TestV2DocExamples(t *testing.T) {
	t.Parallel()
	for _, tt := range v2DocExamples {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newV2Verifier(t, mustDate(t, tt.now), docVirtualHost)
			r := readRequest(t, tt.raw)
			res, err := v.Verify(r)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			presigned := strings.Contains(r.URL.RawQuery, "Signature=")
			if res.AccessKey != testAK || res.Version != SignatureV2 || res.Presigned != presigned || res.Anonymous {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// TestV2Tampering flips each signed element of the documentation's upload
// (every element of the string to sign), acl and presigned examples; each
// change must fail SignatureDoesNotMatch, while unsigned elements may
// change freely.
func TestV2Tampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ex   int
		mut  func(r *http.Request)
		want string
	}{
		{"method", 5, func(r *http.Request) { r.Method = http.MethodPost }, CodeSignatureDoesNotMatch},
		{"path", 5, func(r *http.Request) { r.RequestURI = "/db-backup.dat.gz2" }, CodeSignatureDoesNotMatch},
		{"path encoding", 5, func(r *http.Request) { r.RequestURI = "/db%2Dbackup.dat.gz" }, CodeSignatureDoesNotMatch},
		{"content-md5", 5, func(r *http.Request) { r.Header.Set("Content-Md5", "1B2M2Y8AsgTpgAmY7PhCfg==") }, CodeSignatureDoesNotMatch},
		{"content-type", 5, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, CodeSignatureDoesNotMatch},
		{"content-type dropped", 5, func(r *http.Request) { r.Header.Del("Content-Type") }, CodeSignatureDoesNotMatch},
		{"date", 5, func(r *http.Request) { r.Header.Set("Date", "Tue, 27 Mar 2007 21:06:09 +0000") }, CodeSignatureDoesNotMatch},
		{"amz header value", 5, func(r *http.Request) { r.Header.Set("X-Amz-Acl", "private") }, CodeSignatureDoesNotMatch},
		{"amz header added", 5, func(r *http.Request) { r.Header.Set("X-Amz-Meta-Extra", "1") }, CodeSignatureDoesNotMatch},
		{"amz header order", 5, func(r *http.Request) {
			r.Header["X-Amz-Meta-Reviewedby"] = []string{"jane@example.com", "joe@example.com"}
		}, CodeSignatureDoesNotMatch},
		{"bucket", 5, func(r *http.Request) { r.Host = "other.example.com" }, CodeSignatureDoesNotMatch},
		{"signature", 5, func(r *http.Request) {
			r.Header.Set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:jtBQa0Aq+DkULFI8qrpwIjGEx0F=")
		}, CodeSignatureDoesNotMatch},
		{"unknown key", 5, func(r *http.Request) {
			r.Header.Set("Authorization", "AWS AKIAIOSFODNN7EXAMPLF:jtBQa0Aq+DkULFI8qrpwIjGEx0E=")
		}, CodeInvalidAccessKeyID},
		{"malformed", 5, func(r *http.Request) { r.Header.Set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE") }, CodeInvalidArgument},
		{"no date", 5, func(r *http.Request) { r.Header.Del("Date") }, CodeAccessDenied},
		{"unsigned headers may change", 5, func(r *http.Request) { r.Header.Set("User-Agent", "x"); r.Header.Set("Content-Encoding", "br") }, ""},
		{"sub-resource", 3, func(r *http.Request) { r.URL.RawQuery, r.RequestURI = "policy", "/?policy" }, CodeSignatureDoesNotMatch},
		{"sub-resource value", 3, func(r *http.Request) { r.URL.RawQuery, r.RequestURI = "acl=x", "/?acl=x" }, CodeSignatureDoesNotMatch},
		{"sub-resource added", 3, func(r *http.Request) { r.URL.RawQuery, r.RequestURI = "acl&versionId=1", "/?acl&versionId=1" }, CodeSignatureDoesNotMatch},
		{"other parameters are unsigned", 3, func(r *http.Request) {
			r.URL.RawQuery, r.RequestURI = "acl&x-id=GetBucketAcl", "/?acl&x-id=GetBucketAcl"
		}, ""},
		{"presign expires", 8, func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "Expires=1175139620", "Expires=1175139621", 1)
		}, CodeSignatureDoesNotMatch},
		{"presign path", 8, func(r *http.Request) { r.RequestURI = "/photos/kitten.jpg?" + r.URL.RawQuery }, CodeSignatureDoesNotMatch},
		{"presign sub-resource", 8, func(r *http.Request) { r.URL.RawQuery += "&response-content-type=text%2Fhtml" }, CodeSignatureDoesNotMatch},
		{"presign method", 8, func(r *http.Request) { r.Method = http.MethodDelete }, CodeSignatureDoesNotMatch},
		{"presign amz header", 8, func(r *http.Request) { r.Header.Set("X-Amz-Meta-A", "b") }, CodeSignatureDoesNotMatch},
		{"presign unsigned parameter", 8, func(r *http.Request) { r.URL.RawQuery += "&x-id=GetObject" }, ""},
		{"presign missing signature", 8, func(r *http.Request) {
			r.URL.RawQuery = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620"
		}, CodeAccessDenied},
		{"presign repeated", 8, func(r *http.Request) { r.URL.RawQuery += "&Expires=1175139620" }, CodeInvalidArgument},
		{"presign and header", 8, func(r *http.Request) { r.Header.Set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:x") }, CodeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ex := v2DocExamples[tt.ex]
			v := newV2Verifier(t, mustDate(t, ex.now), docVirtualHost)
			r := readRequest(t, ex.raw)
			tt.mut(r)
			_, err := v.Verify(r)
			if got := errCode(err); got != tt.want {
				t.Fatalf("got %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestV2WrongSecret(t *testing.T) {
	t.Parallel()
	ex := v2DocExamples[0]
	v, err := New(Config{
		Credentials:       func(string) (string, bool) { return "not-the-secret", true },
		Now:               func() time.Time { return mustDate(t, ex.now) },
		VirtualHostBucket: docVirtualHost,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(readRequest(t, ex.raw)); errCode(err) != CodeSignatureDoesNotMatch {
		t.Fatalf("got %v, want SignatureDoesNotMatch", err)
	}
}

// TestV2VirtualHost checks that the bucket of a virtual-hosted-style
// request comes from Config.VirtualHostBucket, and that without it the
// request is taken as path style.
func TestV2VirtualHost(t *testing.T) {
	t.Parallel()
	ex := v2DocExamples[0]
	now := mustDate(t, ex.now)
	for _, tt := range []struct {
		name  string
		vhost func(*http.Request) string
		want  string
	}{
		{"bucket from host", docVirtualHost, ""},
		{"no virtual hosts", nil, CodeSignatureDoesNotMatch},
		{"other bucket", func(*http.Request) string { return "awsexamplebucket2" }, CodeSignatureDoesNotMatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newV2Verifier(t, now, tt.vhost).Verify(readRequest(t, ex.raw))
			if got := errCode(err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	// The same object path style: the bucket is in the path.
	r := readRequest(t, strings.Replace(strings.Replace(ex.raw, "GET /photos", "GET /awsexamplebucket1/photos", 1),
		"awsexamplebucket1.s3.us-west-1.amazonaws.com", "s3.us-west-1.amazonaws.com", 1))
	if _, err := newV2Verifier(t, now, docVirtualHost).Verify(r); err != nil {
		t.Fatalf("path style: %v", err)
	}
}

func TestV2Skew(t *testing.T) {
	t.Parallel()
	ex := v2DocExamples[0]
	now := mustDate(t, ex.now)
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, ""},
		{15 * time.Minute, ""},
		{-15 * time.Minute, ""},
		{15*time.Minute + time.Second, CodeRequestTimeTooSkewed},
		{-16 * time.Minute, CodeRequestTimeTooSkewed},
	} {
		_, err := newV2Verifier(t, now.Add(tt.d), docVirtualHost).Verify(readRequest(t, ex.raw))
		if got := errCode(err); got != tt.want {
			t.Errorf("now%+v: got %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestV2PresignExpiry(t *testing.T) {
	t.Parallel()
	ex := v2DocExamples[8]
	expires := time.Unix(1175139620, 0)
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{expires.Add(-7 * 24 * time.Hour), ""},
		{expires, ""},
		{expires.Add(time.Second), CodeAccessDenied},
	} {
		_, err := newV2Verifier(t, tt.now, docVirtualHost).Verify(readRequest(t, ex.raw))
		if got := errCode(err); got != tt.want {
			t.Errorf("now %v: got %q (%v), want %q", tt.now, got, err, tt.want)
		}
		var e *Error
		if tt.want != "" && (!errors.As(err, &e) || e.Message != "Request has expired") {
			t.Errorf("now %v: message %v", tt.now, err)
		}
	}
}

// hmacV1 signs a string to sign as every Signature Version 2 client does.
func hmacV1(sts string) string {
	m := hmac.New(sha1.New, []byte(testSK))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestV2StringToSign pins the string to sign of requests shaped as botocore
// (HmacV1Auth, HmacV1QueryAuth) and s3cmd (sign_request_v2, signurl) send
// them: each case gives the request and the string to sign the client
// computes; the signature of that string must verify.
func TestV2StringToSign(t *testing.T) {
	t.Parallel()
	const exp = "1800000000"
	now := time.Unix(1800000000-60, 0)
	date := now.UTC().Format(http.TimeFormat)
	presign := func(target string) string {
		return target + "AWSAccessKeyId=" + testAK + "&Expires=" + exp + "&Signature="
	}
	tests := []struct {
		name   string
		method string
		target string // path and query as sent; a trailing "Signature=" gets the signature
		host   string
		hdr    map[string]string
		sts    string
	}{
		{
			name: "key with space, plus and UTF-8 (s3cmd, botocore)", method: "GET",
			target: presign("/b/dir/a%20b%2Bc%C3%A9~x?"),
			sts:    "GET\n\n\n" + exp + "\n/b/dir/a%20b%2Bc%C3%A9~x",
		},
		{
			name: "response-content-type override (s3cmd signurl)", method: "GET",
			target: presign("/b/k?response-content-type=text%2Fplain%3B%20charset%3Dutf-8&"),
			sts:    "GET\n\n\n" + exp + "\n/b/k?response-content-type=text/plain; charset=utf-8",
		},
		{
			name: "overrides sorted, unsigned parameters left out", method: "GET",
			target: presign("/b/k?response-content-type=a&x-id=GetObject&response-content-disposition=attachment&"),
			sts:    "GET\n\n\n" + exp + "\n/b/k?response-content-disposition=attachment&response-content-type=a",
		},
		{
			name: "amz parameter signed as a header (botocore HmacV1QueryAuth)", method: "GET",
			target: presign("/b/k?x-amz-security-token=tok&"),
			sts:    "GET\n\n\n" + exp + "\nx-amz-security-token:tok\n/b/k",
		},
		{
			name: "virtual host", method: "GET", host: "bkt.s3.amazonaws.com",
			target: presign("/k?"),
			sts:    "GET\n\n\n" + exp + "\n/bkt/k",
		},
		{
			name: "bucket listing, virtual host", method: "GET", host: "bkt.s3.amazonaws.com",
			target: "/?prefix=a&max-keys=2",
			hdr:    map[string]string{"Date": date},
			sts:    "GET\n\n\n" + date + "\n/bkt/",
		},
		{
			name: "bucket without trailing slash signed with it (botocore)", method: "GET",
			target: "/b?acl&encoding-type=url",
			hdr:    map[string]string{"Date": date},
			sts:    "GET\n\n\n" + date + "\n/b/?acl",
		},
		{
			name: "bucket without trailing slash signed as sent", method: "GET",
			target: "/b?acl",
			hdr:    map[string]string{"Date": date},
			sts:    "GET\n\n\n" + date + "\n/b?acl",
		},
		{
			name: "upload part (botocore HmacV1Auth)", method: "PUT",
			target: "/b/k?uploadId=abc&partNumber=2",
			hdr:    map[string]string{"Date": date, "Content-Md5": "XUFAKrxLKna5cZ2REBfFkg==", "Content-Type": " binary/octet-stream "},
			sts:    "PUT\nXUFAKrxLKna5cZ2REBfFkg==\nbinary/octet-stream\n" + date + "\n/b/k?partNumber=2&uploadId=abc",
		},
		{
			name: "uploads without value", method: "POST",
			target: "/b/k?uploads",
			hdr:    map[string]string{"Date": date},
			sts:    "POST\n\n\n" + date + "\n/b/k?uploads",
		},
		{
			name: "x-amz-date replaces Date (s3cmd signature_v2)", method: "PUT",
			target: "/b/k%2Fx",
			hdr: map[string]string{"X-Amz-Date": now.UTC().Format(time.RFC1123Z), "X-Amz-Meta-S3cmd-Attrs": "uid:0 ",
				"X-Amz-Storage-Class": "STANDARD", "Content-Type": "text/plain"},
			sts: "PUT\n\ntext/plain\n\nx-amz-date:" + now.UTC().Format(time.RFC1123Z) +
				"\nx-amz-meta-s3cmd-attrs:uid:0\nx-amz-storage-class:STANDARD\n/b/k%2Fx",
		},
	}
	vhost := func(r *http.Request) string {
		b, _ := strings.CutSuffix(r.Host, ".s3.amazonaws.com")
		if b == r.Host {
			return ""
		}
		return b
	}
	v := newV2Verifier(t, now, vhost)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sig := hmacV1(tt.sts)
			target := tt.target
			auth := ""
			if strings.HasSuffix(target, "Signature=") {
				target += url.QueryEscape(sig)
			} else {
				auth = "Authorization: AWS " + testAK + ":" + sig + "\n"
			}
			host := tt.host
			if host == "" {
				host = "s3.amazonaws.com"
			}
			raw := tt.method + " " + target + " HTTP/1.1\nHost: " + host + "\n" + auth
			for k, val := range tt.hdr {
				raw += k + ": " + val + "\n"
			}
			r := readRequest(t, raw)
			res, err := v.Verify(r)
			if err != nil {
				t.Fatalf("Verify: %v\nstring to sign %q", err, tt.sts)
			}
			if res.Version != SignatureV2 || res.AccessKey != testAK {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// TestV2UnescapedPlus accepts a presigned signature whose '+' was not
// escaped (it decodes as a space), as a URL pasted by hand has it.
func TestV2UnescapedPlus(t *testing.T) {
	t.Parallel()
	ex := v2DocExamples[8]
	raw := strings.Replace(ex.raw, "NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D", "NpgCjnDzrM+WFzoENXmpNDUsSn8=", 1)
	if _, err := newV2Verifier(t, mustDate(t, ex.now), docVirtualHost).Verify(readRequest(t, raw)); err != nil {
		t.Fatal(err)
	}
}

// TestV2MinioSigner checks requests signed by minio-go's independent
// Signature Version 2 signers, sent through a real server, including awkward
// keys; the body passes through unchanged.
func TestV2MinioSigner(t *testing.T) {
	t.Parallel()
	v, err := New(Config{Credentials: testCredentials}) // real clock: the signers use it
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, v)
	c := srv.Client()
	body := []byte("version 2 body")
	for _, key := range []string{"k", "a b+c", "dir/ü 日本/😀", "x;y=z&w", "~tilde"} {
		for _, presign := range []bool{false, true} {
			t.Run(key+"/"+strconv.FormatBool(presign), func(t *testing.T) {
				t.Parallel()
				u := srv.URL + "/bucket/" + s3utilsPath(key) + "?uploadId=u1&partNumber=3&list-type=2"
				req, err := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "text/plain")
				req.Header.Set("X-Amz-Meta-Color", "blue")
				if presign {
					req = signer.PreSignV2(*req, testAK, testSK, 3600, false)
				} else {
					req = signer.SignV2(*req, testAK, testSK, false)
				}
				got := do(t, c, req)
				if got.code != "" {
					t.Fatalf("code %s", got.code)
				}
				if got.accessKey != testAK || got.presigned != presign || !bytes.Equal(got.body, body) {
					t.Errorf("outcome %+v", got)
				}
				// A tampered copy fails.
				bad, err := http.NewRequest(http.MethodPut, strings.Replace(req.URL.String(), "partNumber=3", "partNumber=4", 1), bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				bad.Header = req.Header.Clone()
				if got := do(t, c, bad); got.code != CodeSignatureDoesNotMatch {
					t.Errorf("tampered: code %q", got.code)
				}
			})
		}
	}
}

// TestV2BodyPassesThrough checks that Version 2, which signs no payload,
// hands the body over unread and unchanged.
func TestV2BodyPassesThrough(t *testing.T) {
	t.Parallel()
	ex := v2DocExamples[1]
	r := readRequest(t, ex.raw)
	r.Body = io.NopCloser(strings.NewReader("puppy"))
	r.ContentLength = 5
	res, err := newV2Verifier(t, mustDate(t, ex.now), docVirtualHost).Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil || string(b) != "puppy" || res.DecodedLength != 5 || res.Streaming {
		t.Fatalf("body %q, %v, result %+v", b, err, res)
	}
}

// FuzzVerifyV2 checks that Signature Version 2 verification is total: any
// Authorization header, query and path yields a result or an *Error,
// never a panic.
func FuzzVerifyV2(f *testing.F) {
	for _, ex := range v2DocExamples {
		r := readRequest(f, ex.raw)
		f.Add(r.Header.Get("Authorization"), r.URL.RawQuery, r.RequestURI, r.Header.Get("X-Amz-Date"))
	}
	f.Add("AWS :", "AWSAccessKeyId=&Expires=-1&Signature=%", "/", "")
	v, err := New(Config{Credentials: testCredentials, VirtualHostBucket: docVirtualHost})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, authz, query, path, amzDate string) {
		r := &http.Request{Method: http.MethodGet, Host: "b.s3.amazonaws.com", Header: http.Header{}, RequestURI: path,
			URL: &url.URL{Path: "/", RawQuery: query}}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if amzDate != "" {
			r.Header.Set("X-Amz-Date", amzDate)
		}
		res, err := v.Verify(r)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error %T %v is not *Error", err, err)
		}
		if err == nil && res == nil {
			t.Fatal("nil result without error")
		}
	})
}
