package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"

	"s3mesh/s3api/internal/checksum"
)

// chunkEncoder builds aws-chunked bodies from the specification, for tests.
type chunkEncoder struct {
	chunkSize int
	// Signing; nil key means unsigned chunks.
	key            []byte
	amzDate, scope string
	seed           string
	// Trailer: alg "" means none. minioStyle writes the trailer lines as
	// minio-go does ("name:value\n" then CRLF).
	trailer    bool
	alg        checksum.Algorithm
	trailerVal string // overrides the computed value when set
	minioStyle bool
	chunkExt   string // appended to unsigned chunk sizes, e.g. ";ext=1"
}

func hmacHex(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

func (e chunkEncoder) encode(data []byte) []byte {
	var out bytes.Buffer
	prev := e.seed
	chunk := func(p []byte) {
		if e.key == nil {
			fmt.Fprintf(&out, "%x%s\r\n", len(p), e.chunkExt)
		} else {
			sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + e.amzDate + "\n" + e.scope + "\n" + prev + "\n" + emptySHA256 + "\n" + hexSHA256(p)
			prev = hmacHex(e.key, sts)
			fmt.Fprintf(&out, "%x;chunk-signature=%s\r\n", len(p), prev)
		}
		out.Write(p)
		if len(p) > 0 {
			out.WriteString("\r\n")
		}
	}
	for i := 0; i < len(data); i += e.chunkSize {
		chunk(data[i:min(i+e.chunkSize, len(data))])
	}
	chunk(nil)
	if !e.trailer {
		out.WriteString("\r\n")
		return out.Bytes()
	}
	var lines string
	if e.alg != "" {
		v := e.trailerVal
		if v == "" {
			v = checksum.Sum(e.alg, data)
		}
		lines = e.alg.HeaderName() + ":" + v + "\n"
	}
	if e.minioStyle {
		out.WriteString(lines)
	} else {
		out.WriteString(strings.ReplaceAll(lines, "\n", "\r\n"))
	}
	if e.key != nil {
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + e.amzDate + "\n" + e.scope + "\n" + prev + "\n" + hexSHA256([]byte(lines))
		if e.minioStyle {
			out.WriteString("\r\n")
		}
		out.WriteString("x-amz-trailer-signature:" + hmacHex(e.key, sts) + "\r\n")
	}
	out.WriteString("\r\n")
	if e.minioStyle && e.key == nil {
		out.WriteString("\r\n")
	}
	return out.Bytes()
}

// streamingRequest returns an SDK-signed streaming PUT to u and the encoder
// that continues its signature chain.
func streamingRequest(t testing.TB, u, mode string, data []byte, alg checksum.Algorithm, chunkSize int) (*http.Request, chunkEncoder) {
	return streamingRequestHeaders(t, u, mode, data, alg, chunkSize, nil)
}

// streamingRequestHeaders is streamingRequest with headers overridden
// before signing; an empty value deletes the header.
func streamingRequestHeaders(t testing.TB, u, mode string, data []byte, alg checksum.Algorithm, chunkSize int, hdr map[string]string) (*http.Request, chunkEncoder) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	if alg != "" {
		req.Header.Set("X-Amz-Trailer", alg.HeaderName())
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	sdkSign(t, req, mode)
	a, err := ParseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	enc := chunkEncoder{chunkSize: chunkSize, trailer: mode != StreamingPayload, alg: alg}
	if mode != StreamingUnsignedPayloadTrailer {
		enc.key = signingKey(testSK, a.Credential)
		enc.amzDate = req.Header.Get("X-Amz-Date")
		enc.scope = a.Credential.Scope()
		enc.seed = a.Signature
	}
	return req, enc
}

func setBody(req *http.Request, b []byte) {
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestStreamingRoundTrip(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, newTestVerifier(t, fixedNow(0)))
	modes := []string{StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedPayloadTrailer}
	sizes := []int{0, 1, 8191, 8192, 65536, 200_001}
	for _, mode := range modes {
		for _, size := range sizes {
			for _, alg := range []checksum.Algorithm{"", checksum.CRC32, checksum.CRC64NVME, checksum.SHA256} {
				if mode == StreamingPayload && alg != "" {
					continue
				}
				for _, minioStyle := range []bool{false, true} {
					name := fmt.Sprintf("%s/%d/%s/minio=%v", mode, size, alg, minioStyle)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						data := randomBytes(size, uint64(size))
						req, enc := streamingRequest(t, srv.URL+"/bucket/stream", mode, data, alg, 8192)
						enc.minioStyle = minioStyle
						setBody(req, enc.encode(data))
						got := do(t, srv.Client(), req)
						if got.code != "" {
							t.Fatalf("code %s", got.code)
						}
						if !bytes.Equal(got.body, data) {
							t.Fatalf("decoded %d bytes, want %d identical", len(got.body), len(data))
						}
						wantTrailer := ""
						if alg != "" {
							wantTrailer = checksum.Sum(alg, data)
						}
						if got.trailer != wantTrailer || got.decLen != strconv.Itoa(size) {
							t.Fatalf("trailer %q decLen %s, want %q %d", got.trailer, got.decLen, wantTrailer, size)
						}
					})
				}
			}
		}
	}
}

// TestStreamingCorruption checks each kind of damage yields its S3 code.
func TestStreamingCorruption(t *testing.T) {
	t.Parallel()
	data := randomBytes(20000, 7)
	type tc struct {
		name   string
		mode   string
		alg    checksum.Algorithm
		edit   func(enc *chunkEncoder, body []byte, req *http.Request) []byte
		want   string
		wantAt string            // "verify" when Verify itself fails
		hdr    map[string]string // signed header overrides
	}
	flip := func(i int) func(*chunkEncoder, []byte, *http.Request) []byte {
		return func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			if i < 0 {
				i += len(b)
			}
			b[i] ^= 0x01
			return b
		}
	}
	reencode := func(f func(*chunkEncoder)) func(*chunkEncoder, []byte, *http.Request) []byte {
		return func(e *chunkEncoder, _ []byte, _ *http.Request) []byte {
			f(e)
			return e.encode(data)
		}
	}
	cases := []tc{
		{name: "signed ok", mode: StreamingPayload},
		{name: "signed chunk data", mode: StreamingPayload, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			i := bytes.Index(b, []byte("\r\n")) + 2 + 100
			b[i] ^= 0x80
			return b
		}, want: CodeSignatureDoesNotMatch},
		{name: "signed chunk signature", mode: StreamingPayload, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			i := bytes.Index(b, []byte("chunk-signature=")) + len("chunk-signature=")
			b[i] = 'g' - b[i]%2 // still not hex-equal
			return b
		}, want: CodeSignatureDoesNotMatch},
		{name: "signed second chunk signature", mode: StreamingPayload, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			first := bytes.Index(b, []byte("chunk-signature="))
			i := first + 1 + bytes.Index(b[first+1:], []byte("chunk-signature=")) + len("chunk-signature=") + 5
			if b[i] == 'a' {
				b[i] = 'b'
			} else {
				b[i] = 'a'
			}
			return b
		}, want: CodeSignatureDoesNotMatch},
		{name: "signed final signature", mode: StreamingPayload, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			i := bytes.LastIndex(b, []byte("chunk-signature=")) + len("chunk-signature=")
			if b[i] == 'a' {
				b[i] = 'b'
			} else {
				b[i] = 'a'
			}
			return b
		}, want: CodeSignatureDoesNotMatch},
		{name: "signed wrong seed", mode: StreamingPayload, edit: reencode(func(e *chunkEncoder) { e.seed = strings.Repeat("0", 64) }), want: CodeSignatureDoesNotMatch},
		{name: "signed chunks reordered key", mode: StreamingPayload, edit: reencode(func(e *chunkEncoder) { e.key = []byte("not the key") }), want: CodeSignatureDoesNotMatch},
		{name: "signed missing signature", mode: StreamingPayload, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			return bytes.Replace(b, []byte(";chunk-signature="), []byte(";chunk-signaturX="), 1)
		}, want: CodeInvalidRequest},
		{name: "truncated in data", mode: StreamingPayload, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte { return b[:500] }, want: CodeIncompleteBody},
		{name: "truncated before final", mode: StreamingPayload, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			return b[:bytes.LastIndex(b, []byte("0;chunk-signature="))]
		}, want: CodeIncompleteBody},
		{name: "truncated header", mode: StreamingPayload, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			return b[:bytes.LastIndex(b, []byte("0;chunk-signature="))+10]
		}, want: CodeIncompleteBody},
		{name: "decoded length short", mode: StreamingPayload, edit: func(_ *chunkEncoder, b []byte, r *http.Request) []byte {
			r.Header.Set("X-Amz-Decoded-Content-Length", "19999")
			return b
		}, want: CodeSignatureDoesNotMatch, wantAt: "verify"},
		{name: "garbage after final", mode: StreamingPayload, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			return append(b, "junk\r\n"...)
		}, want: CodeInvalidRequest},
		{name: "oversized chunk", mode: StreamingUnsignedPayloadTrailer, alg: checksum.CRC32, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			return append([]byte("140000001\r\n"), b...)
		}, want: CodeInvalidRequest},
		{name: "no CRLF after data", mode: StreamingUnsignedPayloadTrailer, alg: checksum.CRC32, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			i := bytes.Index(b, []byte("\r\n")) + 2 + 8192
			b[i] = 'X'
			return b
		}, want: CodeInvalidRequest},
		{name: "bad size", mode: StreamingUnsignedPayloadTrailer, alg: checksum.CRC32, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			return append([]byte("zz\r\n"), b...)
		}, want: CodeInvalidRequest},
		{name: "long line", mode: StreamingUnsignedPayloadTrailer, alg: checksum.CRC32, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			return append([]byte("1;"+strings.Repeat("x", 5000)+"\r\n"), b...)
		}, want: CodeInvalidRequest},
		{name: "chunk extension ok", mode: StreamingUnsignedPayloadTrailer, alg: checksum.CRC32, edit: reencode(func(e *chunkEncoder) { e.chunkExt = ";foo=bar" })},
		{name: "unsigned trailer checksum", mode: StreamingUnsignedPayloadTrailer, alg: checksum.CRC32, edit: reencode(func(e *chunkEncoder) {
			e.trailerVal = checksum.Sum(checksum.CRC32, []byte("other"))
		}), want: CodeBadDigest},
		{name: "unsigned trailer data", mode: StreamingUnsignedPayloadTrailer, alg: checksum.CRC32C, edit: flip(30), want: CodeBadDigest},
		{name: "unsigned trailer invalid digest", mode: StreamingUnsignedPayloadTrailer, alg: checksum.SHA1, edit: reencode(func(e *chunkEncoder) { e.trailerVal = "AAAA" }), want: CodeInvalidDigest},
		{name: "unsigned trailer missing", mode: StreamingUnsignedPayloadTrailer, alg: checksum.SHA256, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			return b[:bytes.LastIndex(b, []byte("x-amz-checksum"))]
		}, want: CodeIncompleteBody},
		{name: "unsigned trailer cut value", mode: StreamingUnsignedPayloadTrailer, alg: checksum.SHA256, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			return b[:bytes.LastIndex(b, []byte("x-amz-checksum"))+20]
		}, want: CodeIncompleteBody},
		{name: "unsigned undeclared trailer", mode: StreamingUnsignedPayloadTrailer, alg: checksum.CRC32, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			return bytes.Replace(b, []byte("x-amz-checksum-crc32:"), []byte("x-amz-checksum-sha1:"), 1)
		}, want: CodeInvalidRequest},
		{name: "unsigned too long", mode: StreamingUnsignedPayloadTrailer, alg: checksum.CRC32, hdr: map[string]string{"X-Amz-Decoded-Content-Length": "100"}, want: CodeIncompleteBody},
		{name: "unsigned too short", mode: StreamingUnsignedPayloadTrailer, alg: checksum.CRC32, hdr: map[string]string{"X-Amz-Decoded-Content-Length": "20001"}, want: CodeIncompleteBody},
		{name: "unsigned no decoded length", mode: StreamingUnsignedPayloadTrailer, alg: checksum.CRC32, hdr: map[string]string{"X-Amz-Decoded-Content-Length": ""}},
		{name: "signed too short", mode: StreamingPayloadTrailer, alg: checksum.CRC32, hdr: map[string]string{"X-Amz-Decoded-Content-Length": "20001"}, want: CodeIncompleteBody},
		{name: "signed too long", mode: StreamingPayload, hdr: map[string]string{"X-Amz-Decoded-Content-Length": "8192"}, want: CodeIncompleteBody},
		{name: "signed trailer ok", mode: StreamingPayloadTrailer, alg: checksum.CRC32C},
		{name: "signed trailer checksum", mode: StreamingPayloadTrailer, alg: checksum.CRC32C, edit: reencode(func(e *chunkEncoder) {
			e.trailerVal = checksum.Sum(checksum.CRC32C, []byte("other"))
		}), want: CodeBadDigest},
		{name: "signed trailer value tampered", mode: StreamingPayloadTrailer, alg: checksum.CRC32C, edit: func(e *chunkEncoder, b []byte, _ *http.Request) []byte {
			want := checksum.Sum(checksum.CRC32C, data)
			return bytes.Replace(b, []byte(want), []byte(checksum.Sum(checksum.CRC32C, []byte("x"))), 1)
		}, want: CodeSignatureDoesNotMatch},
		{name: "signed trailer signature", mode: StreamingPayloadTrailer, alg: checksum.CRC32C, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + len("x-amz-trailer-signature:")
			if b[i] == 'a' {
				b[i] = 'b'
			} else {
				b[i] = 'a'
			}
			return b
		}, want: CodeSignatureDoesNotMatch},
		{name: "signed trailer signature missing", mode: StreamingPayloadTrailer, alg: checksum.CRC32C, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			return b[:bytes.Index(b, []byte("x-amz-trailer-signature:"))]
		}, want: CodeIncompleteBody},
		{name: "signed trailer chunk data", mode: StreamingPayloadTrailer, alg: checksum.CRC32C, edit: func(_ *chunkEncoder, b []byte, _ *http.Request) []byte {
			i := bytes.Index(b, []byte("\r\n")) + 2 + 1
			b[i] ^= 0x80
			return b
		}, want: CodeSignatureDoesNotMatch},
		{name: "missing decoded length", mode: StreamingPayload, edit: func(_ *chunkEncoder, b []byte, r *http.Request) []byte {
			r.Header.Del("X-Amz-Decoded-Content-Length")
			return b
		}, want: CodeSignatureDoesNotMatch, wantAt: "verify"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newTestVerifier(t, fixedNow(0))
			req, enc := streamingRequestHeaders(t, "http://example.com/bucket/obj", tt.mode, data, tt.alg, 8192, tt.hdr)
			body := enc.encode(data)
			if tt.edit != nil {
				body = tt.edit(&enc, body, req)
			}
			setBody(req, body)
			res, err := v.Verify(req)
			if tt.wantAt == "verify" {
				if errCode(err) != tt.want {
					t.Fatalf("Verify: %v, want %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := io.ReadAll(iotest.OneByteReader(res.Body))
			if errCode(err) != tt.want {
				t.Fatalf("read error %v, want %q", err, tt.want)
			}
			if tt.want == "" && !bytes.Equal(got, data) {
				t.Fatal("decoded bytes differ")
			}
			if tt.want != "" && res.TrailerValue() != "" {
				t.Fatal("trailer value reported after a failure")
			}
			// Errors are sticky.
			if _, err2 := res.Body.Read(make([]byte, 10)); tt.want != "" && errCode(err2) != tt.want {
				t.Fatalf("second read %v", err2)
			}
		})
	}
}

// TestStreamingMissingDecodedLength checks the header the signed streaming
// modes require, with a request signed without it.
func TestStreamingMissingDecodedLength(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t, fixedNow(0))
	req, _ := http.NewRequest(http.MethodPut, "http://example.com/bucket/obj", nil)
	sdkSign(t, req, StreamingPayload)
	if _, err := v.Verify(req); errCode(err) != CodeMissingContentLength {
		t.Fatalf("err %v, want MissingContentLength", err)
	}
	req, _ = http.NewRequest(http.MethodPut, "http://example.com/bucket/obj", nil)
	req.Header.Set("X-Amz-Decoded-Content-Length", "-1")
	sdkSign(t, req, StreamingPayload)
	if _, err := v.Verify(req); errCode(err) != CodeInvalidArgument {
		t.Fatalf("err %v, want InvalidArgument", err)
	}
	req, _ = http.NewRequest(http.MethodPut, "http://example.com/bucket/obj", nil)
	req.Header.Set("X-Amz-Trailer", "x-amz-checksum-md5")
	sdkSign(t, req, StreamingUnsignedPayloadTrailer)
	if _, err := v.Verify(req); errCode(err) != CodeInvalidRequest {
		t.Fatalf("err %v, want InvalidRequest", err)
	}
}

type sha256Hasher struct{ hash.Hash }

func (sha256Hasher) Close() {}

// TestMinioStreaming drives minio-go's streaming signers end to end.
func TestMinioStreaming(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, newTestVerifier(t, nil))
	sizes := []int{0, 10, 64 << 10, 64<<10 + 1, 300_000}
	for _, size := range sizes {
		data := randomBytes(size, uint64(size)+1)
		t.Run(fmt.Sprintf("signed/%d", size), func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/bucket/"+s3utilsPath("min io/😀"), bytes.NewReader(data))
			req = signer.StreamingSignV4(req, testAK, testSK, "", testRegion, int64(size), time.Now().UTC(), sha256Hasher{sha256.New()})
			checkMinio(t, srv, req, data, "")
		})
		t.Run(fmt.Sprintf("signed-trailer/%d", size), func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/bucket/obj", bytes.NewReader(data))
			req.Trailer = http.Header{"x-amz-checksum-crc32c": {checksum.Sum(checksum.CRC32C, data)}}
			req = signer.StreamingSignV4(req, testAK, testSK, "", testRegion, int64(size), time.Now().UTC(), sha256Hasher{sha256.New()})
			checkMinio(t, srv, req, data, checksum.Sum(checksum.CRC32C, data))
		})
		t.Run(fmt.Sprintf("unsigned-trailer/%d", size), func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/bucket/obj", bytes.NewReader(data))
			req.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedPayloadTrailer)
			trailer := http.Header{"x-amz-checksum-crc64nvme": {checksum.Sum(checksum.CRC64NVME, data)}}
			req = signer.SignV4Trailer(*req, testAK, testSK, "", testRegion, trailer)
			checkMinio(t, srv, req, data, checksum.Sum(checksum.CRC64NVME, data))
		})
	}
	t.Run("signed-trailer/bad checksum", func(t *testing.T) {
		t.Parallel()
		data := randomBytes(1000, 3)
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/bucket/obj", bytes.NewReader(data))
		req.Trailer = http.Header{"x-amz-checksum-crc32": {checksum.Sum(checksum.CRC32, []byte("not it"))}}
		req = signer.StreamingSignV4(req, testAK, testSK, "", testRegion, 1000, time.Now().UTC(), sha256Hasher{sha256.New()})
		if got := do(t, srv.Client(), req); got.code != CodeBadDigest {
			t.Fatalf("code %q, want BadDigest", got.code)
		}
	})
}

func checkMinio(t *testing.T, srv interface{ Client() *http.Client }, req *http.Request, data []byte, trailer string) {
	t.Helper()
	got := do(t, srv.Client(), req)
	if got.code != "" {
		t.Fatalf("code %s", got.code)
	}
	if !bytes.Equal(got.body, data) {
		t.Fatalf("decoded %d bytes, want %d identical", len(got.body), len(data))
	}
	if got.trailer != trailer {
		t.Fatalf("trailer %q, want %q", got.trailer, trailer)
	}
}

// TestChunkedBoundedMemory feeds an endless stream of maximal chunks and
// checks the decoder never asks for more than its buffer.
func TestChunkedBoundedMemory(t *testing.T) {
	t.Parallel()
	body := strings.NewReader("ffffff\r\n" + strings.Repeat("a", 1000))
	cr := newChunkedReader(io.NopCloser(body), chunkedOptions{trailer: true, want: -1, maxChunk: 1 << 20})
	if _, err := io.Copy(io.Discard, cr); errCode(err) != CodeInvalidRequest {
		t.Fatalf("err %v, want InvalidRequest (chunk too large)", err)
	}
	line := strings.NewReader(strings.Repeat("1", 1<<20))
	cr = newChunkedReader(io.NopCloser(line), chunkedOptions{trailer: true, want: -1})
	if _, err := io.Copy(io.Discard, cr); errCode(err) != CodeInvalidRequest {
		t.Fatalf("err %v, want InvalidRequest (line too long)", err)
	}
	if cr.br.Size() != chunkBufferSize {
		t.Fatalf("buffer grew to %d", cr.br.Size())
	}
}
