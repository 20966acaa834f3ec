package s3api_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// testMount serves, on path-style requests:
//
//	/ops/open      AuthNone, answers "open"
//	/ops/signed    AuthSigned, answers "signed"
//	/ops/cookie    AuthSigned, or a "session: yes" header
//	/ops/fail      AuthNone, returns InvalidArgument (written as text)
//	/ops/boom      AuthNone, panics
//	/ops/teapot    AuthNone, writes a 418 itself
//	/ops/internal  AuthNone, returns an error without a code
//
// and reserves the bucket name "ops".
func testMount() s3api.Mount {
	text := func(s string) s3api.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) error { _, err := io.WriteString(w, s); return err }
	}
	textError := func(w http.ResponseWriter, _ *http.Request, e *s3err.Error) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(e.Code.Status())
		_, _ = io.WriteString(w, string(e.Code)+": "+e.ClientMessage())
	}
	routes := map[string]s3api.Route{
		"/ops/open":   {Op: "OpsOpen", Auth: s3api.AuthNone, Handler: text("open")},
		"/ops/signed": {Op: "OpsSigned", Handler: text("signed")},
		"/ops/cookie": {Op: "OpsCookie", Handler: text("cookie"), Session: func(r *http.Request) bool { return r.Header.Get("session") == "yes" }},
		"/ops/fail": {Op: "OpsFail", Auth: s3api.AuthNone, WriteError: textError, Handler: func(http.ResponseWriter, *http.Request) error {
			return s3err.New(s3err.ErrInvalidArgument, "bad argument")
		}},
		"/ops/boom": {Op: "OpsBoom", Auth: s3api.AuthNone, Handler: func(http.ResponseWriter, *http.Request) error { panic("boom") }},
		"/ops/teapot": {Op: "OpsTeapot", Auth: s3api.AuthNone, Handler: func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusTeapot)
			return nil
		}},
		"/ops/internal": {Op: "OpsInternal", Auth: s3api.AuthNone, Handler: func(http.ResponseWriter, *http.Request) error {
			return errors.New("disk on fire")
		}},
	}
	return s3api.Mount{
		Reserved: map[string]string{"ops": "the test endpoints (/ops/)"},
		Match: func(r *http.Request, t s3api.Target) (s3api.Route, bool) {
			rt, ok := routes[r.URL.Path]
			return rt, ok && !t.VirtualHost
		},
	}
}

func TestMount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *s3api.Config) { c.Mounts = []s3api.Mount{testMount()} })
	e.mustDo(req{method: "PUT", target: "/photos"}, 200)
	e.mustDo(req{method: "PUT", target: "/photos/ops/open", body: []byte("a key")}, 200)

	for _, tt := range []struct {
		name   string
		req    req
		status int
		body   string // in the body
		code   string // S3 error XML code, "" for none
	}{
		{"open, unsigned", req{method: "GET", target: "/ops/open", anonymous: true}, 200, "open", ""},
		{"open, signed", req{method: "GET", target: "/ops/open"}, 200, "open", ""},
		{"signed", req{method: "GET", target: "/ops/signed"}, 200, "signed", ""},
		{"signed, unsigned", req{method: "GET", target: "/ops/signed", anonymous: true}, 403, "", "AccessDenied"},
		{"signed, wrong secret", req{method: "GET", target: "/ops/signed", secret: "wrong"}, 403, "", "SignatureDoesNotMatch"},
		{"session", req{method: "GET", target: "/ops/cookie", anonymous: true, hdr: map[string]string{"session": "yes"}}, 200, "cookie", ""},
		{"no session", req{method: "GET", target: "/ops/cookie", anonymous: true}, 403, "", "AccessDenied"},
		{"own error writer", req{method: "GET", target: "/ops/fail", anonymous: true}, 400, "InvalidArgument: bad argument", ""},
		{"panic", req{method: "GET", target: "/ops/boom", anonymous: true}, 500, "", "InternalError"},
		{"internal", req{method: "GET", target: "/ops/internal", anonymous: true}, 500, "", "InternalError"},
		{"written status", req{method: "GET", target: "/ops/teapot", anonymous: true}, 418, "", ""},
		{"virtual host is S3", req{method: "GET", target: "http://photos.s3.example.com/ops/open"}, 200, "a key", ""},
		{"other path is S3", req{method: "GET", target: "/ops/nope"}, 404, "", "NoSuchBucket"},
		{"reserved bucket", req{method: "PUT", target: "/ops"}, 400, "", "InvalidBucketName"},
		{"reserved bucket, unsigned", req{method: "PUT", target: "/ops", anonymous: true}, 403, "", "AccessDenied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.mustDo(tt.req, tt.status)
			if rec.Header().Get("x-amz-request-id") == "" {
				t.Error("no x-amz-request-id")
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body %q lacks %q", rec.Body.String(), tt.body)
			}
			if tt.code != "" {
				if got := errorCode(t, rec); got != tt.code {
					t.Errorf("code %q, want %q", got, tt.code)
				}
			}
			if strings.Contains(rec.Body.String(), "disk on fire") || strings.Contains(rec.Body.String(), "panic") {
				t.Errorf("internal detail sent: %s", rec.Body.String())
			}
		})
	}
	rec := e.mustDo(req{method: "PUT", target: "/ops"}, 400)
	if !strings.Contains(rec.Body.String(), "reserved for the test endpoints (/ops/)") {
		t.Errorf("reserved bucket refusal does not say why: %s", rec.Body.String())
	}

	want := `
# HELP s3mesh_s3_requests_total S3 requests answered, by operation and S3 error code (OK for success).
# TYPE s3mesh_s3_requests_total counter
s3mesh_s3_requests_total{code="AccessDenied",op="CreateBucket"} 1
s3mesh_s3_requests_total{code="AccessDenied",op="OpsCookie"} 1
s3mesh_s3_requests_total{code="AccessDenied",op="OpsSigned"} 1
s3mesh_s3_requests_total{code="HTTP418",op="OpsTeapot"} 1
s3mesh_s3_requests_total{code="InternalError",op="OpsBoom"} 1
s3mesh_s3_requests_total{code="InternalError",op="OpsInternal"} 1
s3mesh_s3_requests_total{code="InvalidArgument",op="OpsFail"} 1
s3mesh_s3_requests_total{code="InvalidBucketName",op="CreateBucket"} 2
s3mesh_s3_requests_total{code="NoSuchBucket",op="GetObject"} 1
s3mesh_s3_requests_total{code="OK",op="CreateBucket"} 1
s3mesh_s3_requests_total{code="OK",op="GetObject"} 1
s3mesh_s3_requests_total{code="OK",op="OpsCookie"} 1
s3mesh_s3_requests_total{code="OK",op="OpsOpen"} 2
s3mesh_s3_requests_total{code="OK",op="OpsSigned"} 1
s3mesh_s3_requests_total{code="OK",op="PutObject"} 1
s3mesh_s3_requests_total{code="SignatureDoesNotMatch",op="OpsSigned"} 1
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want), "s3mesh_s3_requests_total"); err != nil {
		t.Error(err)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, `msg=request `); n != 11 {
		t.Errorf("%d access lines for mounted routes, want 11:\n%s", n, logs)
	}
	for _, want := range []string{"op=OpsOpen", "status=418 code=HTTP418", "op=OpsBoom", "boom", "disk on fire"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestMountValidate(t *testing.T) {
	t.Parallel()
	creds := s3api.Credentials{AccessKey: testAccessKey, SecretKey: testSecretKey}
	match := func(*http.Request, s3api.Target) (s3api.Route, bool) { return s3api.Route{}, false }
	for _, m := range []s3api.Mount{
		{},
		{Match: match, Reserved: map[string]string{"": "nothing"}},
		{Match: match, Reserved: map[string]string{"Admin": "upper case"}},
		{Match: match, Reserved: map[string]string{"admin": ""}},
	} {
		if _, err := s3api.New(s3api.Config{Credentials: creds, Mounts: []s3api.Mount{m}}, nil); err == nil {
			t.Errorf("mount %+v accepted", m)
		}
	}
}

func TestSigned(t *testing.T) {
	t.Parallel()
	for target, want := range map[string]bool{
		"/x":                        false,
		"/x?a=b":                    false,
		"/x?X-Amz-Signature=abc":    true,
		"/x?Signature=abc&Expires=": true,
	} {
		r, _ := http.NewRequest("GET", "http://h"+target, nil)
		if got := s3api.Signed(r); got != want {
			t.Errorf("Signed(%s) = %v, want %v", target, got, want)
		}
	}
	r, _ := http.NewRequest("GET", "http://h/x", nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 …")
	if !s3api.Signed(r) {
		t.Error("Signed ignores the Authorization header")
	}
}
