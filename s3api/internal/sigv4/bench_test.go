package sigv4

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"s3mesh/s3api/internal/checksum"
)

func BenchmarkVerifyHeader(b *testing.B) {
	v := newTestVerifier(b, fixedNow(0))
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/bucket/some/key%20with%20spaces?list-type=2&prefix=a", nil)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Amz-Meta-A", "b")
	sdkSign(b, req, emptySHA256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedDecode(b *testing.B) {
	data := randomBytes(16<<20, 1)
	key := signingKey("secret", Credential{AccessKey: "ak", Date: "20250601", Region: "r", Service: "s3"})
	sc := &streamContext{key: key, amzDate: "20250601T000000Z", scope: "20250601/r/s3/aws4_request", seed: hexSHA256([]byte("seed"))}
	cases := []struct {
		name string
		enc  chunkEncoder
		opt  chunkedOptions
	}{
		{"unsigned-trailer-crc32/64KiB", chunkEncoder{chunkSize: 64 << 10, trailer: true, alg: checksum.CRC32},
			chunkedOptions{trailer: true, alg: checksum.CRC32, want: int64(len(data))}},
		{"unsigned-trailer-crc32/1MiB", chunkEncoder{chunkSize: 1 << 20, trailer: true, alg: checksum.CRC32},
			chunkedOptions{trailer: true, alg: checksum.CRC32, want: int64(len(data))}},
		{"unsigned-trailer-crc64nvme/64KiB", chunkEncoder{chunkSize: 64 << 10, trailer: true, alg: checksum.CRC64NVME},
			chunkedOptions{trailer: true, alg: checksum.CRC64NVME, want: int64(len(data))}},
		{"signed/64KiB", chunkEncoder{chunkSize: 64 << 10, key: sc.key, amzDate: sc.amzDate, scope: sc.scope, seed: sc.seed},
			chunkedOptions{signing: sc, want: int64(len(data))}},
	}
	for _, c := range cases {
		body := c.enc.encode(data)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			buf := make([]byte, 256<<10)
			for b.Loop() {
				cr := newChunkedReader(io.NopCloser(bytes.NewReader(body)), c.opt)
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{cr}, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
