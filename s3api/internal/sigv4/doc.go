// Package sigv4 authenticates S3 requests signed with AWS Signature
// Version 4 and verifies their payloads, as Amazon S3 does. It also
// accepts the older Signature Version 2, which aws cli v1 and boto3
// presigners and s3cmd still produce.
//
// A Verifier checks, for one *http.Request:
//
//   - header authentication (Authorization: AWS4-HMAC-SHA256 ...);
//   - query-string authentication (presigned URLs, X-Amz-Algorithm=...);
//   - the payload named by x-amz-content-sha256: a hex SHA-256 checked as
//     the body is read, UNSIGNED-PAYLOAD, or an aws-chunked body
//     (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, its -TRAILER variant, and
//     STREAMING-UNSIGNED-PAYLOAD-TRAILER) decoded while every chunk
//     signature, the trailer signature and the trailer checksum are
//     verified;
//   - Signature Version 2 (HMAC-SHA1), in the "Authorization: AWS
//     AccessKeyId:Signature" header and in presigned URLs (AWSAccessKeyId,
//     Expires, Signature). It signs no payload; its canonical resource
//     names the bucket, which Config.VirtualHostBucket supplies for
//     virtual-hosted-style requests. Result.Version tells the versions
//     apart.
//
// Usage:
//
//	v, err := sigv4.New(sigv4.Config{Credentials: lookup})
//	...
//	res, err := v.Verify(r) // err is *sigv4.Error; Code is the S3 error code
//	if err != nil { ... }
//	if res.Anonymous { ... } // no signature: the caller decides
//	// r.Body is now res.Body: read it to io.EOF before committing; a
//	// verification failure is returned by Read as *sigv4.Error.
//	n, err := io.Copy(dst, res.Body)
//	sum := res.TrailerValue() // trailer checksum, once verified
//
// S3 specifics honoured: the path is signed as sent, without normalisation
// or double encoding; the credential scope must name the configured region;
// Host and every x-amz-* header present must be signed (Signature Version 2
// signs them all by construction); a ';' in the query is an ordinary byte; Host, Content-Length and
// Transfer-Encoding are rebuilt from the fields where net/http moves them.
// Memory is bounded per request by a 64 KiB read buffer, whatever the chunk
// size: chunk data streams through, and SDKs that know the body length
// send it as a single chunk.
//
// The package depends on the standard library (and the sibling checksum
// package) only.
//
// Specifications:
//   - https://docs.aws.amazon.com/AmazonS3/latest/API/RESTAuthentication.html
//   - https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
//   - https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
//   - https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
//   - https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
//   - https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
package sigv4
