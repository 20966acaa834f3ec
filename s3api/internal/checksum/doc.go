// Package checksum implements the additional object checksums of the S3 API:
// CRC32, CRC32C, CRC64NVME, SHA1 and SHA256, as sent in the
// x-amz-checksum-<algorithm> headers and in aws-chunked trailers.
//
// An Algorithm names one of them and builds its hash.Hash; values travel as
// the standard base64 encoding of the big-endian digest. FromHeaders finds
// the single checksum value a request carries, and NewVerifyingReader checks
// a body against it as the bytes flow:
//
//	alg, want, ok, err := checksum.FromHeaders(r.Header)
//	if err != nil { ... }
//	if ok {
//		body, err = checksum.NewVerifyingReader(body, alg, want)
//		if err != nil { ... } // InvalidDigest
//	}
//	// reading body to EOF returns *Error{Code: "BadDigest"} on mismatch
//
// The package depends on the standard library only.
//
// Specification:
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
package checksum
