package s3err

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestStatusTable(t *testing.T) {
	tests := []struct {
		code   Code
		status int
	}{
		{ErrAccessDenied, 403},
		{ErrBadDigest, 400},
		{ErrBucketAlreadyOwnedByYou, 409},
		{ErrBucketNotEmpty, 409},
		{ErrEntityTooLarge, 400},
		{ErrInternalError, 500},
		{ErrInvalidAccessKeyID, 403},
		{ErrInvalidBucketName, 400},
		{ErrInvalidDigest, 400},
		{ErrInvalidRange, 416},
		{ErrKeyTooLong, 400},
		{ErrMalformedXML, 400},
		{ErrMissingContentLength, 411},
		{ErrNoSuchBucket, 404},
		{ErrNoSuchKey, 404},
		{ErrNoSuchUpload, 404},
		{ErrNotImplemented, 501},
		{ErrNotModified, 304},
		{ErrPreconditionFailed, 412},
		{ErrRequestTimeTooSkewed, 403},
		{ErrServiceUnavailable, 503},
		{ErrSignatureDoesNotMatch, 403},
		{ErrXAmzContentSHA256Mismatch, 400},
		{ErrMethodNotAllowed, 405},
		{Code("NoSuchThing"), 500},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			if got := tt.code.Status(); got != tt.status {
				t.Errorf("%s.Status() = %d, want %d", tt.code, got, tt.status)
			}
			wrapped := fmt.Errorf("op a/b: %w", tt.code)
			e, ok := As(wrapped)
			if !ok || e.Code != tt.code || e.Code.Status() != tt.status {
				t.Errorf("As(wrapped %s) = %v, %v", tt.code, e, ok)
			}
			if !errors.Is(wrapped, tt.code) {
				t.Errorf("errors.Is(wrapped, %s) = false", tt.code)
			}
		})
	}
}

func TestEveryCodeHasStatusAndMessage(t *testing.T) {
	for c, e := range table {
		if e.status < 300 || e.status > 599 {
			t.Errorf("%s: status %d is not an error status", c, e.status)
		}
		if e.message == "" {
			t.Errorf("%s: no default message", c)
		}
		if c != ErrClientClosed && http.StatusText(e.status) == "" {
			t.Errorf("%s: %d is not a standard HTTP status", c, e.status)
		}
	}
}

func TestErrorWrapping(t *testing.T) {
	cause := errors.New("disk on fire")
	e := &Error{Code: ErrServiceUnavailable, Message: "content bafy… is not reachable", Err: cause}
	wrapped := fmt.Errorf("get x: %w", e)
	if !errors.Is(wrapped, ErrServiceUnavailable) {
		t.Error("errors.Is(wrapped *Error, its code) = false")
	}
	if errors.Is(wrapped, ErrNoSuchKey) {
		t.Error("errors.Is(wrapped *Error, another code) = true")
	}
	if !errors.Is(wrapped, cause) {
		t.Error("the internal cause is not reachable by errors.Is")
	}
	got, ok := As(wrapped)
	if !ok || got != e {
		t.Errorf("As = %v, %v; want the *Error itself", got, ok)
	}
	if got.ClientMessage() != e.Message {
		t.Errorf("ClientMessage = %q", got.ClientMessage())
	}
	if (&Error{Code: ErrNoSuchKey}).ClientMessage() != ErrNoSuchKey.Message() {
		t.Error("empty Message does not fall back to the default")
	}
	if _, ok := As(cause); ok {
		t.Error("As(plain error) reported an S3 code")
	}
}
