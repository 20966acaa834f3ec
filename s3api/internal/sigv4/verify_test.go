package sigv4

import (
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// TestMinioSign checks minio-go's header and presigned signers, including
// signed Content-Length and Transfer-Encoding, which net/http moves out of
// r.Header on the server.
func TestMinioSign(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, newTestVerifier(t, nil))
	body := []byte("minio body")
	tests := []struct {
		name    string
		method  string
		key     string
		query   string
		body    []byte
		prepare func(r *http.Request)
	}{
		{name: "get", method: http.MethodGet, key: "k"},
		{name: "awkward key", method: http.MethodGet, key: "a b/+%/;/../😀/"},
		{name: "query", method: http.MethodGet, key: "k", query: "prefix=a%20b&list-type=2&delimiter=%2F"},
		{name: "content-length", method: http.MethodPut, key: "k", body: body, prepare: func(r *http.Request) {
			r.Header.Set("Content-Length", "10")
		}},
		{name: "transfer-encoding", method: http.MethodPut, key: "k", body: body, prepare: func(r *http.Request) {
			r.ContentLength = -1
			r.Body = io.NopCloser(bytes.NewReader(body)) // hide the length
			r.Header.Set("Transfer-Encoding", "chunked")
		}},
		{name: "repeated and spaced headers", method: http.MethodPut, key: "k", body: body, prepare: func(r *http.Request) {
			r.Header.Add("X-Amz-Meta-M", "x   y")
			r.Header.Add("X-Amz-Meta-M", " z ")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := srv.URL + "/bucket/" + s3utilsPath(tt.key)
			if tt.query != "" {
				u += "?" + tt.query
			}
			req := sdkRequest(t, tt.method, u, tt.body)
			if tt.prepare != nil {
				tt.prepare(req)
			}
			req.Header.Set("X-Amz-Content-Sha256", hexSHA256(tt.body))
			signed := signer.SignV4(*req, testAK, testSK, "", testRegion)
			if tt.name == "transfer-encoding" && !strings.Contains(signed.Header.Get("Authorization"), "transfer-encoding") {
				t.Fatal("transfer-encoding not signed")
			}
			if tt.name == "content-length" && !strings.Contains(signed.Header.Get("Authorization"), "content-length") {
				t.Fatal("content-length not signed")
			}
			got := do(t, srv.Client(), signed)
			if got.code != "" {
				t.Fatalf("code %s", got.code)
			}
			if !bytes.Equal(got.body, tt.body) {
				t.Fatalf("body %q", got.body)
			}
		})
		t.Run(tt.name+"/presigned", func(t *testing.T) {
			t.Parallel()
			if tt.prepare != nil {
				t.Skip("headers are not part of presigned URLs")
			}
			u := srv.URL + "/bucket/" + s3utilsPath(tt.key)
			if tt.query != "" {
				u += "?" + tt.query
			}
			req := sdkRequest(t, tt.method, u, nil)
			signed := signer.PreSignV4(*req, testAK, testSK, "", testRegion, 300)
			preq := sdkRequest(t, tt.method, signed.URL.String(), tt.body)
			got := do(t, srv.Client(), preq)
			if got.code != "" || !got.presigned {
				t.Fatalf("code %q presigned %v", got.code, got.presigned)
			}
		})
	}
}

// TestVerifyErrors covers the request-level failures and their codes.
func TestVerifyErrors(t *testing.T) {
	t.Parallel()
	signed := func(mut func(r *http.Request)) func() *http.Request {
		return func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, "http://example.com/bucket/key", nil)
			if mut != nil {
				mut(req)
			}
			sdkSign(t, req, emptySHA256)
			return req
		}
	}
	raw := func(method, u string, hdr map[string]string) func() *http.Request {
		return func() *http.Request {
			req, _ := http.NewRequest(method, u, nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			return req
		}
	}
	after := func(mk func() *http.Request, mut func(r *http.Request)) func() *http.Request {
		return func() *http.Request { r := mk(); mut(r); return r }
	}
	replaceAuth := func(old, new string) func(r *http.Request) {
		return func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
		}
	}
	ok := signed(nil)
	tests := []struct {
		name string
		now  time.Duration
		req  func() *http.Request
		want string
	}{
		{"ok", 0, ok, ""},
		{"ok at skew edge", 15 * time.Minute, ok, ""},
		{"skew past", 15*time.Minute + time.Second, ok, CodeRequestTimeTooSkewed},
		{"skew future", -16 * time.Minute, ok, CodeRequestTimeTooSkewed},
		{"anonymous", 0, raw("GET", "http://example.com/b/k", nil), ""},
		{"v2 header unknown key", 0, raw("GET", "http://example.com/b/k", map[string]string{"Authorization": "AWS AKID:c2lnbmF0dXJl", "Date": signTime.Format(http.TimeFormat)}), CodeInvalidAccessKeyID},
		{"v2 presign expired", 0, raw("GET", "http://example.com/b/k?AWSAccessKeyId=AK&Expires=1&Signature=x", nil), CodeAccessDenied},
		{"v2 presign and v4 header", 0, after(ok, func(r *http.Request) { r.URL.RawQuery = "AWSAccessKeyId=AK&Expires=1&Signature=x" }), CodeInvalidArgument},
		{"sigv4a", 0, raw("GET", "http://example.com/b/k", map[string]string{"Authorization": "AWS4-ECDSA-P256-SHA256 Credential=x"}), CodeUnsupportedSignature},
		{"bearer", 0, raw("GET", "http://example.com/b/k", map[string]string{"Authorization": "Bearer abc"}), CodeInvalidArgument},
		{"malformed", 0, raw("GET", "http://example.com/b/k", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=AK/20250601/r/s3/aws4_request"}), CodeAuthorizationHeaderMalformed},
		{"both mechanisms", 0, after(ok, func(r *http.Request) { r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256" }), CodeInvalidArgument},
		{"repeated authorization", 0, after(ok, func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }), CodeAuthorizationHeaderMalformed},
		{"no date", 0, after(ok, func(r *http.Request) { r.Header.Del("X-Amz-Date") }), CodeAccessDenied},
		{"bad date", 0, after(ok, func(r *http.Request) { r.Header.Set("X-Amz-Date", "2025-06-01") }), CodeAccessDenied},
		{"credential date", 0, after(ok, replaceAuth("/20250601/", "/20250602/")), CodeAuthorizationHeaderMalformed},
		{"service", 0, after(ok, replaceAuth("/s3/", "/ec2/")), CodeAuthorizationHeaderMalformed},
		{"other region", 0, after(ok, replaceAuth("/"+testRegion+"/", "/us-east-1/")), CodeAuthorizationHeaderMalformed},
		{"unsigned x-amz header", 0, after(ok, func(r *http.Request) { r.Header.Set("X-Amz-Copy-Source", "/other/secret") }), CodeAccessDenied},
		{"unsigned x-amz-meta header", 0, after(ok, func(r *http.Request) { r.Header.Set("X-Amz-Meta-A", "b") }), CodeAccessDenied},
		{"unknown key", 0, after(ok, replaceAuth(testAK, "NOPE")), CodeInvalidAccessKeyID},
		{"host not signed", 0, after(ok, replaceAuth("SignedHeaders=host;", "SignedHeaders=")), CodeAccessDenied},
		{"invalid content sha", 0, after(ok, func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "nope") }), CodeInvalidArgument},
		{"missing content sha", 0, after(ok, func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }), CodeSignatureDoesNotMatch},
		{"Date header", 0, func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, "http://example.com/bucket/key", nil)
			req.Header.Set("Date", signTime.Format(http.TimeFormat))
			req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
			// Sign with the SDK (which sets X-Amz-Date), then drop
			// X-Amz-Date: the Date header carries the same instant.
			sdkSign(t, req, emptySHA256)
			a := req.Header.Get("Authorization")
			req.Header.Del("X-Amz-Date")
			if strings.Contains(a, "x-amz-date") {
				req.Header.Set("Authorization", a) // still references x-amz-date: signature differs
			}
			return req
		}, CodeSignatureDoesNotMatch},
		{"presigned missing params", 0, raw("GET", "http://example.com/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256", nil), CodeAuthorizationQueryParametersError},
		{"presigned streaming", 0, raw("GET", "http://example.com/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250601%2Fr%2Fs3%2Faws4_request&X-Amz-Date=20250601T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Content-Sha256=STREAMING-UNSIGNED-PAYLOAD-TRAILER", nil), CodeAuthorizationQueryParametersError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newTestVerifier(t, fixedNow(tt.now))
			req := tt.req()
			res, err := v.Verify(req)
			if got := errCode(err); got != tt.want {
				t.Fatalf("code %q, want %q (err %v)", got, tt.want, err)
			}
			if err == nil && res.Body == nil {
				t.Fatal("nil Body")
			}
		})
	}
}

func TestVerifyAnonymous(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t, nil)
	req, _ := http.NewRequest(http.MethodPut, "http://example.com/b/k?acl", strings.NewReader("abc"))
	res, err := v.Verify(req)
	if err != nil || !res.Anonymous || res.AccessKey != "" || res.DecodedLength != 3 {
		t.Fatalf("res %+v err %v", res, err)
	}
	b, _ := io.ReadAll(res.Body)
	if string(b) != "abc" {
		t.Fatalf("body %q", b)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{MaxSkew: -1},
		{MaxPresignExpiry: 8 * 24 * time.Hour},
		{MaxChunkSize: -1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	v, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Region() != DefaultRegion {
		t.Fatalf("region %s", v.Region())
	}
	// The zero Config knows no key.
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/b/k", nil)
	sdkSign(t, req, emptySHA256)
	v2, _ := New(Config{Now: fixedNow(0), Region: testRegion})
	if _, err := v2.Verify(req); errCode(err) != CodeInvalidAccessKeyID {
		t.Fatalf("err %v", err)
	}
	// A shorter presign limit is enforced.
	v3, _ := New(Config{Credentials: testCredentials, Now: fixedNow(0), MaxPresignExpiry: time.Hour, Region: testRegion})
	preq, _ := http.NewRequest(http.MethodGet, "http://example.com/b/k?X-Amz-Expires=3601", nil)
	u, _, err := sdkSigner.PresignHTTP(t.Context(), sdkCreds, preq, UnsignedPayload, "s3", testRegion, signTime)
	if err != nil {
		t.Fatal(err)
	}
	preq, _ = http.NewRequest(http.MethodGet, u, nil)
	if _, err := v3.Verify(preq); errCode(err) != CodeAuthorizationQueryParametersError {
		t.Fatalf("err %v", err)
	}
}

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	const sig = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
	want := &Authorization{
		Credential:    Credential{AccessKey: "AKIAIOSFODNN7EXAMPLE", Date: "20130524", Region: "us-east-1", Service: "s3"},
		SignedHeaders: []string{"host", "range", "x-amz-date"},
		Signature:     sig,
	}
	good := []string{
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-date,Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=" + sig,
		"  AWS4-HMAC-SHA256   Credential = AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request ,, SignedHeaders=host;range;x-amz-date ,Signature=" + sig + " ",
		"AWS4-HMAC-SHA256 Signature=" + sig + ", SignedHeaders=Host;Range;X-Amz-Date, Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request",
	}
	for _, h := range good {
		got, err := ParseAuthorization(h)
		if err != nil {
			t.Errorf("ParseAuthorization(%q): %v", h, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ParseAuthorization(%q) = %+v", h, got)
		}
	}
	if got, _ := ParseAuthorization(good[0]); got.String() != good[1] {
		t.Errorf("String() = %q", got.String())
	}
	// An access key containing '/' keeps it.
	a, err := ParseAuthorization("AWS4-HMAC-SHA256 Credential=other/key/20130524/r/s3/aws4_request, SignedHeaders=host, Signature=x")
	if err != nil || a.Credential.AccessKey != "other/key" {
		t.Errorf("slash key: %+v %v", a, err)
	}
	bad := []struct{ h, code string }{
		{"", CodeInvalidArgument},
		{"AWS4-HMAC-SHA256", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256Credential=a", CodeInvalidArgument},
		{"AWS4-HMAC-SHA256 ", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_reques, SignedHeaders=host, Signature=x", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524//s3/aws4_request, SignedHeaders=host, Signature=x", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=/20130524/r/s3/aws4_request, SignedHeaders=host, Signature=x", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/r/aws4_request, SignedHeaders=host, Signature=x", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/r/s3/aws4_request, SignedHeaders=host;;x, Signature=x", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/r/s3/aws4_request, SignedHeaders=host, Signature=", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/r/s3/aws4_request, SignedHeaders=host, Signature=x, Signature=y", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/r/s3/aws4_request, SignedHeaders=host, Signature=x, Foo=y", CodeAuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/r/s3/aws4_request, SignedHeaders=host, Signature", CodeAuthorizationHeaderMalformed},
		{"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", CodeUnsupportedSignature},
	}
	for _, tt := range bad {
		if _, err := ParseAuthorization(tt.h); errCode(err) != tt.code {
			t.Errorf("ParseAuthorization(%q) = %v, want %s", tt.h, err, tt.code)
		}
	}
}

func TestParsePresigned(t *testing.T) {
	t.Parallel()
	// The AWS documentation example.
	const q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	p, err := ParsePresigned(q + "&a;b&prefix=x")
	if err != nil {
		t.Fatal(err)
	}
	want := &Presigned{
		Credential:    Credential{AccessKey: "AKIAIOSFODNN7EXAMPLE", Date: "20130524", Region: "us-east-1", Service: "s3"},
		Date:          time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC),
		Expires:       86400,
		SignedHeaders: []string{"host"},
		Signature:     "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v", p)
	}
	bad := []struct{ q, code string }{
		{"", CodeAuthorizationQueryParametersError},
		{strings.Replace(q, "X-Amz-Expires=86400", "X-Amz-Expires=0", 1), CodeAuthorizationQueryParametersError},
		{strings.Replace(q, "X-Amz-Expires=86400", "X-Amz-Expires=604801", 1), CodeAuthorizationQueryParametersError},
		{strings.Replace(q, "X-Amz-Expires=86400", "X-Amz-Expires=+5", 1), CodeAuthorizationQueryParametersError},
		{strings.Replace(q, "X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130524", 1), CodeAuthorizationQueryParametersError},
		{strings.Replace(q, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1), CodeAuthorizationQueryParametersError},
		{strings.Replace(q, "aws4_request", "aws5_request", 1), CodeAuthorizationQueryParametersError},
		{q + "&X-Amz-Date=20130524T000000Z", CodeAuthorizationQueryParametersError},
		{"AWSAccessKeyId=AK&Expires=1&Signature=s", CodeUnsupportedSignature},
	}
	for _, tt := range bad {
		if _, err := ParsePresigned(tt.q); errCode(err) != tt.code {
			t.Errorf("ParsePresigned(%q) = %v, want %s", tt.q, err, tt.code)
		}
	}
}

func TestCanonicalPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"", "/"},
		{"/", "/"},
		{"/bucket/key", "/bucket/key"},
		{"/b/a%20b", "/b/a%20b"},
		{"/b/a b", "/b/a%20b"},
		{"/b/%7e%7E~", "/b/~~~"},
		{"/b/%2f%2F", "/b/%2F%2F"},
		{"/b/a+b", "/b/a%2Bb"},
		{"/b/a%2bb", "/b/a%2Bb"},
		{"/b//x/../y/./", "/b//x/../y/./"},
		{"/b/%", "/b/%25"},
		{"/b/%zz", "/b/%25zz"},
		{"/b/%4", "/b/%254"},
		{"/b/\xf0\x9f\x98\x80", "/b/%F0%9F%98%80"},
		{"/b/%f0%9f%98%80", "/b/%F0%9F%98%80"},
		{"/b/;:@!$&'()*,=", "/b/%3B%3A%40%21%24%26%27%28%29%2A%2C%3D"},
	}
	for _, tt := range tests {
		if got := string(appendCanonicalPath(nil, tt.raw)); got != tt.want {
			t.Errorf("canonical(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"", ""},
		{"uploads", "uploads="},
		{"b=2&a=1", "a=1&b=2"},
		{"a=2&a=1&a=", "a=&a=1&a=2"},
		{"a;b", "a%3Bb="},
		{"x=a+b&y=a%20b&z=a%2Bb", "x=a%20b&y=a%20b&z=a%2Bb"},
		{"k=%zz&&=v", "=v&k=%25zz"},
		{"prefix=%E6%97%A5&delimiter=/", "delimiter=%2F&prefix=%E6%97%A5"},
	}
	for _, tt := range tests {
		if got := string(appendCanonicalQuery(nil, parseQuery(tt.raw), "")); got != tt.want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// TestUnsignedHeaders checks that every x-amz-* header present must be
// signed, in header and presigned requests, and that signed ones pass.
func TestUnsignedHeaders(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t, fixedNow(0))
	tests := []struct {
		name    string
		signed  map[string]string // set before signing
		added   map[string]string // set after signing
		presign bool
		want    string
	}{
		{"header/signed copy source", map[string]string{"X-Amz-Copy-Source": "/b/k"}, nil, false, ""},
		{"header/unsigned copy source", nil, map[string]string{"X-Amz-Copy-Source": "/other/secret"}, false, CodeAccessDenied},
		{"header/unsigned meta", nil, map[string]string{"x-amz-meta-a": "b"}, false, CodeAccessDenied},
		{"header/unsigned lower-case key", nil, map[string]string{"x-amz-acl": "public-read"}, false, CodeAccessDenied},
		{"header/unsigned non-amz", nil, map[string]string{"amz-sdk-invocation-id": "x", "Content-MD5": "x", "User-Agent": "x"}, false, ""},
		{"presigned/host only", nil, nil, true, ""},
		{"presigned/unsigned copy source", nil, map[string]string{"X-Amz-Copy-Source": "/other/secret"}, true, CodeAccessDenied},
		{"presigned/unsigned meta", nil, map[string]string{"X-Amz-Meta-A": "b"}, true, CodeAccessDenied},
		{"presigned/unsigned content sha", nil, map[string]string{"X-Amz-Content-Sha256": UnsignedPayload}, true, CodeAccessDenied},
		{"presigned/signed header", map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}, nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := "http://example.com/b/k"
			if tt.presign {
				u += "?X-Amz-Expires=300"
			}
			req, _ := http.NewRequest(http.MethodPut, u, nil)
			for k, val := range tt.signed {
				req.Header.Set(k, val)
			}
			if tt.presign {
				u, hdr, err := sdkSigner.PresignHTTP(t.Context(), sdkCreds, req, UnsignedPayload, "s3", testRegion, signTime)
				if err != nil {
					t.Fatal(err)
				}
				req, _ = http.NewRequest(http.MethodPut, u, nil)
				for k, vv := range hdr {
					if !strings.EqualFold(k, "host") {
						req.Header[k] = vv
					}
				}
			} else {
				sdkSign(t, req, emptySHA256)
			}
			for k, val := range tt.added {
				req.Header[k] = []string{val} // as sent, possibly not canonical
			}
			_, err := v.Verify(req)
			if got := errCode(err); got != tt.want {
				t.Fatalf("code %q, want %q (err %v)", got, tt.want, err)
			}
		})
	}
}

// TestMustSign checks the extra header prefixes a signature must cover:
// unsigned in Signature Version 4, and always in Version 2, they are
// AccessDenied.
func TestMustSign(t *testing.T) {
	t.Parallel()
	v, err := New(Config{Credentials: testCredentials, Now: fixedNow(0), Region: testRegion, MustSign: []string{"x-s3mesh-"}})
	if err != nil {
		t.Fatal(err)
	}
	signedReq := func(signCID bool) *http.Request {
		req, _ := http.NewRequest(http.MethodPut, "http://example.com/b/k", nil)
		if signCID {
			req.Header.Set("X-S3mesh-Cid", "bafy")
		}
		sdkSign(t, req, emptySHA256)
		req.Header.Set("X-S3mesh-Cid", "bafy")
		return req
	}
	if _, err := v.Verify(signedReq(true)); err != nil {
		t.Fatalf("signed x-s3mesh-cid: %v", err)
	}
	if _, err := v.Verify(signedReq(false)); errCode(err) != CodeAccessDenied {
		t.Fatalf("unsigned x-s3mesh-cid: %v, want AccessDenied", err)
	}
	req, _ := http.NewRequest(http.MethodPut, "http://example.com/b/k", nil)
	req.Header.Set("Authorization", "AWS "+testAK+":c2lnbmF0dXJl")
	req.Header.Set("Date", signTime.Format(http.TimeFormat))
	req.Header.Set("X-S3mesh-Cid", "bafy")
	if _, err := v.Verify(req); errCode(err) != CodeAccessDenied {
		t.Fatalf("Signature Version 2 with x-s3mesh-cid: %v, want AccessDenied", err)
	}
}
