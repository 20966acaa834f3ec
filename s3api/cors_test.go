package s3api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestBucketCorsHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/k", body: []byte("x")}, 200)
	if got := errorCode(t, e.mustDo(req{method: "GET", target: "/bkt1?cors"}, 404)); got != "NoSuchCORSConfiguration" {
		t.Errorf("GetBucketCors before: %s", got)
	}
	preflight := func(origin, method, headers string) *http.Response {
		t.Helper()
		hdr := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
		if headers != "" {
			hdr["Access-Control-Request-Headers"] = headers
		}
		return e.do(req{method: "OPTIONS", target: "/bkt1/k", hdr: hdr, anonymous: true}).Result()
	}
	if res := preflight("https://app.example.com", "GET", ""); res.StatusCode != 403 {
		t.Errorf("preflight without rules: %d", res.StatusCode)
	}
	cfg := `<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>content-type</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`
	e.mustDo(req{method: "PUT", target: "/bkt1?cors", body: []byte(cfg)}, 200)
	rec := e.mustDo(req{method: "GET", target: "/bkt1?cors"}, 200)
	if s := rec.Body.String(); !strings.Contains(s, "<AllowedOrigin>https://*.example.com</AllowedOrigin>") || !strings.Contains(s, "<MaxAgeSeconds>600</MaxAgeSeconds>") {
		t.Errorf("GetBucketCors: %s", s)
	}
	tests := []struct {
		origin, method, headers string
		status                  int
		allowOrigin             string
	}{
		{"https://app.example.com", "PUT", "Content-Type, X-Amz-Date", 200, "https://app.example.com"},
		{"https://app.example.com", "DELETE", "", 403, ""},
		{"https://app.example.com", "PUT", "authorization", 403, ""},
		{"https://other.org", "GET", "", 200, "*"},
		{"https://other.org", "PUT", "", 403, ""},
	}
	for _, tt := range tests {
		res := preflight(tt.origin, tt.method, tt.headers)
		if res.StatusCode != tt.status || res.Header.Get("Access-Control-Allow-Origin") != tt.allowOrigin {
			t.Errorf("preflight %s %s %q: %d %v", tt.origin, tt.method, tt.headers, res.StatusCode, res.Header)
		}
	}
	res := preflight("https://app.example.com", "PUT", "content-type")
	if res.Header.Get("Access-Control-Max-Age") != "600" || res.Header.Get("Access-Control-Expose-Headers") != "ETag" ||
		res.Header.Get("Access-Control-Allow-Headers") != "content-type" || res.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight headers: %v", res.Header)
	}
	if got := errorCode(t, e.mustDo(req{method: "OPTIONS", target: "/bkt1/k", anonymous: true, hdr: map[string]string{"Access-Control-Request-Method": "GET"}}, 400)); got != "InvalidRequest" {
		t.Errorf("preflight without Origin: %s", got)
	}
	// An actual request with an Origin gets the headers of its rule.
	rec = e.mustDo(req{method: "GET", target: "/bkt1/k", hdr: map[string]string{"Origin": "https://app.example.com"}}, 200)
	if rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" || rec.Header().Get("Access-Control-Expose-Headers") != "ETag" {
		t.Errorf("GET with Origin: %v", rec.Header())
	}
	rec = e.mustDo(req{method: "GET", target: "/bkt1/k"}, 200)
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET without Origin: %v", rec.Header())
	}
	for _, bad := range []string{
		`<CORSConfiguration></CORSConfiguration>`,
		`<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`,
		`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>`,
	} {
		if rec := e.do(req{method: "PUT", target: "/bkt1?cors", body: []byte(bad)}); rec.Code != 400 {
			t.Errorf("PutBucketCors(%s): %d", bad, rec.Code)
		}
	}
	e.mustDo(req{method: "DELETE", target: "/bkt1?cors"}, 204)
	e.mustDo(req{method: "GET", target: "/bkt1?cors"}, 404)
}
