package s3api_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		req  req
		want s3err.Code // "" for success
	}{
		{"signed", req{method: "GET", target: "/admin/v1/peers"}, ""},
		{"signed with query", req{method: "GET", target: "/ipfs/bafkqaaa?format=raw"}, ""},
		{"anonymous", req{method: "GET", target: "/admin/v1/peers", anonymous: true}, s3err.ErrAccessDenied},
		{"wrong secret", req{method: "GET", target: "/admin/v1/peers", secret: "not-the-secret"}, s3err.ErrSignatureDoesNotMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.h.Authenticate(e.newRequest(tt.req))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Authenticate = %v, want nil", err)
				}
				return
			}
			var se *s3err.Error
			if !errors.As(err, &se) || se.Code != tt.want {
				t.Fatalf("Authenticate = %#v, want an *s3err.Error with code %s", err, tt.want)
			}
			if se.ClientMessage() == "" {
				t.Error("no client-safe message")
			}
		})
	}
}

func TestHandlerResolve(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // Domains: s3.example.com
	tests := []struct {
		method, target string
		want           s3api.Target
	}{
		{"GET", "/admin/v1/peers", s3api.Target{Op: s3api.OpGetObject, Bucket: "admin", Key: "v1/peers"}},
		{"PUT", "/admin", s3api.Target{Op: s3api.OpCreateBucket, Bucket: "admin"}},
		{"PUT", "/ipfs/", s3api.Target{Op: s3api.OpCreateBucket, Bucket: "ipfs"}},
		{"GET", "http://photos.s3.example.com/admin/v1/peers", s3api.Target{Op: s3api.OpGetObject, Bucket: "photos", Key: "admin/v1/peers", VirtualHost: true}},
		{"PUT", "http://admin.s3.example.com/", s3api.Target{Op: s3api.OpCreateBucket, Bucket: "admin", VirtualHost: true}},
	}
	for _, tt := range tests {
		r := e.newRequest(req{method: tt.method, target: tt.target, anonymous: true})
		if got := e.h.Resolve(r); got != tt.want {
			t.Errorf("%s %s: Resolve = %+v, want %+v", tt.method, tt.target, got, tt.want)
		}
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.newRequest(req{method: "GET", target: "/admin/v1/peers", anonymous: true})
	rec := httptest.NewRecorder()
	e.h.WriteError(rec, r, e.h.Authenticate(r))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("status %d, want 403", rec.Code)
	}
	if got := errorCode(t, rec); got != "AccessDenied" {
		t.Errorf("code %q, want AccessDenied", got)
	}

	// HEAD: the status without a body; an unknown error is InternalError.
	r = e.newRequest(req{method: "HEAD", target: "/admin/v1/peers", anonymous: true})
	rec = httptest.NewRecorder()
	e.h.WriteError(rec, r, errors.New("disk on fire"))
	if rec.Code != http.StatusInternalServerError || rec.Body.Len() != 0 {
		t.Errorf("HEAD with an internal error: %d %q, want 500 and no body", rec.Code, rec.Body.String())
	}
}
