package s3api

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"s3mesh/s3api/internal/checksum"
)

// CRC combination: the CRC of a concatenation A||B from crc(A), crc(B) and
// len(B), without the data, as zlib's crc32_combine does. For a reflected
// CRC whose initial value equals its final XOR (true of CRC-32, CRC-32C and
// CRC-64/NVME, all ~0), crc(A||B) = crc(A)·x^(8·len(B)) mod P  XOR  crc(B):
// the conditioning terms cancel. Polynomials are in the reflected bit
// order the CRC tables use, where the top bit is x^0.

// crcPoly is a reflected CRC polynomial of width 32 or 64.
type crcPoly struct {
	poly  uint64
	width uint
}

var (
	crc32IEEEPoly   = crcPoly{poly: crc32.IEEE, width: 32}
	crc32CPoly      = crcPoly{poly: crc32.Castagnoli, width: 32}
	crc64NVMEPoly   = crcPoly{poly: checksum.CRC64NVMEPolynomial, width: 64}
	combinablePolys = map[checksum.Algorithm]crcPoly{
		checksum.CRC32:     crc32IEEEPoly,
		checksum.CRC32C:    crc32CPoly,
		checksum.CRC64NVME: crc64NVMEPoly,
	}
)

// one is the polynomial 1 (x^0) in reflected order.
func (c crcPoly) one() uint64 { return 1 << (c.width - 1) }

// mult returns a·b mod P.
func (c crcPoly) mult(a, b uint64) uint64 {
	var p uint64
	for m := c.one(); m != 0 && a != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			a &^= m
		}
		if b&1 != 0 {
			b = b>>1 ^ c.poly
		} else {
			b >>= 1
		}
	}
	return p
}

// xpow8n returns x^(8n) mod P, by square-and-multiply.
func (c crcPoly) xpow8n(n uint64) uint64 {
	result := c.one()
	base := c.one() >> 8 // x^8
	for ; n != 0; n >>= 1 {
		if n&1 != 0 {
			result = c.mult(result, base)
		}
		base = c.mult(base, base)
	}
	return result
}

// combine returns crc(A||B) from crc1 = crc(A), crc2 = crc(B) and len2 =
// len(B).
func (c crcPoly) combine(crc1, crc2 uint64, len2 uint64) uint64 {
	return c.mult(c.xpow8n(len2), crc1) ^ crc2
}

// combineCRCs returns the checksum of the concatenation of parts, each
// given by its checksum (big-endian digest bytes, as S3 encodes them) and
// size, for a CRC algorithm (CRC32, CRC32C, CRC64NVME). It fails for other
// algorithms and for digests of the wrong length.
func combineCRCs(alg checksum.Algorithm, sums [][]byte, sizes []int64) ([]byte, error) {
	c, ok := combinablePolys[alg]
	if !ok {
		return nil, fmt.Errorf("combine crc: %s is not a combinable CRC", alg)
	}
	if len(sums) != len(sizes) {
		return nil, fmt.Errorf("combine crc: %d checksums for %d sizes", len(sums), len(sizes))
	}
	n := int(c.width / 8)
	var acc uint64
	for i, s := range sums {
		if len(s) != n {
			return nil, fmt.Errorf("combine crc: part %d: digest of %d bytes, want %d", i+1, len(s), n)
		}
		if sizes[i] < 0 {
			return nil, fmt.Errorf("combine crc: part %d: negative size", i+1)
		}
		var v uint64
		if n == 4 {
			v = uint64(binary.BigEndian.Uint32(s))
		} else {
			v = binary.BigEndian.Uint64(s)
		}
		if i == 0 {
			acc = v
			continue
		}
		acc = c.combine(acc, v, uint64(sizes[i]))
	}
	out := make([]byte, n)
	if n == 4 {
		binary.BigEndian.PutUint32(out, uint32(acc))
	} else {
		binary.BigEndian.PutUint64(out, acc)
	}
	return out, nil
}
