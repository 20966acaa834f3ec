package s3api

import (
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"s3mesh/s3api/internal/checksum"
	"s3mesh/s3api/s3err"
)

const (
	// maxObjectSize is the largest object a single PutObject stores: 5 GiB.
	maxObjectSize = 5 << 30
	// maxUserMetadata bounds the user metadata of an object: the bytes of
	// every x-amz-meta-* name (without the prefix) and value.
	maxUserMetadata = 2 << 10
	// defaultContentType is the Content-Type of an object stored without
	// one, as in S3.
	defaultContentType = "binary/octet-stream"
	// cidHeader carries the content identifier of an object's root.
	cidHeader = "x-s3mesh-cid"
	// metaPrefix is the prefix of user metadata headers.
	metaPrefix = "x-amz-meta-"
)

// handlePutObject serves PutObject. The body is streamed to the store
// through the signature's payload verifier and, when the request carries a
// checksum, a checksum verifier; a failure of either surfaces from the
// body's Read at EOF, and the store commits nothing. With an x-s3mesh-cid
// header and an empty body, the object adopts the content that CID names
// (PutObjectInput.CID).
func (h *Handler) handlePutObject(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	if ri.key == "" {
		return s3err.ErrInvalidRequest
	}
	size, err := putSize(r, ri)
	if err != nil {
		return err
	}
	md, err := parseMetadata(r.Header)
	if err != nil {
		return err
	}
	conds, err := parsePutConditions(r.Header)
	if err != nil {
		return err
	}
	contentMD5, err := parseContentMD5(r.Header)
	if err != nil {
		return err
	}
	if err := checkCannedACL(r.Header); err != nil {
		return err
	}
	tags, err := parseTaggingHeader(r.Header)
	if err != nil {
		return err
	}
	adopt, err := parseCIDHeader(r.Header, size)
	if err != nil {
		return err
	}
	in := &PutObjectInput{
		Bucket:     ri.bucket,
		Key:        ri.key,
		CID:        adopt,
		Size:       size,
		ContentMD5: contentMD5,
		Checksums:  map[string]string{},
		Metadata:   md,
		Tags:       tags,
		Conditions: conds,
	}
	body, err := verifiedBody(r, ri, in.Checksums)
	if err != nil {
		return err
	}
	in.Body = body
	obj, err := h.store.PutObject(r.Context(), in)
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("ETag", quoteETag(obj.ETag))
	setVersionHeaders(hdr, obj)
	if obj.CID != "" {
		hdr.Set(cidHeader, obj.CID)
	}
	setChecksumHeaders(hdr, in.Checksums)
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// parseCIDHeader returns the x-s3mesh-cid header of a PutObject whose body
// has size bytes, "" when absent. The header asks the store to adopt
// existing content, so the body must be empty (InvalidRequest otherwise);
// it must be sent once and not be empty (InvalidArgument). The CID itself
// is opaque here: the store parses it.
func parseCIDHeader(hdr http.Header, size int64) (string, error) {
	vals := hdr.Values(cidHeader)
	if len(vals) == 0 {
		return "", nil
	}
	if len(vals) > 1 {
		return "", errInvalidArgument("The %s header may be sent only once.", cidHeader)
	}
	v := strings.TrimSpace(vals[0])
	if v == "" {
		return "", errInvalidArgument("The %s header must name a CID.", cidHeader)
	}
	if size != 0 {
		return "", s3err.New(s3err.ErrInvalidRequest, "A PutObject with "+cidHeader+" adopts existing content and must have an empty body.")
	}
	return v, nil
}

// verifiedBody returns the request body of a content upload (PutObject,
// UploadPart) wrapped so that reading it to the end verifies the checksum
// the request carries: an x-amz-checksum-* header, whose value it adds to
// checksums at once, or an aws-chunked trailer, whose value it adds to
// checksums when the body returns io.EOF. A verification failure surfaces
// from Read, so a store that commits only after io.EOF commits nothing.
func verifiedBody(r *http.Request, ri *reqInfo, checksums map[string]string) (io.Reader, error) {
	var body io.Reader = r.Body
	if body == nil {
		body = http.NoBody
	}
	alg, want, found, err := checksum.FromHeaders(r.Header)
	if err != nil {
		return nil, err
	}
	if found {
		if body, err = checksum.NewVerifyingReader(body, alg, want); err != nil {
			return nil, err
		}
		checksums[string(alg)] = want
	}
	if res := ri.auth; res != nil && res.TrailerChecksum != "" {
		if found {
			return nil, s3err.New(s3err.ErrInvalidRequest, "Expecting a single x-amz-checksum- header.")
		}
		body = &trailerChecksumReader{r: body, checksums: checksums, alg: string(res.TrailerChecksum), value: res.TrailerValue}
	}
	return body, nil
}

// setChecksumHeaders sets an x-amz-checksum-<algorithm> header for each
// checksum of a known algorithm.
func setChecksumHeaders(hdr http.Header, checksums map[string]string) {
	for name, v := range checksums {
		if a, err := checksum.ParseAlgorithm(name); err == nil {
			hdr.Set(a.HeaderName(), v)
		}
	}
}

// putSize returns the size of the content a PutObject or UploadPart
// carries: the decoded length of a streaming (aws-chunked) upload, else
// Content-Length, which is then required. More than 5 GiB is
// EntityTooLarge.
func putSize(r *http.Request, ri *reqInfo) (int64, error) {
	size := r.ContentLength
	if res := ri.auth; res != nil && res.Streaming {
		size = res.DecodedLength
		if size < 0 {
			return 0, s3err.New(s3err.ErrMissingContentLength, "You must provide the x-amz-decoded-content-length header with a streaming upload.")
		}
	}
	if size < 0 {
		return 0, s3err.ErrMissingContentLength
	}
	if size == 0 && (ri.auth == nil || !ri.auth.Streaming) && len(r.Header.Values("Content-Length")) == 0 {
		// No length at all (net/http reads such a body as empty): the
		// client may have meant a body, so it is not stored as empty.
		return 0, s3err.ErrMissingContentLength
	}
	if size > maxObjectSize {
		return 0, &s3err.Error{Code: s3err.ErrEntityTooLarge, Resource: ri.resource}
	}
	return size, nil
}

// parseContentMD5 decodes a Content-MD5 header: nil when absent,
// InvalidDigest when it is not the base64 of 16 bytes.
func parseContentMD5(hdr http.Header) ([]byte, error) {
	vals, ok := hdr["Content-Md5"]
	if !ok {
		return nil, nil
	}
	if len(vals) != 1 {
		return nil, s3err.ErrInvalidDigest
	}
	sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(vals[0]))
	if err != nil || len(sum) != md5.Size {
		return nil, s3err.ErrInvalidDigest
	}
	return sum, nil
}

// parseMetadata reads the metadata headers of a write: Content-Type
// (default binary/octet-stream), Content-Encoding without aws-chunked,
// Content-Disposition, Content-Language, Cache-Control, Expires and the
// x-amz-meta-* headers, whose total size is bounded.
func parseMetadata(hdr http.Header) (ObjectMetadata, error) {
	md := ObjectMetadata{
		ContentType:        hdr.Get("Content-Type"),
		ContentEncoding:    stripAWSChunked(hdr.Values("Content-Encoding")),
		ContentDisposition: hdr.Get("Content-Disposition"),
		ContentLanguage:    hdr.Get("Content-Language"),
		CacheControl:       hdr.Get("Cache-Control"),
		Expires:            hdr.Get("Expires"),
	}
	if md.ContentType == "" {
		md.ContentType = defaultContentType
	}
	total := 0
	for name, vals := range hdr {
		lower := strings.ToLower(name)
		k, ok := strings.CutPrefix(lower, metaPrefix)
		if !ok {
			continue
		}
		if k == "" {
			return md, errInvalidArgument("A user metadata header needs a name after x-amz-meta-.")
		}
		v := strings.Join(vals, ",")
		total += len(k) + len(v)
		if md.User == nil {
			md.User = make(map[string]string)
		}
		md.User[k] = v
	}
	if total > maxUserMetadata {
		return md, s3err.New(s3err.ErrMetadataTooLarge,
			fmt.Sprintf("Your metadata headers are %d bytes; the maximum is %d.", total, maxUserMetadata))
	}
	return md, nil
}

// stripAWSChunked removes the aws-chunked coding, which only frames the
// upload, from Content-Encoding values.
func stripAWSChunked(vals []string) string {
	var keep []string
	for _, v := range vals {
		for c := range strings.SplitSeq(v, ",") {
			c = strings.TrimSpace(c)
			if c != "" && !strings.EqualFold(c, "aws-chunked") {
				keep = append(keep, c)
			}
		}
	}
	return strings.Join(keep, ",")
}

// trailerChecksumReader records the checksum an aws-chunked upload sends in
// its trailer, which is known (and verified by the signature reader) only
// once the body is read to its end: at io.EOF it stores the value in the
// input's checksums, so a store that reads Checksums after Body returned
// io.EOF finds it.
type trailerChecksumReader struct {
	r         io.Reader
	checksums map[string]string
	alg       string
	value     func() string
	done      bool
}

func (t *trailerChecksumReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if errors.Is(err, io.EOF) && !t.done {
		t.done = true
		v := t.value()
		if v == "" {
			return n, s3err.New(s3err.ErrInvalidRequest, "The trailer checksum announced in x-amz-trailer is missing.")
		}
		if a, perr := checksum.ParseAlgorithm(t.alg); perr == nil {
			t.checksums[string(a)] = v
		}
	}
	return n, err
}
