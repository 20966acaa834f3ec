package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"s3mesh/s3api/internal/checksum"
)

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/20130524/r/s3/aws4_request,SignedHeaders=host,Signature=0")
	f.Add("AWS4-HMAC-SHA256 ,, Signature = x , Credential=k/20200101/r/s/aws4_request,SignedHeaders=A;B")
	f.Add("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("error %v is not a coded *Error", err)
			}
			return
		}
		b, err := ParseAuthorization(a.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", a.String(), err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed %+v into %+v", a, b)
		}
	})
}

func FuzzParsePresigned(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb%2F20130524%2Fr%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=1&X-Amz-SignedHeaders=host%3Bx&X-Amz-Signature=x+y&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&a;b")
	f.Add("AWSAccessKeyId=AK&Expires=1&Signature=s")
	f.Fuzz(func(t *testing.T, q string) {
		p, err := ParsePresigned(q)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("error %v is not a coded *Error", err)
			}
			return
		}
		p2, err := ParsePresigned(p.Encode())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", p.Encode(), err)
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip changed %+v into %+v", p, p2)
		}
	})
}

// FuzzChunkedReader decodes arbitrary bytes in every mode (never a panic,
// never a buffer larger than the fixed one, always a coded error or EOF),
// and checks that a valid encoding of payload decodes to payload.
func FuzzChunkedReader(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"), []byte("hello"), uint16(2))
	f.Add([]byte("3;chunk-signature=0000000000000000000000000000000000000000000000000000000000000000\r\nabc\r\n0;chunk-signature=00\r\n\r\n"), []byte{}, uint16(1))
	f.Add([]byte("0\r\n\r\n\r\n"), []byte("x"), uint16(0))
	f.Add([]byte("ffffffffffffffff\r\n"), bytes.Repeat([]byte("ab"), 300), uint16(7))
	key := signingKey("secret", Credential{AccessKey: "ak", Date: "20250601", Region: "r", Service: "s3"})
	sc := &streamContext{key: key, amzDate: "20250601T000000Z", scope: "20250601/r/s3/aws4_request", seed: hexSHA256([]byte("seed"))}
	f.Fuzz(func(t *testing.T, raw, payload []byte, chunk uint16) {
		modes := []chunkedOptions{
			{trailer: true, alg: checksum.CRC32, want: -1, maxChunk: 1 << 16},
			{trailer: true, want: 5, maxChunk: 1 << 16},
			{signing: sc, want: -1, maxChunk: 1 << 16},
			{signing: sc, trailer: true, alg: checksum.SHA256, want: -1, maxChunk: 1 << 16},
		}
		for _, opt := range modes {
			cr := newChunkedReader(io.NopCloser(bytes.NewReader(raw)), opt)
			n, err := io.Copy(io.Discard, cr)
			if n > int64(len(raw)) {
				t.Fatalf("decoded %d bytes from %d", n, len(raw))
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code == "" {
					t.Fatalf("error %v is not a coded *Error", err)
				}
			}
			if cr.br.Size() != chunkBufferSize {
				t.Fatalf("buffer grew to %d", cr.br.Size())
			}
		}
		size := int(chunk)%4096 + 1
		for _, signed := range []bool{false, true} {
			enc := chunkEncoder{chunkSize: size, trailer: !signed, alg: checksum.CRC32C}
			opt := chunkedOptions{trailer: !signed, alg: checksum.CRC32C, want: int64(len(payload)), maxChunk: 1 << 16}
			if signed {
				enc = chunkEncoder{chunkSize: size, key: sc.key, amzDate: sc.amzDate, scope: sc.scope, seed: sc.seed, trailer: true, alg: checksum.SHA1}
				opt = chunkedOptions{signing: sc, trailer: true, alg: checksum.SHA1, want: int64(len(payload)), maxChunk: 1 << 16}
			}
			cr := newChunkedReader(io.NopCloser(bytes.NewReader(enc.encode(payload))), opt)
			got, err := io.ReadAll(cr)
			if err != nil {
				t.Fatalf("valid encoding (signed=%v, chunk %d): %v", signed, size, err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("decoded %q, want %q", got, payload)
			}
			if cr.verifiedTrailer() == "" {
				t.Fatal("no verified trailer")
			}
		}
	})
}

// FuzzVerifyAddedHeader adds one header to a request after signing it
// (header or presigned): an x-amz-* or x-s3mesh-* header must make Verify
// fail, any other header must leave it verified. It never panics.
func FuzzVerifyAddedHeader(f *testing.F) {
	f.Add("X-Amz-Copy-Source", "/b/k", false)
	f.Add("x-amz-meta-a", "b", true)
	f.Add("X-S3mesh-Cid", "bafy", false)
	f.Add("Content-MD5", "x", true)
	f.Add("amz-sdk-invocation-id", "1", false)
	f.Add("X-AMZ-DATE", "20250601T120000Z", true)
	f.Add("x-amz-", "", false)
	v, err := New(Config{Credentials: testCredentials, Now: fixedNow(0), Region: testRegion, MustSign: []string{"x-s3mesh-"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, value string, presign bool) {
		if !validFieldName(name) || !validFieldValue(value) {
			return
		}
		req, _ := http.NewRequest(http.MethodGet, "http://example.com/b/k?X-Amz-Expires=300", nil)
		if presign {
			u, hdr, err := sdkSigner.PresignHTTP(t.Context(), sdkCreds, req, UnsignedPayload, "s3", testRegion, signTime)
			if err != nil {
				t.Fatal(err)
			}
			req, _ = http.NewRequest(http.MethodGet, u, nil)
			for k, vv := range hdr {
				if !strings.EqualFold(k, "host") {
					req.Header[k] = vv
				}
			}
		} else {
			req.URL.RawQuery = ""
			sdkSign(t, req, emptySHA256)
		}
		if _, err := v.Verify(req); err != nil {
			t.Fatalf("unmodified request: %v", err)
		}
		lower := strings.ToLower(name)
		if lower == "authorization" || lower == "host" {
			return
		}
		req.Header.Add(name, value)
		_, err := v.Verify(req)
		mustFail := strings.HasPrefix(lower, "x-amz-") || strings.HasPrefix(lower, "x-s3mesh-")
		switch {
		case mustFail && err == nil:
			t.Fatalf("added %s: %q verified", name, value)
		case !mustFail && err != nil:
			t.Fatalf("added %s: %q: %v", name, value, err)
		}
	})
}

// validFieldName reports whether s is an HTTP token (RFC 9110).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validFieldValue reports whether s has no control bytes but tab.
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
