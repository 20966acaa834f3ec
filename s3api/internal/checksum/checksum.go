package checksum

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strings"
)

// Algorithm is an S3 checksum algorithm name as it appears, upper-cased, in
// x-amz-sdk-checksum-algorithm and, lower-cased, in x-amz-checksum-<name>.
type Algorithm string

// The checksum algorithms S3 defines.
const (
	CRC32     Algorithm = "CRC32"
	CRC32C    Algorithm = "CRC32C"
	CRC64NVME Algorithm = "CRC64NVME"
	SHA1      Algorithm = "SHA1"
	SHA256    Algorithm = "SHA256"
)

// Error codes carried by *Error; they are S3 error codes.
const (
	CodeBadDigest      = "BadDigest"
	CodeInvalidDigest  = "InvalidDigest"
	CodeInvalidRequest = "InvalidRequest"
)

// HeaderPrefix is the common prefix of the checksum value headers.
const HeaderPrefix = "x-amz-checksum-"

// CRC64NVMEPolynomial is the CRC-64/NVME polynomial in the reversed
// (reflected) form hash/crc64 expects.
const CRC64NVMEPolynomial = 0x9a6c9329ac4bc9b5

var (
	crc32cTable = crc32.MakeTable(crc32.Castagnoli)
	nvmeTable   = crc64.MakeTable(CRC64NVMEPolynomial)
)

// Error is a checksum failure that maps to an S3 error code.
type Error struct {
	// Code is an S3 error code: BadDigest, InvalidDigest or InvalidRequest.
	Code string
	// Message is a client-safe description.
	Message string
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Algorithms returns every supported algorithm, in a fixed order.
func Algorithms() []Algorithm {
	return []Algorithm{CRC32, CRC32C, CRC64NVME, SHA1, SHA256}
}

// ParseAlgorithm returns the algorithm named s, compared case-insensitively.
// An unknown name yields an *Error with code InvalidRequest.
func ParseAlgorithm(s string) (Algorithm, error) {
	for _, a := range Algorithms() {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("unsupported checksum algorithm %q", s)}
}

// Valid reports whether a is one of the supported algorithms.
func (a Algorithm) Valid() bool {
	switch a {
	case CRC32, CRC32C, CRC64NVME, SHA1, SHA256:
		return true
	}
	return false
}

// New returns a fresh hash for a. It panics if a is not Valid; callers
// obtain Algorithms from ParseAlgorithm or FromHeaders.
func (a Algorithm) New() hash.Hash {
	switch a {
	case CRC32:
		return crc32.NewIEEE()
	case CRC32C:
		return crc32.New(crc32cTable)
	case CRC64NVME:
		return new(nvmeDigest)
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	}
	panic("checksum: unknown algorithm " + string(a))
}

// Size returns the digest length of a in bytes, or 0 if a is not Valid.
func (a Algorithm) Size() int {
	switch a {
	case CRC32, CRC32C:
		return crc32.Size
	case CRC64NVME:
		return crc64.Size
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	}
	return 0
}

// HeaderName returns the lower-case name of the header carrying a value of
// a, such as "x-amz-checksum-crc32".
func (a Algorithm) HeaderName() string {
	return HeaderPrefix + strings.ToLower(string(a))
}

// Encode returns the wire form (standard base64) of a digest.
func Encode(sum []byte) string { return base64.StdEncoding.EncodeToString(sum) }

// Sum returns the wire form of a's checksum of data. a must be Valid.
func Sum(a Algorithm, data []byte) string {
	h := a.New()
	h.Write(data)
	return Encode(h.Sum(nil))
}

// Decode parses the wire form of an a checksum. Invalid base64 or a digest
// of the wrong length yields an *Error with code InvalidDigest.
func Decode(a Algorithm, value string) ([]byte, error) {
	if !a.Valid() {
		return nil, &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("unsupported checksum algorithm %q", string(a))}
	}
	b, err := base64.StdEncoding.Strict().DecodeString(value)
	if err != nil || len(b) != a.Size() {
		return nil, &Error{Code: CodeInvalidDigest, Message: fmt.Sprintf("the %s you specified was invalid", a.HeaderName())}
	}
	return b, nil
}

// notValues are x-amz-checksum-* headers that do not carry a checksum value.
var notValues = map[string]bool{
	"mode":      true, // GetObject: x-amz-checksum-mode: ENABLED
	"algorithm": true, // CreateMultipartUpload, CopyObject
	"type":      true, // CreateMultipartUpload: COMPOSITE or FULL_OBJECT
}

// FromHeaders finds the checksum value a request carries in an
// x-amz-checksum-<algorithm> header. found is false when there is none.
// Header names that are not values (x-amz-checksum-mode,
// x-amz-checksum-algorithm, x-amz-checksum-type) and names of unknown
// algorithms are ignored. More than one value header, or one header
// repeated, yields an *Error with code InvalidRequest. The value itself is
// not validated; NewVerifyingReader and Decode do that.
func FromHeaders(h http.Header) (alg Algorithm, value string, found bool, err error) {
	for name, vals := range h {
		if len(name) <= len(HeaderPrefix) || !strings.EqualFold(name[:len(HeaderPrefix)], HeaderPrefix) {
			continue
		}
		suffix := strings.ToLower(name[len(HeaderPrefix):])
		if notValues[suffix] {
			continue
		}
		a, perr := ParseAlgorithm(suffix)
		if perr != nil {
			continue
		}
		if found || len(vals) != 1 {
			return "", "", false, &Error{Code: CodeInvalidRequest, Message: "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."}
		}
		alg, value, found = a, vals[0], true
	}
	return alg, value, found, nil
}

// NewVerifyingReader returns a reader that yields r's bytes while hashing
// them with alg. When r reports io.EOF and the digest differs from
// wantBase64, Read returns an *Error with code BadDigest instead of io.EOF.
// An invalid alg yields InvalidRequest; an invalid wantBase64 (bad base64 or
// wrong length) yields InvalidDigest, both before any byte is read.
func NewVerifyingReader(r io.Reader, alg Algorithm, wantBase64 string) (io.Reader, error) {
	want, err := Decode(alg, wantBase64)
	if err != nil {
		return nil, err
	}
	return &verifyingReader{r: r, h: alg.New(), alg: alg, want: want}, nil
}

type verifyingReader struct {
	r    io.Reader
	h    hash.Hash
	alg  Algorithm
	want []byte
	err  error // sticky terminal error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	if n > 0 {
		v.h.Write(p[:n])
	}
	if err == io.EOF {
		var buf [64]byte
		if got := v.h.Sum(buf[:0]); string(got) != string(v.want) {
			v.err = &Error{Code: CodeBadDigest, Message: fmt.Sprintf("The %s you specified did not match the calculated checksum.", v.alg.HeaderName())}
			return n, v.err
		}
		v.err = io.EOF
	} else if err != nil {
		v.err = err
	}
	return n, err
}
