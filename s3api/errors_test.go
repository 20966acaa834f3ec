package s3api_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/internal/checksum"
	"s3mesh/s3api/internal/sigv4"
	"s3mesh/s3api/s3err"
	"s3mesh/s3api/s3mem"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestErrorXMLGolden(t *testing.T) {
	t.Parallel()
	golden(t, "error_nosuchkey.xml", s3api.ErrorXML("NoSuchKey", "The specified key does not exist.",
		"/mybucket/myfoto.jpg", "4442587FB7D0A2F9", "eftixk72aD6Ap51TnqcoF8eFidJG9Z/2mkiDFu8yU9AS1ed4OpIszj7UDNEHGran"))
	golden(t, "error_escaped.xml", s3api.ErrorXML("InvalidArgument", `a <b> & "c"`,
		"/b/k<&>", "0000000000000000", "aG9zdA=="))
}

// errStore answers ListBuckets with err.
type errStore struct {
	s3api.ObjectStore
	err error
}

func (s errStore) ListBuckets(context.Context) ([]s3api.BucketInfo, error) { return nil, s.err }

// TestErrorTable checks that every s3err code, bare and wrapped, is answered
// with its status and code, and HEAD-less GETs carry the XML body.
func TestErrorTable(t *testing.T) {
	t.Parallel()
	codes := []s3err.Code{
		s3err.ErrAccessDenied, s3err.ErrAuthorizationHeaderMalformed, s3err.ErrAuthorizationQueryParametersError, s3err.ErrBadDigest, s3err.ErrBucketAlreadyExists, s3err.ErrBucketAlreadyOwnedByYou, s3err.ErrBucketNotEmpty, s3err.ErrEntityTooLarge, s3err.ErrEntityTooSmall, s3err.ErrExpiredToken, s3err.ErrIncompleteBody, s3err.ErrInternalError, s3err.ErrInvalidAccessKeyID, s3err.ErrInvalidArgument, s3err.ErrInvalidBucketName, s3err.ErrInvalidDigest, s3err.ErrInvalidEncodingType, s3err.ErrInvalidLocationConstraint, s3err.ErrInvalidPart, s3err.ErrInvalidPartOrder, s3err.ErrInvalidRange, s3err.ErrInvalidRequest, s3err.ErrInvalidURI, s3err.ErrKeyTooLong, s3err.ErrMalformedXML, s3err.ErrMetadataTooLarge, s3err.ErrMethodNotAllowed, s3err.ErrMissingContentLength, s3err.ErrMissingRequestBodyError, s3err.ErrMissingSecurityHeader, s3err.ErrNoSuchBucket, s3err.ErrNoSuchKey, s3err.ErrNoSuchUpload, s3err.ErrNotImplemented, s3err.ErrNotModified, s3err.ErrPreconditionFailed, s3err.ErrRequestTimeTooSkewed, s3err.ErrServiceUnavailable, s3err.ErrSignatureDoesNotMatch, s3err.ErrSlowDown, s3err.ErrXAmzContentSHA256Mismatch, s3err.ErrInvalidChunkSizeError, s3err.ErrUnsupportedSignature, s3err.ErrConditionalRequestConflict, s3err.ErrInvalidObjectState, s3err.ErrInvalidTag, s3err.ErrNoSuchTagSet, s3err.ErrMalformedPOSTRequest, s3err.ErrRequestHeaderSectionTooLarge, s3err.ErrMaxMessageLengthExceeded, s3err.ErrTooManyParts, s3err.ErrInvalidStorageClass, s3err.ErrUnexpectedContent, s3err.ErrRequestTimeout, s3err.ErrMissingAttachment, s3err.ErrInvalidSecurity, s3err.ErrCrossLocationLoggingProhibited, s3err.ErrIllegalLocationConstraintException,
	}
	wellKnown := map[s3err.Code]int{
		s3err.ErrNoSuchKey: 404, s3err.ErrNoSuchBucket: 404, s3err.ErrAccessDenied: 403,
		s3err.ErrBucketNotEmpty: 409, s3err.ErrInvalidRange: 416, s3err.ErrPreconditionFailed: 412,
		s3err.ErrMissingContentLength: 411, s3err.ErrNotImplemented: 501, s3err.ErrServiceUnavailable: 503,
		s3err.ErrSlowDown: 503, s3err.ErrInternalError: 500, s3err.ErrNotModified: 304,
	}
	for _, code := range codes {
		for _, form := range []struct {
			name string
			err  error
		}{
			{"bare", code},
			{"wrapped", fmt.Errorf("list: %w", code)},
			{"error", &s3err.Error{Code: code, Message: "custom message", Err: errors.New("cause")}},
			{"wrapped error", fmt.Errorf("ctx: %w", s3err.Wrap(code, errors.New("cause")))},
		} {
			t.Run(string(code)+"/"+form.name, func(t *testing.T) {
				t.Parallel()
				e := newEnvStore(t, errStore{s3mem.New(), form.err})
				rec := e.do(req{method: "GET", target: "/"})
				if rec.Code != code.Status() {
					t.Fatalf("status %d, want %d", rec.Code, code.Status())
				}
				if want, ok := wellKnown[code]; ok && rec.Code != want {
					t.Fatalf("status %d, want %d", rec.Code, want)
				}
				if code == s3err.ErrNotModified {
					if rec.Body.Len() != 0 {
						t.Fatalf("304 with a body: %s", rec.Body.String())
					}
					return
				}
				if got := errorCode(t, rec); got != string(code) {
					t.Fatalf("body code %q, want %q", got, code)
				}
				if strings.Contains(rec.Body.String(), "cause") {
					t.Fatalf("internal cause sent: %s", rec.Body.String())
				}
				if form.name == "error" && code != s3err.ErrInternalError && !strings.Contains(rec.Body.String(), "custom message") {
					t.Fatalf("message lost: %s", rec.Body.String())
				}
			})
		}
	}
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	unavailable := fmt.Errorf("read block bafkqaaa: %w", context.DeadlineExceeded)
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		header map[string]string
		inBody []string
	}{
		{"plain error", errors.New("disk on fire"), 500, "InternalError", nil, nil},
		{"unknown code", s3err.Code("NoSuchThing"), 500, "InternalError", nil, nil},
		{"client closed code from a store", s3err.ErrClientClosed, 500, "InternalError", nil, nil},
		{"deadline", unavailable, 503, "ServiceUnavailable", map[string]string{"Retry-After": "5"}, []string{"bafkqaaa"}},
		{"deadline with s3 message", &s3err.Error{Code: s3err.ErrServiceUnavailable, Message: "block X missing", Err: context.DeadlineExceeded},
			503, "ServiceUnavailable", map[string]string{"Retry-After": "5"}, []string{"block X missing"}},
		{"sigv4", &sigv4.Error{Code: "SignatureDoesNotMatch", Message: "nope"}, 403, "SignatureDoesNotMatch", nil, []string{"nope"}},
		{"sigv4 unknown code", &sigv4.Error{Code: "Weird", Message: "m"}, 400, "InvalidRequest", nil, nil},
		{"checksum", fmt.Errorf("read: %w", &checksum.Error{Code: "BadDigest", Message: "crc32 mismatch"}), 400, "BadDigest", nil, []string{"crc32 mismatch"}},
		{"extra header", &s3err.Error{Code: s3err.ErrSlowDown, Header: map[string]string{"Retry-After": "1"}}, 503, "SlowDown", map[string]string{"Retry-After": "1"}, nil},
		{"resource", &s3err.Error{Code: s3err.ErrNoSuchBucket, Resource: "/given"}, 404, "NoSuchBucket", nil, []string{"<Resource>/given</Resource>"}},
		{"default resource", s3err.ErrNoSuchBucket, 404, "NoSuchBucket", nil, []string{"<Resource>/</Resource>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvStore(t, errStore{s3mem.New(), tt.err})
			rec := e.do(req{method: "GET", target: "/"})
			if rec.Code != tt.status || errorCode(t, rec) != tt.code {
				t.Fatalf("got %d %s, want %d %s", rec.Code, rec.Body.String(), tt.status, tt.code)
			}
			for k, v := range tt.header {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, s := range tt.inBody {
				if !strings.Contains(rec.Body.String(), s) {
					t.Errorf("body lacks %q: %s", s, rec.Body.String())
				}
			}
			if tt.code == "InternalError" && strings.Contains(rec.Body.String(), "fire") {
				t.Errorf("internal detail sent: %s", rec.Body.String())
			}
		})
	}
}

func TestClassifyClientClosed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	if code, _ := s3api.Classify(r, context.Canceled); code != s3err.ErrInternalError {
		t.Errorf("canceled with a live client: %s", code)
	}
	cancel()
	if code, _ := s3api.Classify(r, fmt.Errorf("read: %w", context.Canceled)); code != s3err.ErrClientClosed {
		t.Errorf("canceled with a gone client: %s", code)
	}
}

func TestHeadErrorHasNoBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := e.mustDo(req{method: "HEAD", target: "/nosuchbucket"}, http.StatusNotFound)
	if rec.Body.Len() != 0 {
		t.Fatalf("HEAD error body: %q", rec.Body.String())
	}
}
