package dag

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"

	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
)

// How objects are cut into leaves. A chunker spec names a splitter and its
// parameters; equal specs cut equal bytes at equal places on every node, so
// content written at two offices, or twice at one, shares its leaves. The
// specs (sizes in bytes, or with a KiB or MiB suffix):
//
//	size-N                fixed N-byte leaves, 1 KiB ≤ N ≤ 2 MiB (boxo's size splitter)
//	buzhash               boxo's buzhash: content-defined, 128 KiB to 512 KiB, about 256 KiB on average
//	rabin                 boxo's rabin at its default average: rabin-87381-262144-393216
//	rabin-MIN-AVG-MAX     boxo's rabin, 64 ≤ MIN < AVG < MAX ≤ 2 MiB (AVG is rounded down to a power of two)
//	fastcdc               fastcdc-262144-1048576-2097152
//	fastcdc-MIN-AVG-MAX   FastCDC (gear hash, normalized chunking), 64 ≤ MIN < AVG < MAX ≤ 2 MiB, AVG a power of two
//	cdc                   DefaultContentDefinedChunker
//
// size and buzhash cut the way `ipfs add --chunker=size-N` and
// `--chunker=buzhash` do, so with raw leaves and CIDv1 their roots name
// the same content on any IPFS node; rabin too, though boxo's rabin cuts
// at about a quarter of the others' speed (see BenchmarkChunkers). fastcdc
// is this package's own: its gear table and cut rule are fixed forever (a
// change would change every CID it makes; TestFastCDCGolden pins them).
//
// A leaf is at most helpers.BlockSizeLimit (2 MiB), the largest block
// Bitswap moves.

// ChunkerKind names a family of splitters.
type ChunkerKind string

// The chunker kinds.
const (
	ChunkerSize    ChunkerKind = "size"
	ChunkerBuzhash ChunkerKind = "buzhash"
	ChunkerRabin   ChunkerKind = "rabin"
	ChunkerFastCDC ChunkerKind = "fastcdc"
)

// DefaultContentDefinedChunker is what the spec "cdc" stands for: the
// content-defined chunker chosen by measurement. Cutting 256 MiB
// (BenchmarkChunkers, 2 shared cores) buzhash ran at 1.0–1.2 GB/s,
// fastcdc at 0.85–1.1 (0.86–1.1 with 256 KiB chunks) and rabin at 0.3;
// the whole import (BenchmarkChunkImport, SHA-256 included) at 620–690,
// 500–580 and 230–260 MB/s, against 1.0–1.4 GB/s for fixed 1 MiB leaves.
// An office holding a 64 MiB build fetched of its next version, 10
// scattered edits of which 5 shift later bytes (BenchmarkDedup), 2.9 MiB
// with buzhash, 3.8 with fastcdc at 256 KiB, 12.1 with fastcdc at 1 MiB,
// and 49 with fixed 1 MiB leaves; uploaded in 8 MiB parts, 4.3, 6.6, 20.0
// and 49. buzhash also cuts as `ipfs add --chunker=buzhash` does, so its
// CIDs match any IPFS node's. Its cost is 4 to 5 times the blocks of
// 1 MiB leaves (128 to 512 KiB): raise fetch_window to match on long, fat
// links, or use fastcdc (1 MiB on average) where blocks must stay large.
// A bucket set to "cdc" stores the spec it stands for, so a later change
// of this constant does not change how an existing bucket cuts.
const DefaultContentDefinedChunker = "buzhash"

// Bounds of the chunker parameters.
const (
	minFixedChunk = 1 << 10 // size-N: smaller leaves cost more in block overhead than they can save
	minCDCChunk   = 64      // MIN of rabin and fastcdc: at least their hash window
	maxChunkSpec  = 64      // longest spec accepted
)

// The parameters of "fastcdc" and "rabin" without numbers, and buzhash's
// (fixed in boxo).
const (
	fastCDCMin = 256 << 10
	fastCDCAvg = 1 << 20
	fastCDCMax = 2 << 20

	rabinAvg = 256 << 10
	rabinMin = rabinAvg / 3
	rabinMax = rabinAvg + rabinAvg/2

	buzhashMin = 128 << 10
	buzhashMax = 512 << 10
)

// ChunkerSpec is a parsed chunker spec (see ParseChunker). The zero value
// is not a valid spec.
type ChunkerSpec struct {
	Kind ChunkerKind
	// Size is the leaf size in bytes of a ChunkerSize spec.
	Size int
	// Min, Avg and Max are the least, target average and greatest chunk
	// sizes in bytes of a ChunkerRabin or ChunkerFastCDC spec (a chunk at
	// the end of the content may be shorter than Min).
	Min, Avg, Max int
}

// sizeChunker is the spec of fixed n-byte leaves, unchecked: a Config's
// ChunkSize, validated by Config.Validate.
func sizeChunker(n int) ChunkerSpec { return ChunkerSpec{Kind: ChunkerSize, Size: n} }

// ParseChunker parses a chunker spec (see the list above) and checks its
// bounds. The error names the spec and what is wrong with it, in words an
// operator can act on.
func ParseChunker(spec string) (ChunkerSpec, error) {
	bad := func(format string, args ...any) (ChunkerSpec, error) {
		return ChunkerSpec{}, fmt.Errorf("chunker %q: %s", spec, fmt.Sprintf(format, args...))
	}
	if len(spec) > maxChunkSpec {
		return ChunkerSpec{}, fmt.Errorf("chunker spec of %d bytes: too long; want size-N, buzhash, rabin[-MIN-AVG-MAX], fastcdc[-MIN-AVG-MAX] or cdc", len(spec))
	}
	if spec == "cdc" {
		return ParseChunker(DefaultContentDefinedChunker)
	}
	name, params, hasParams := strings.Cut(spec, "-")
	var nums []int
	if hasParams {
		for p := range strings.SplitSeq(params, "-") {
			n, err := parseChunkBytes(p)
			if err != nil {
				return bad("%v", err)
			}
			nums = append(nums, n)
		}
	}
	switch ChunkerKind(name) {
	case ChunkerSize:
		if len(nums) != 1 {
			return bad("want size-N, N the leaf size in bytes")
		}
		if n := nums[0]; n < minFixedChunk || n > helpers.BlockSizeLimit {
			return bad("leaf size %d out of range %d..%d (1 KiB to 2 MiB)", n, minFixedChunk, helpers.BlockSizeLimit)
		}
		return sizeChunker(nums[0]), nil
	case ChunkerBuzhash:
		if hasParams {
			return bad("buzhash takes no parameters (its chunks are 128 KiB to 512 KiB, fixed by boxo)")
		}
		return ChunkerSpec{Kind: ChunkerBuzhash}, nil
	case ChunkerRabin, ChunkerFastCDC:
		s := ChunkerSpec{Kind: ChunkerKind(name)}
		switch {
		case !hasParams && s.Kind == ChunkerRabin:
			s.Min, s.Avg, s.Max = rabinMin, rabinAvg, rabinMax
		case !hasParams:
			s.Min, s.Avg, s.Max = fastCDCMin, fastCDCAvg, fastCDCMax
		case len(nums) == 3:
			s.Min, s.Avg, s.Max = nums[0], nums[1], nums[2]
		default:
			return bad("want %s or %s-MIN-AVG-MAX, sizes in bytes", name, name)
		}
		if err := s.checkBounds(); err != nil {
			return bad("%v", err)
		}
		return s, nil
	}
	return bad("unknown chunker; want size-N, buzhash, rabin[-MIN-AVG-MAX], fastcdc[-MIN-AVG-MAX] or cdc")
}

// parseChunkBytes parses a size: decimal digits, optionally followed by
// KiB or MiB. It refuses only what does not fit an int: the callers check
// the bounds, and name the number.
func parseChunkBytes(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "KiB"):
		s, mult = strings.TrimSuffix(s, "KiB"), 1<<10
	case strings.HasSuffix(s, "MiB"):
		s, mult = strings.TrimSuffix(s, "MiB"), 1<<20
	}
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a size in bytes (digits, optionally followed by KiB or MiB)", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n*uint64(mult) > 1<<30 {
		return 0, fmt.Errorf("size %s out of range (at most 2 MiB)", s)
	}
	return int(n) * mult, nil
}

func (s ChunkerSpec) checkBounds() error {
	if s.Min < minCDCChunk {
		return fmt.Errorf("MIN %d below %d bytes (the hash window)", s.Min, minCDCChunk)
	}
	if s.Min >= s.Avg || s.Avg >= s.Max {
		return fmt.Errorf("want MIN < AVG < MAX, got %d, %d, %d", s.Min, s.Avg, s.Max)
	}
	if s.Max > helpers.BlockSizeLimit {
		return fmt.Errorf("MAX %d above %d bytes (2 MiB, the largest block Bitswap moves)", s.Max, helpers.BlockSizeLimit)
	}
	if s.Kind == ChunkerFastCDC && s.Avg&(s.Avg-1) != 0 {
		return fmt.Errorf("AVG %d is not a power of two", s.Avg)
	}
	return nil
}

// String returns the spec in its canonical form, every parameter in
// bytes: ParseChunker(s.String()) == s, and two specs that cut alike have
// the same string.
func (s ChunkerSpec) String() string {
	switch s.Kind {
	case ChunkerSize:
		return fmt.Sprintf("size-%d", s.Size)
	case ChunkerBuzhash:
		return string(ChunkerBuzhash)
	case ChunkerRabin, ChunkerFastCDC:
		return fmt.Sprintf("%s-%d-%d-%d", s.Kind, s.Min, s.Avg, s.Max)
	}
	return fmt.Sprintf("invalid chunker %q", string(s.Kind))
}

// MaxLeaf returns the greatest leaf the spec cuts, in bytes.
func (s ChunkerSpec) MaxLeaf() int {
	switch s.Kind {
	case ChunkerSize:
		return s.Size
	case ChunkerBuzhash:
		return buzhashMax
	}
	return s.Max
}

// NewSplitter returns a splitter that cuts r as the spec says. s MUST come
// from ParseChunker (or be a valid size spec).
func (s ChunkerSpec) NewSplitter(r io.Reader) chunker.Splitter {
	switch s.Kind {
	case ChunkerBuzhash:
		return chunker.NewBuzhash(r)
	case ChunkerRabin:
		return chunker.NewRabinMinMax(r, uint64(s.Min), uint64(s.Avg), uint64(s.Max))
	case ChunkerFastCDC:
		return newFastCDC(r, s.Min, s.Avg, s.Max)
	}
	return chunker.NewSizeSplitter(r, int64(s.Size))
}

// fastCDC is a FastCDC splitter (Xia et al., "FastCDC: a Fast and
// Efficient Content-Defined Chunking Approach for Data Deduplication",
// USENIX ATC 2016): a gear rolling hash, fp = fp<<1 + gear[byte], whose top
// bits depend on the last 64 bytes only; no cut in the first min bytes of a
// chunk (they are not even hashed); up to avg, a cut where the top
// log2(avg)+2 bits of fp are zero, past it where the top log2(avg)-2 bits
// are ("normalized chunking", level 2), which gathers chunk sizes around
// avg; a forced cut at max.
type fastCDC struct {
	r                io.Reader
	min, avg, max    int
	maskHard, maskEZ uint64
	// buf is a region of fastCDCRegion chunks of max bytes;
	// buf[off:n] is read but not yet cut. Chunks are slices of it, so
	// a region lives as long as one of its chunks does.
	buf    []byte
	off, n int
	eof    bool
	err    error
}

// fastCDCRegion is how many greatest chunks fit in a fastCDC read region:
// reading into a region and handing out slices of it copies each byte
// once, and the tail of a region (less than a greatest chunk) once more.
const fastCDCRegion = 4

func newFastCDC(r io.Reader, lo, avg, hi int) *fastCDC {
	b := bits.Len(uint(avg)) - 1 // log2(avg), avg a power of two
	top := func(k int) uint64 { return ^uint64(0) << (64 - k) }
	return &fastCDC{r: r, min: lo, avg: avg, max: hi, maskHard: top(b + 2), maskEZ: top(max(b-2, 1))}
}

// Reader implements chunker.Splitter.
func (f *fastCDC) Reader() io.Reader { return f.r }

// NextBytes implements chunker.Splitter: the next chunk, or io.EOF after
// the last one, or the reader's error. A chunk shares no bytes with
// another and is never written to again.
func (f *fastCDC) NextBytes() ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	if !f.eof && f.n-f.off < f.max {
		if len(f.buf)-f.off < f.max {
			// Too little room left for a greatest chunk: a new region,
			// starting with what the old one holds uncut.
			nb := make([]byte, fastCDCRegion*f.max)
			f.n = copy(nb, f.buf[f.off:f.n])
			f.buf, f.off = nb, 0
		}
		k, err := io.ReadFull(f.r, f.buf[f.n:])
		f.n += k
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			f.eof = true
		case err != nil:
			f.err, f.buf = err, nil
			return nil, err
		}
	}
	if f.n == f.off {
		f.err, f.buf = io.EOF, nil
		return nil, io.EOF
	}
	c := f.cut(f.buf[f.off:min(f.n, f.off+f.max)])
	out := f.buf[f.off : f.off+c : f.off+c]
	f.off += c
	return out, nil
}

// cut returns the length of the chunk at the start of b, which holds max
// bytes unless the content ends within them.
func (f *fastCDC) cut(b []byte) int {
	if len(b) <= f.min {
		return len(b)
	}
	normal := min(f.avg, len(b))
	var fp uint64
	for i, c := range b[f.min:normal] {
		fp = fp<<1 + gear[c]
		if fp&f.maskHard == 0 {
			return f.min + i + 1
		}
	}
	for i, c := range b[normal:] {
		fp = fp<<1 + gear[c]
		if fp&f.maskEZ == 0 {
			return normal + i + 1
		}
	}
	return len(b)
}

// gear is FastCDC's table of 256 random 64-bit values: splitmix64 from
// seed 0x73336d657368 ("s3mesh"). It is part of every fastcdc CID: never
// change it (TestFastCDCGolden pins it).
var gear = func() (t [256]uint64) {
	x := uint64(0x73336d657368)
	for i := range t {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		t[i] = z ^ z>>31
	}
	return t
}()
