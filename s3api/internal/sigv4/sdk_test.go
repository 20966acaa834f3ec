package sigv4

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// awkwardKeys are object keys whose encoding is easy to get wrong.
var awkwardKeys = []string{
	"plain.txt",
	"with space",
	"a+b",
	"100%",
	"100%25",
	"semi;colon",
	"dir//double",
	"../up",
	"a/./b/../c",
	"emoji/😀/🀄",
	"trailing/",
	"tilde~!*'()$&,=:@",
	"q?x#y",
	"%2F",
	"ünïcødé/日本語",
	"tab\tand\x01ctl",
}

var sdkQueries = []string{
	"",
	"uploads",
	"uploadId=abc%2Bdef&partNumber=3",
	"list-type=2&prefix=a%20b&delimiter=%2F&continuation-token=x%3D%3D",
	"tag=b&tag=a&tag=",
	"x=%3B&y=%2B+z",
	"versionId=null&response-content-disposition=attachment%3B%20filename%3D%22f.txt%22",
}

var sdkSigner = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })

var sdkCreds = aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSK}

func objectURL(base, key, rawQuery string) string {
	u := base + "/bucket/" + s3utils.EncodePath(key)
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	return u
}

func sdkRequest(t testing.TB, method, u string, body []byte) *http.Request {
	t.Helper()
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequest(method, u, bytes.NewReader(body))
	} else {
		req, err = http.NewRequest(method, u, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func sdkSign(t testing.TB, req *http.Request, payload string) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payload)
	if err := sdkSigner.SignHTTP(context.Background(), sdkCreds, req, payload, "s3", testRegion, signTime); err != nil {
		t.Fatal(err)
	}
}

func TestSDKHeaderAuth(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, newTestVerifier(t, fixedNow(3*time.Minute)))
	c := srv.Client()
	type tc struct {
		name, method, key, query string
		body                     []byte
		headers                  http.Header
		payload                  string // "" → hex SHA-256 of body
	}
	var cases []tc
	for _, k := range awkwardKeys {
		cases = append(cases, tc{name: "GET key " + k, method: http.MethodGet, key: k})
	}
	for _, q := range sdkQueries {
		cases = append(cases, tc{name: "GET query " + q, method: http.MethodGet, key: "k", query: q})
	}
	body := []byte("hello, s3mesh")
	cases = append(cases,
		tc{name: "PUT signed body", method: http.MethodPut, key: "a b/c+d", body: body},
		tc{name: "PUT unsigned", method: http.MethodPut, key: "x", body: body, payload: UnsignedPayload},
		tc{name: "PUT empty", method: http.MethodPut, key: "dir/", body: []byte{}},
		tc{name: "DELETE", method: http.MethodDelete, key: "x", query: "versionId=1"},
		tc{name: "HEAD", method: http.MethodHead, key: "x"},
		tc{name: "POST delete", method: http.MethodPost, key: "", query: "delete", body: []byte("<Delete/>")},
		tc{name: "headers", method: http.MethodPut, key: "h", body: body, headers: http.Header{
			"Content-Type":        {"text/plain;  charset=utf-8"},
			"X-Amz-Meta-Spaces":   {"  a   b    c  "},
			"X-Amz-Meta-Multi":    {"one", "two"},
			"Content-Md5":         {"XUFAKrxLKna5cZ2REBfFkg=="},
			"Cache-Control":       {"no-cache"},
			"X-Amz-Storage-Class": {"STANDARD"},
		}},
	)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := sdkRequest(t, tt.method, objectURL(srv.URL, tt.key, tt.query), tt.body)
			for k, vs := range tt.headers {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			payload := tt.payload
			if payload == "" {
				payload = hexSHA256(tt.body)
			}
			sdkSign(t, req, payload)
			got := do(t, c, req)
			if got.code != "" {
				t.Fatalf("verify failed: %s", got.code)
			}
			if tt.method != http.MethodHead {
				if got.accessKey != testAK || got.anonymous || got.presigned {
					t.Fatalf("result %+v", got)
				}
				if !bytes.Equal(got.body, tt.body) {
					t.Fatalf("body %q, want %q", got.body, tt.body)
				}
			}
		})
	}
}

// TestSDKTamper flips bytes of every signed part of SDK-signed requests.
func TestSDKTamper(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, newTestVerifier(t, fixedNow(0)))
	c := srv.Client()
	body := []byte("payload bytes")
	sign := func(t *testing.T) *http.Request {
		req := sdkRequest(t, http.MethodPut, objectURL(srv.URL, "dir/key 1", "partNumber=2&uploadId=u"), body)
		req.Header.Set("X-Amz-Meta-Color", "blue")
		req.Header.Set("Content-Type", "text/plain")
		sdkSign(t, req, hexSHA256(body))
		return req
	}
	tests := []struct {
		name   string
		mutate func(r *http.Request)
		want   string
	}{
		{"none", func(*http.Request) {}, ""},
		{"signature byte", func(r *http.Request) {
			a := r.Header.Get("Authorization")
			last := a[len(a)-1]
			repl := byte('0')
			if last == '0' {
				repl = '1'
			}
			r.Header.Set("Authorization", a[:len(a)-1]+string(repl))
		}, CodeSignatureDoesNotMatch},
		{"signed header value", func(r *http.Request) { r.Header.Set("X-Amz-Meta-Color", "blUe") }, CodeSignatureDoesNotMatch},
		{"content type", func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }, CodeSignatureDoesNotMatch},
		{"path", func(r *http.Request) { r.URL.Path += "x"; r.URL.RawPath = "" }, CodeSignatureDoesNotMatch},
		{"path case", func(r *http.Request) { r.URL.Path = strings.Replace(r.URL.Path, "dir", "Dir", 1); r.URL.RawPath = "" }, CodeSignatureDoesNotMatch},
		{"query value", func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "partNumber=2", "partNumber=3", 1)
		}, CodeSignatureDoesNotMatch},
		{"query added", func(r *http.Request) { r.URL.RawQuery += "&acl" }, CodeSignatureDoesNotMatch},
		{"method", func(r *http.Request) { r.Method = http.MethodPost }, CodeSignatureDoesNotMatch},
		{"date", func(r *http.Request) { r.Header.Set("X-Amz-Date", signTime.Add(time.Second).Format(iso8601Basic)) }, CodeSignatureDoesNotMatch},
		{"payload hash header", func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload) }, CodeSignatureDoesNotMatch},
		{"unknown access key", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAK, "AKIANOBODY", 1))
		}, CodeInvalidAccessKeyID},
		{"body", func(r *http.Request) {
			b := bytes.ToUpper(body)
			r.Body = noClose(bytes.NewReader(b))
		}, CodeXAmzContentSHA256Mismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := sign(t)
			tt.mutate(req)
			if got := do(t, c, req); got.code != tt.want {
				t.Fatalf("code %q, want %q", got.code, tt.want)
			}
		})
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func noClose(r *bytes.Reader) nopCloser { return nopCloser{r} }

func TestSDKPresign(t *testing.T) {
	t.Parallel()
	type tc struct {
		name, method, key, query string
		expires                  string
		now                      time.Duration
		headers                  http.Header
		mutate                   func(u string) string
		want                     string
	}
	cases := []tc{
		{name: "GET", method: http.MethodGet, key: "a b+c"},
		{name: "PUT", method: http.MethodPut, key: "up/😀", expires: "3600"},
		{name: "query", method: http.MethodGet, key: "x", query: "response-content-type=text%2Fplain&versionId=7"},
		{name: "signed header", method: http.MethodGet, key: "x", headers: http.Header{"X-Amz-Meta-A": {"v"}, "Range": {"bytes=0-1"}}},
		{name: "expired", method: http.MethodGet, key: "x", expires: "60", now: 61 * time.Second, want: CodeAccessDenied},
		{name: "at expiry", method: http.MethodGet, key: "x", expires: "60", now: 60 * time.Second},
		{name: "not yet valid", method: http.MethodGet, key: "x", now: -16 * time.Minute, want: CodeAccessDenied},
		{name: "too long", method: http.MethodGet, key: "x", expires: "604801", want: CodeAuthorizationQueryParametersError},
		{name: "tampered signature", method: http.MethodGet, key: "x", mutate: func(u string) string {
			i := strings.Index(u, "X-Amz-Signature=") + len("X-Amz-Signature=")
			b := []byte(u)
			if b[i] == 'a' {
				b[i] = 'b'
			} else {
				b[i] = 'a'
			}
			return string(b)
		}, want: CodeSignatureDoesNotMatch},
		{name: "tampered expires", method: http.MethodGet, key: "x", expires: "60", mutate: func(u string) string {
			return strings.Replace(u, "X-Amz-Expires=60", "X-Amz-Expires=61", 1)
		}, want: CodeSignatureDoesNotMatch},
		{name: "tampered path", method: http.MethodGet, key: "x", mutate: func(u string) string {
			return strings.Replace(u, "/bucket/x", "/bucket/y", 1)
		}, want: CodeSignatureDoesNotMatch},
		{name: "extra param", method: http.MethodGet, key: "x", mutate: func(u string) string { return u + "&acl" }, want: CodeSignatureDoesNotMatch},
		{name: "semicolon param", method: http.MethodGet, key: "x", mutate: func(u string) string { return u + "&a;b" }, want: CodeSignatureDoesNotMatch},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, newTestVerifier(t, fixedNow(tt.now)))
			q := tt.query
			if tt.expires == "" {
				tt.expires = "900"
			}
			{
				if q != "" {
					q += "&"
				}
				q += "X-Amz-Expires=" + tt.expires
			}
			req := sdkRequest(t, tt.method, objectURL(srv.URL, tt.key, q), nil)
			for k, v := range tt.headers {
				req.Header[k] = v
			}
			signed, hdr, err := sdkSigner.PresignHTTP(context.Background(), sdkCreds, req, UnsignedPayload, "s3", testRegion, signTime)
			if err != nil {
				t.Fatal(err)
			}
			if tt.mutate != nil {
				signed = tt.mutate(signed)
			}
			var body []byte
			if tt.method == http.MethodPut {
				body = []byte("presigned upload")
			}
			preq := sdkRequest(t, tt.method, signed, body)
			for k, v := range hdr {
				if k != "Host" {
					preq.Header[k] = v
				}
			}
			got := do(t, srv.Client(), preq)
			if got.code != tt.want {
				t.Fatalf("code %q, want %q (url %s)", got.code, tt.want, signed)
			}
			if tt.want == "" && (!got.presigned || got.accessKey != testAK || !bytes.Equal(got.body, body)) {
				t.Fatalf("result %+v", got)
			}
		})
	}
}

// TestSDKSemicolonQuery sends a raw ';' in the query: Go's url.ParseQuery
// rejects it, the verifier must not.
func TestSDKSemicolonQuery(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t, fixedNow(0))
	req := sdkRequest(t, http.MethodGet, "http://example.com/bucket/key", nil)
	sdkSign(t, req, emptySHA256)
	// The SDK drops the parameter it cannot parse; sign what it signed,
	// then send the raw ';' query: the canonical query differs.
	req.URL.RawQuery = "a;b"
	if _, err := v.Verify(req); errCode(err) != CodeSignatureDoesNotMatch {
		t.Fatalf("err %v, want SignatureDoesNotMatch", err)
	}
	// Signed with the ';' in place (canonical "a%3Bb="), it verifies.
	req2 := sdkRequest(t, http.MethodGet, "http://example.com/bucket/key?a%3Bb", nil)
	sdkSign(t, req2, emptySHA256)
	req2.URL.RawQuery = "a;b"
	if _, err := v.Verify(req2); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got := url.QueryEscape("a;b"); got != "a%3Bb" {
		t.Fatalf("QueryEscape = %s", got)
	}
}
