package s3api

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"slices"
	"testing"

	"s3mesh/s3api/internal/checksum"
)

// TestCombineCRCs checks the combined CRC of random splits of random data
// against the CRC of the whole, for every combinable algorithm, including
// empty parts.
func TestCombineCRCs(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, alg := range []checksum.Algorithm{checksum.CRC32, checksum.CRC32C, checksum.CRC64NVME} {
		for trial := range 200 {
			data := make([]byte, rng.IntN(5000))
			for i := range data {
				data[i] = byte(rng.UintN(256))
			}
			nparts := 1 + rng.IntN(6)
			cuts := []int{0}
			for range nparts - 1 {
				cuts = append(cuts, rng.IntN(len(data)+1))
			}
			cuts = append(cuts, len(data))
			slices.Sort(cuts)
			var sums [][]byte
			var sizes []int64
			for i := 0; i+1 < len(cuts); i++ {
				part := data[cuts[i]:cuts[i+1]]
				sum, err := base64.StdEncoding.DecodeString(checksum.Sum(alg, part))
				if err != nil {
					t.Fatal(err)
				}
				sums = append(sums, sum)
				sizes = append(sizes, int64(len(part)))
			}
			got, err := combineCRCs(alg, sums, sizes)
			if err != nil {
				t.Fatalf("%s: %v", alg, err)
			}
			want, _ := base64.StdEncoding.DecodeString(checksum.Sum(alg, data))
			if !bytes.Equal(got, want) {
				t.Fatalf("%s trial %d (cuts %v): combined %x, want %x", alg, trial, cuts, got, want)
			}
		}
	}
}

// TestCombineCRCsLarge checks a combination over a length that needs many
// squarings, against a CRC computed over the zero bytes.
func TestCombineCRCsLarge(t *testing.T) {
	t.Parallel()
	zeros := make([]byte, 3<<20+7)
	head := []byte("head")
	for _, alg := range []checksum.Algorithm{checksum.CRC32, checksum.CRC32C, checksum.CRC64NVME} {
		a, _ := base64.StdEncoding.DecodeString(checksum.Sum(alg, head))
		b, _ := base64.StdEncoding.DecodeString(checksum.Sum(alg, zeros))
		got, err := combineCRCs(alg, [][]byte{a, b}, []int64{int64(len(head)), int64(len(zeros))})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := base64.StdEncoding.DecodeString(checksum.Sum(alg, append(append([]byte{}, head...), zeros...)))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: combined %x, want %x", alg, got, want)
		}
	}
}

func TestCombineCRCsErrors(t *testing.T) {
	t.Parallel()
	if _, err := combineCRCs(checksum.SHA256, [][]byte{make([]byte, 32)}, []int64{1}); err == nil {
		t.Error("SHA256 combined")
	}
	if _, err := combineCRCs(checksum.CRC32, [][]byte{make([]byte, 8)}, []int64{1}); err == nil {
		t.Error("8-byte CRC32 digest accepted")
	}
	if _, err := combineCRCs(checksum.CRC32, [][]byte{make([]byte, 4)}, []int64{1, 2}); err == nil {
		t.Error("mismatched lengths accepted")
	}
}
