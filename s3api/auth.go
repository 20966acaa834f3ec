package s3api

import (
	"crypto/subtle"
	"fmt"
	"net/http"

	"s3mesh/s3api/internal/sigv4"
	"s3mesh/s3api/s3err"
)

// newVerifier builds the signature verifier for cfg's root credentials.
// The verifier learns the bucket of a virtual-hosted-style request from
// cfg.Domains, as the router does: Signature Version 2 signs it.
func newVerifier(cfg Config) (*sigv4.Verifier, error) {
	access, secret := cfg.Credentials.AccessKey, string(cfg.Credentials.SecretKey)
	vhosts := newRouter(cfg.Domains)
	v, err := sigv4.New(sigv4.Config{
		Region: cfg.Region,
		Credentials: func(accessKey string) (string, bool) {
			if subtle.ConstantTimeCompare([]byte(accessKey), []byte(access)) != 1 {
				return "", false
			}
			return secret, true
		},
		Now:     cfg.Clock,
		MaxSkew: cfg.MaxSkew,
		// x-s3mesh-cid adopts stored content: it changes what a PUT does.
		MustSign: []string{"x-s3mesh-"},
		VirtualHostBucket: func(r *http.Request) string {
			b, _ := vhosts.virtualBucket(r.Host)
			return b
		},
	})
	if err != nil {
		return nil, fmt.Errorf("s3api: signature verifier: %w", err)
	}
	return v, nil
}

// authenticate verifies the request's signature. An anonymous request is
// AccessDenied: every operation needs the root credentials. On success the
// result's Body replaces the request body, verifying the payload as it is
// read.
func (h *Handler) authenticate(r *http.Request) (*sigv4.Result, error) {
	res, err := h.verifier.Verify(r)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if res.Anonymous {
		return nil, s3err.New(s3err.ErrAccessDenied, "Anonymous access is not allowed; sign the request.")
	}
	return res, nil
}
