package checksum

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash"
	"hash/crc64"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

func TestKnownValues(t *testing.T) {
	t.Parallel()
	check := []byte("123456789")
	tests := []struct {
		alg  Algorithm
		want []byte
	}{
		{CRC32, binary.BigEndian.AppendUint32(nil, 0xcbf43926)},
		{CRC32C, binary.BigEndian.AppendUint32(nil, 0xe3069283)},
		{CRC64NVME, binary.BigEndian.AppendUint64(nil, 0xae8b14860a799888)},
		{SHA1, mustHex(t, "f7c3bc1d808e04732adf679965ccc34ca7ae3441")},
		{SHA256, mustHex(t, "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225")},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			t.Parallel()
			h := tt.alg.New()
			h.Write(check)
			if got := h.Sum(nil); !bytes.Equal(got, tt.want) {
				t.Fatalf("%s(123456789) = %x, want %x", tt.alg, got, tt.want)
			}
			if got := tt.alg.Size(); got != len(tt.want) {
				t.Fatalf("Size = %d, want %d", got, len(tt.want))
			}
			if got, want := Sum(tt.alg, check), Encode(tt.want); got != want {
				t.Fatalf("Sum = %s, want %s", got, want)
			}
		})
	}
}

func TestAWSDocExamples(t *testing.T) {
	t.Parallel()
	// Values for "Hello world" as used by the AWS SDKs' aws-chunked examples.
	if got, want := Sum(SHA256, []byte("Hello world")), "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="; got != want {
		t.Fatalf("SHA256 = %s, want %s", got, want)
	}
	if got, want := Sum(CRC32, []byte("Hello world")), "i9aeUg=="; got != want {
		t.Fatalf("CRC32 = %s, want %s", got, want)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c-'a') + 10
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		b[i] = v
	}
	return b
}

func TestParseAlgorithm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Algorithm
		wantErr bool
	}{
		{"CRC32", CRC32, false},
		{"crc32", CRC32, false},
		{"Crc32c", CRC32C, false},
		{"crc64nvme", CRC64NVME, false},
		{"sha1", SHA1, false},
		{"SHA256", SHA256, false},
		{"", "", true},
		{"md5", "", true},
		{"CRC64", "", true},
		{"sha256 ", "", true},
	}
	for _, tt := range tests {
		got, err := ParseAlgorithm(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseAlgorithm(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.Code != CodeInvalidRequest {
				t.Errorf("ParseAlgorithm(%q) error %v is not InvalidRequest", tt.in, err)
			}
		}
	}
	for _, a := range Algorithms() {
		if !a.Valid() {
			t.Errorf("%s not Valid", a)
		}
		if got := a.HeaderName(); got != "x-amz-checksum-"+strings.ToLower(string(a)) {
			t.Errorf("HeaderName = %s", got)
		}
	}
	if Algorithm("MD5").Valid() || Algorithm("MD5").Size() != 0 {
		t.Error("MD5 reported valid")
	}
}

func TestFromHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		headers  map[string][]string
		wantAlg  Algorithm
		wantVal  string
		wantOK   bool
		wantCode string
	}{
		{"none", map[string][]string{"Content-Type": {"x"}}, "", "", false, ""},
		{"crc32", map[string][]string{"X-Amz-Checksum-Crc32": {"i9aeUg=="}}, CRC32, "i9aeUg==", true, ""},
		{"sha256", map[string][]string{"X-Amz-Checksum-Sha256": {"abc"}}, SHA256, "abc", true, ""},
		{"crc64nvme", map[string][]string{"X-Amz-Checksum-Crc64nvme": {"v"}}, CRC64NVME, "v", true, ""},
		{"mode ignored", map[string][]string{"X-Amz-Checksum-Mode": {"ENABLED"}}, "", "", false, ""},
		{"algorithm ignored", map[string][]string{"X-Amz-Checksum-Algorithm": {"CRC32"}, "X-Amz-Sdk-Checksum-Algorithm": {"CRC32"}}, "", "", false, ""},
		{"type ignored", map[string][]string{"X-Amz-Checksum-Type": {"FULL_OBJECT"}, "X-Amz-Checksum-Crc32c": {"v"}}, CRC32C, "v", true, ""},
		{"unknown ignored", map[string][]string{"X-Amz-Checksum-Md5": {"v"}}, "", "", false, ""},
		{"prefix only", map[string][]string{"X-Amz-Checksum-": {"v"}}, "", "", false, ""},
		{"two", map[string][]string{"X-Amz-Checksum-Crc32": {"a"}, "X-Amz-Checksum-Sha1": {"b"}}, "", "", false, CodeInvalidRequest},
		{"repeated", map[string][]string{"X-Amz-Checksum-Crc32": {"a", "b"}}, "", "", false, CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alg, val, ok, err := FromHeaders(http.Header(tt.headers))
			if tt.wantCode != "" {
				var ce *Error
				if !errors.As(err, &ce) || ce.Code != tt.wantCode {
					t.Fatalf("err = %v, want code %s", err, tt.wantCode)
				}
				return
			}
			if err != nil || alg != tt.wantAlg || val != tt.wantVal || ok != tt.wantOK {
				t.Fatalf("= %q %q %v %v; want %q %q %v", alg, val, ok, err, tt.wantAlg, tt.wantVal, tt.wantOK)
			}
		})
	}
}

func TestVerifyingReader(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("s3mesh checksum "), 1000)
	for _, alg := range Algorithms() {
		good := Sum(alg, data)
		bad := Sum(alg, append([]byte{'x'}, data[1:]...))
		tests := []struct {
			name     string
			want     string
			body     []byte
			wantCode string // from constructor or read
		}{
			{"match", good, data, ""},
			{"mismatch", bad, data, CodeBadDigest},
			{"truncated", good, data[:len(data)-1], CodeBadDigest},
			{"bad base64", "!!!", data, CodeInvalidDigest},
			{"wrong length", Encode(make([]byte, alg.Size()+1)), data, CodeInvalidDigest},
			{"empty", "", data, CodeInvalidDigest},
		}
		for _, tt := range tests {
			t.Run(string(alg)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				r, err := NewVerifyingReader(iotest.HalfReader(bytes.NewReader(tt.body)), alg, tt.want)
				if err == nil {
					var got []byte
					got, err = io.ReadAll(r)
					if err == nil && !bytes.Equal(got, tt.body) {
						t.Fatal("bytes changed in transit")
					}
					// The error is sticky.
					if _, err2 := r.Read(make([]byte, 1)); err != nil && err2 != err {
						t.Fatalf("second Read error %v, want %v", err2, err)
					}
				}
				if tt.wantCode == "" {
					if err != nil {
						t.Fatalf("unexpected error %v", err)
					}
					return
				}
				var ce *Error
				if !errors.As(err, &ce) || ce.Code != tt.wantCode {
					t.Fatalf("err = %v, want code %s", err, tt.wantCode)
				}
			})
		}
	}
	if _, err := NewVerifyingReader(bytes.NewReader(nil), "MD5", "AAAA"); err == nil {
		t.Fatal("unknown algorithm accepted")
	}
}

func TestVerifyingReaderPassesErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	r, err := NewVerifyingReader(iotest.ErrReader(boom), CRC32, Sum(CRC32, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func BenchmarkHash(b *testing.B) {
	data := make([]byte, 1<<20)
	for _, alg := range Algorithms() {
		b.Run(string(alg), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			h := alg.New()
			for b.Loop() {
				h.Reset()
				h.Write(data)
			}
		})
	}
}

// TestCRC64NVMEMatchesStdlib checks the slicing-by-8 implementation against
// hash/crc64 with the same table, over lengths and split writes.
func TestCRC64NVMEMatchesStdlib(t *testing.T) {
	t.Parallel()
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i*7 + i>>3)
	}
	for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 2047, 2048, 2049, 5000} {
		want := crc64.Checksum(data[:n], nvmeTable)
		h := CRC64NVME.New()
		h.Write(data[:n/3])
		h.Write(data[n/3 : n])
		if got := h.(hash.Hash64).Sum64(); got != want {
			t.Fatalf("n=%d: %x, want %x", n, got, want)
		}
	}
}
