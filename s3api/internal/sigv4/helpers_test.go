package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

const (
	testAK     = "AKIAIOSFODNN7EXAMPLE"
	testSK     = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion = "eu-west-3"
)

// signTime is the fixed signing time of the SDK-signed tests.
var signTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testCredentials(ak string) (string, bool) {
	switch ak {
	case testAK:
		return testSK, true
	case "other/key":
		return "secret2", true
	}
	return "", false
}

func newTestVerifier(t testing.TB, now func() time.Time) *Verifier {
	t.Helper()
	v, err := New(Config{Credentials: testCredentials, Now: now, Region: testRegion})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fixedNow(d time.Duration) func() time.Time {
	return func() time.Time { return signTime.Add(d) }
}

func errCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return "other:" + err.Error()
}

// outcome is what the test server reports for one request.
type outcome struct {
	code      string // "" on success, else the S3 error code
	accessKey string
	anonymous bool
	presigned bool
	body      []byte // decoded body on success
	trailer   string
	decLen    string
}

// newTestServer runs Verify behind a real net/http server, so that the
// request Verify sees is what Go's server parsed off the wire. It answers
// the decoded body, or "ERR <code>".
func newTestServer(t testing.TB, v *Verifier) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := v.Verify(r)
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "ERR ", errCode(err))
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, "ERR ", errCode(err))
			return
		}
		w.Header().Set("X-Test-Access-Key", res.AccessKey)
		w.Header().Set("X-Test-Anonymous", strconv.FormatBool(res.Anonymous))
		w.Header().Set("X-Test-Presigned", strconv.FormatBool(res.Presigned))
		w.Header().Set("X-Test-Trailer", res.TrailerValue())
		w.Header().Set("X-Test-Decoded-Length", strconv.FormatInt(res.DecodedLength, 10))
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func do(t testing.TB, c *http.Client, req *http.Request) outcome {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		if req.Method == http.MethodHead {
			return outcome{code: "status " + strconv.Itoa(resp.StatusCode)}
		}
		code, _ := cutPrefix(string(b), "ERR ")
		return outcome{code: code}
	}
	return outcome{
		accessKey: resp.Header.Get("X-Test-Access-Key"),
		anonymous: resp.Header.Get("X-Test-Anonymous") == "true",
		presigned: resp.Header.Get("X-Test-Presigned") == "true",
		trailer:   resp.Header.Get("X-Test-Trailer"),
		decLen:    resp.Header.Get("X-Test-Decoded-Length"),
		body:      b,
	}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func s3utilsPath(key string) string { return s3utils.EncodePath(key) }
