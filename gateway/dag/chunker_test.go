package dag

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"s3mesh/gateway/internal/gwtest"
	"slices"
	"strings"
	"testing"
)

func TestParseChunker(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		spec string
		want string // canonical form; empty when the spec is refused
		err  string // a part of the error when refused
	}{
		{spec: "size-1048576", want: "size-1048576"},
		{spec: "size-1MiB", want: "size-1048576"},
		{spec: "size-256KiB", want: "size-262144"},
		{spec: "size-1024", want: "size-1024"},
		{spec: "size-2MiB", want: "size-2097152"},
		{spec: "buzhash", want: "buzhash"},
		{spec: "rabin", want: "rabin-87381-262144-393216"},
		{spec: "rabin-64-1000-2000", want: "rabin-64-1000-2000"},
		{spec: "rabin-256KiB-1MiB-2MiB", want: "rabin-262144-1048576-2097152"},
		{spec: "fastcdc", want: "fastcdc-262144-1048576-2097152"},
		{spec: "fastcdc-64KiB-256KiB-512KiB", want: "fastcdc-65536-262144-524288"},
		{spec: "fastcdc-64-128-129", want: "fastcdc-64-128-129"},
		{spec: "cdc", want: "buzhash"},

		{spec: "", err: "unknown chunker"},
		{spec: "default", err: "unknown chunker"},
		{spec: "Size-1024", err: "unknown chunker"},
		{spec: "fixed-1024", err: "unknown chunker"},
		{spec: "size", err: "want size-N"},
		{spec: "size-", err: "not a size"},
		{spec: "size-1023", err: "out of range"},
		{spec: "size-2097153", err: "out of range"},
		{spec: "size-3MiB", err: "out of range"},
		{spec: "size-99999999999999999999", err: "out of range"},
		{spec: "size--1", err: "not a size"},
		{spec: "size-+1024", err: "not a size"},
		{spec: "size-1024-2048", err: "want size-N"},
		{spec: "size-1kb", err: "not a size"},
		{spec: "size-KiB", err: "not a size"},
		{spec: "size- 1024", err: "not a size"},
		{spec: "buzhash-1024", err: "takes no parameters"},
		{spec: "rabin-1024", err: "rabin-MIN-AVG-MAX"},
		{spec: "rabin-1-2-3-4", err: "rabin-MIN-AVG-MAX"},
		{spec: "rabin-16-1024-2048", err: "MIN 16 below 64"},
		{spec: "rabin-2048-1024-4096", err: "MIN < AVG < MAX"},
		{spec: "rabin-1024-4096-4096", err: "MIN < AVG < MAX"},
		{spec: "rabin-1024-4096-3MiB", err: "MAX 3145728 above 2097152"},
		{spec: "fastcdc-256KiB-1000000-2MiB", err: "not a power of two"},
		{spec: "fastcdc-1MiB-1MiB-2MiB", err: "MIN < AVG < MAX"},
		{spec: "fastcdc-256KiB-1MiB-4MiB", err: "above 2097152"},
		{spec: "fastcdc-", err: "not a size"},
		{spec: "cdc-1", err: "unknown chunker"},
		{spec: strings.Repeat("size-1024", 10), err: "too long"},
	} {
		got, err := ParseChunker(tt.spec)
		switch {
		case tt.want != "" && err != nil:
			t.Errorf("ParseChunker(%q): %v", tt.spec, err)
		case tt.want != "" && got.String() != tt.want:
			t.Errorf("ParseChunker(%q) = %s, want %s", tt.spec, got, tt.want)
		case tt.want == "" && err == nil:
			t.Errorf("ParseChunker(%q) = %s, want an error", tt.spec, got)
		case tt.want == "" && !strings.Contains(err.Error(), tt.err):
			t.Errorf("ParseChunker(%q): %v, want an error saying %q", tt.spec, err, tt.err)
		}
	}
}

// FuzzParseChunker: any string parses to a spec that prints back to a
// string parsing to the same spec, whose leaves stay within its bounds and
// Bitswap's, or is refused.
func FuzzParseChunker(f *testing.F) {
	for _, s := range []string{"size-1024", "size-1MiB", "buzhash", "rabin", "rabin-64-128-256", "fastcdc", "fastcdc-64-128-256", "cdc", "size--", "fastcdc-1-2"} {
		f.Add(s)
	}
	data := gwtest.RandBytes(7, 5000)
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseChunker(s)
		if err != nil {
			if spec != (ChunkerSpec{}) {
				t.Fatalf("ParseChunker(%q) failed (%v) but returned %+v", s, err, spec)
			}
			return
		}
		again, err := ParseChunker(spec.String())
		if err != nil || again != spec {
			t.Fatalf("ParseChunker(%q) = %+v, but its string %q parses to %+v, %v", s, spec, spec.String(), again, err)
		}
		if spec.MaxLeaf() < 1 || spec.MaxLeaf() > 2<<20 {
			t.Fatalf("ParseChunker(%q): leaves of up to %d bytes", s, spec.MaxLeaf())
		}
		if spec.Kind == ChunkerRabin && spec.Avg > 1<<16 {
			return // slow to set up; covered by TestChunkerSplitters
		}
		checkCuts(t, spec, data, cutAll(t, spec, bytes.NewReader(data)))
	})
}

// cutAll cuts what r reads with spec and returns the chunks.
func cutAll(t testing.TB, spec ChunkerSpec, r io.Reader) [][]byte {
	t.Helper()
	sp := spec.NewSplitter(r)
	var out [][]byte
	for {
		c, err := sp.NextBytes()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if len(c) == 0 {
			t.Fatalf("%s: an empty chunk", spec)
		}
		out = append(out, c)
	}
}

// checkCuts checks that chunks are data cut within spec's bounds.
func checkCuts(t testing.TB, spec ChunkerSpec, data []byte, chunks [][]byte) {
	t.Helper()
	if got := bytes.Join(chunks, nil); !bytes.Equal(got, data) {
		t.Fatalf("%s: the chunks make %d bytes, not the %d cut", spec, len(got), len(data))
	}
	for i, c := range chunks {
		if len(c) > spec.MaxLeaf() {
			t.Fatalf("%s: chunk %d has %d bytes, above %d", spec, i, len(c), spec.MaxLeaf())
		}
		if i < len(chunks)-1 && (spec.Kind == ChunkerFastCDC || spec.Kind == ChunkerRabin) && len(c) < spec.Min {
			t.Fatalf("%s: chunk %d of %d has %d bytes, below %d", spec, i, len(chunks), len(c), spec.Min)
		}
	}
}

// choppyReader returns at most a random few bytes per Read: boundaries
// must not depend on how the body arrives.
type choppyReader struct {
	r   io.Reader
	rnd *rand.Rand
}

func (c *choppyReader) Read(p []byte) (int, error) {
	n := 1 + c.rnd.IntN(70000)
	return c.r.Read(p[:min(n, len(p))])
}

// TestChunkerSplitters: every kind cuts the same bytes at the same places
// however the body arrives, within its bounds; the content-defined ones
// find again most boundaries of the content after bytes are inserted
// near its start (which moves every later byte), the fixed-size one none.
func TestChunkerSplitters(t *testing.T) {
	t.Parallel()
	data := gwtest.RandBytes(1, 6<<20+12345)
	edited := append(append(append([]byte(nil), data[:100_000]...), gwtest.RandBytes(2, 777)...), data[100_000:]...)
	for _, tt := range []struct {
		spec       string
		minAvg     int // least average chunk size
		maxAvg     int // greatest average chunk size
		minSharedP int // least share of edited's chunks also in data, in percent
		maxSharedP int
	}{
		{"size-1MiB", 850 << 10, 1 << 20, 0, 0}, // the last chunk is short
		{"size-1024", 1000, 1024, 0, 2},
		{"buzhash", 150 << 10, 400 << 10, 80, 100},
		{"rabin", 150 << 10, 400 << 10, 80, 100},
		{"fastcdc", 700 << 10, 1600 << 10, 60, 100},
		{"fastcdc-16KiB-64KiB-128KiB", 40 << 10, 100 << 10, 90, 100},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			spec, err := ParseChunker(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			whole := cutAll(t, spec, bytes.NewReader(data))
			checkCuts(t, spec, data, whole)
			choppy := cutAll(t, spec, &choppyReader{bytes.NewReader(data), rand.New(rand.NewPCG(3, 4))})
			if len(choppy) != len(whole) {
				t.Fatalf("%d chunks from a choppy body, %d from a whole one", len(choppy), len(whole))
			}
			for i := range whole {
				if !bytes.Equal(whole[i], choppy[i]) {
					t.Fatalf("chunk %d: %d bytes from a choppy body, %d from a whole one", i, len(choppy[i]), len(whole[i]))
				}
			}
			if avg := len(data) / len(whole); avg < tt.minAvg || avg > tt.maxAvg {
				t.Errorf("average chunk %d bytes, want %d..%d", avg, tt.minAvg, tt.maxAvg)
			}
			old := map[string]bool{}
			for _, c := range whole {
				old[string(c)] = true
			}
			after := cutAll(t, spec, bytes.NewReader(edited))
			shared := 0
			for _, c := range after {
				if old[string(c)] {
					shared++
				}
			}
			if p := 100 * shared / len(after); p < tt.minSharedP || p > tt.maxSharedP {
				t.Errorf("after an insertion %d of %d chunks (%d%%) are unchanged, want %d%%..%d%%", shared, len(after), p, tt.minSharedP, tt.maxSharedP)
			}
		})
	}
}

// TestFastCDCGolden pins the fastcdc cut points: they are part of every
// CID a fastcdc bucket makes, on every node, in every version. If this
// test fails, the change breaks deduplication with existing content.
func TestFastCDCGolden(t *testing.T) {
	t.Parallel()
	if gear[0] != 0x2cb4864fa356dadf || gear[255] != 0x4a7d1437491993b7 {
		t.Fatalf("the gear table changed: gear[0] = %#x, gear[255] = %#x", gear[0], gear[255])
	}
	// The content: splitmix64 from 1, little-endian, so that it does not
	// depend on any library's generator.
	data := make([]byte, 8<<20)
	x := uint64(1)
	for i := 0; i < len(data); i += 8 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		binary.LittleEndian.PutUint64(data[i:], z^z>>31)
	}
	for _, tt := range []struct{ spec, cuts string }{
		{"fastcdc", "facc32c2fec62863"},
		{"fastcdc-16KiB-64KiB-128KiB", "48d40fd79cd1a844"},
	} {
		spec, err := ParseChunker(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		var sizes []int
		for _, c := range cutAll(t, spec, bytes.NewReader(data)) {
			h.Write(binary.AppendUvarint(nil, uint64(len(c))))
			sizes = append(sizes, len(c))
		}
		if ref := fastCDCReference(data, spec.Min, spec.Avg, spec.Max); !slices.Equal(sizes, ref) {
			t.Errorf("%s: the splitter cuts %d chunks %v…, the plain reference %d %v…", tt.spec, len(sizes), sizes[:min(len(sizes), 8)], len(ref), ref[:min(len(ref), 8)])
		}
		if got := hex.EncodeToString(h.Sum(nil))[:16]; got != tt.cuts {
			t.Errorf("%s: cut points hash %s, want %s (chunk sizes %v)", tt.spec, got, tt.cuts, sizes[:min(len(sizes), 8)])
		}
	}
}

// fastCDCReference is the fastcdc cut rule written plainly, over the
// whole content at once: the chunk sizes.
func fastCDCReference(data []byte, minSize, avg, maxSize int) []int {
	logAvg := 0
	for 1<<logAvg < avg {
		logAvg++
	}
	topBits := func(fp uint64, k int) uint64 { return fp >> (64 - k) }
	var sizes []int
	for start := 0; start < len(data); {
		size := min(maxSize, len(data)-start)
		if size > minSize {
			var fp uint64
			for i := minSize; i < size; i++ {
				fp = fp<<1 + gear[data[start+i]]
				k := logAvg - 2
				if i < avg {
					k = logAvg + 2
				}
				if topBits(fp, k) == 0 {
					size = i + 1
					break
				}
			}
		}
		sizes = append(sizes, size)
		start += size
	}
	return sizes
}

// leafSizes returns the sizes of the leaves of the DAG under root, in
