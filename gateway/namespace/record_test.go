package namespace

import (
	"s3mesh/gateway/internal/gwtest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeObject: decoding never panics, and whatever decodes encodes
// and decodes to the same record.
func FuzzDecodeObject(f *testing.F) {
	seed, _ := encodeObject(&ObjectRecord{Root: gwtest.EmptyFileCID, Size: 3, ETag: "e", LastModified: gwtest.FixedTime,
		ContentType: "t", User: map[string]string{"a": ""}, Checksums: map[string]string{"CRC32": "x"}})
	f.Add(seed)
	f.Add([]byte{recordV1, '{', '}'})
	f.Add([]byte{})
	f.Add([]byte{2, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeObject("b", "k", b)
		if err != nil {
			return
		}
		again, err := encodeObject(rec)
		if err != nil {
			t.Fatal(err)
		}
		rec2, err := decodeObject("b", "k", again)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rec, rec2); diff != "" {
			t.Fatalf("re-decoded record differs:\n%s", diff)
		}
	})
}

// FuzzDecodeBucket: decoding never panics.
func FuzzDecodeBucket(f *testing.F) {
	seed, _ := encodeBucket(BucketRecord{Name: "b", Created: gwtest.FixedTime, Location: "eu"})
	f.Add(seed)
	f.Add([]byte{recordV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if rec, err := decodeBucket("b", b); err == nil && rec.Name != "b" {
			t.Fatalf("name %q", rec.Name)
		}
	})
}
