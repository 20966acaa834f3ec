package s3api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"s3mesh/s3api/internal/checksum"
	"s3mesh/s3api/s3err"
)

// copyBufferSize is the size of the buffers object content is streamed
// through.
const copyBufferSize = 256 << 10

// copyBuffers holds the buffers object content is streamed through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// responseOverrides maps the GetObject query parameters that override a
// response header to that header.
var responseOverrides = []struct{ param, header string }{
	{"response-content-type", "Content-Type"},
	{"response-content-language", "Content-Language"},
	{"response-expires", "Expires"},
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
}

// handleGetObject serves GetObject and HeadObject. Conditions are evaluated
// before the range; the content is streamed, never buffered whole.
func (h *Handler) handleGetObject(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	query := parseQuery(r.URL.RawQuery)
	versionID, err := h.versionIDParam(r)
	if err != nil {
		return err
	}
	partNumber := 0
	if v, ok := query["partNumber"]; ok {
		n, err := parsePartNumber(v[0])
		if err != nil {
			return err
		}
		if r.Header.Get("Range") != "" {
			return s3err.New(s3err.ErrInvalidRequest, "Cannot specify both Range header and partNumber query parameter.")
		}
		partNumber = n
	}
	var (
		obj     *ObjectInfo
		content Content
	)
	vs := h.versioningStore()
	switch {
	case versionID != "" && vs != nil && r.Method == http.MethodHead:
		obj, err = vs.HeadObjectVersion(r.Context(), ri.bucket, ri.key, versionID)
	case versionID != "" && vs != nil:
		obj, content, err = vs.GetObjectVersion(r.Context(), ri.bucket, ri.key, versionID)
	case r.Method == http.MethodHead:
		obj, err = h.store.HeadObject(r.Context(), ri.bucket, ri.key)
	default:
		obj, content, err = h.store.GetObject(r.Context(), ri.bucket, ri.key)
	}
	if versionID == "" && vs != nil && errors.Is(err, s3err.ErrNoSuchKey) {
		// A current delete marker is answered with its headers.
		if m, merr := vs.HeadObjectVersion(r.Context(), ri.bucket, ri.key, ""); m != nil && m.DeleteMarker && errors.Is(merr, s3err.ErrNoSuchKey) {
			obj = m
		}
	}
	if obj != nil && obj.DeleteMarker {
		return deleteMarkerError(obj, versionID != "", err)
	}
	if err != nil {
		return err
	}
	hdr := w.Header()
	setVersionHeaders(hdr, obj)
	if err := checkReadConditions(r.Header, obj.ETag, obj.LastModified); err != nil {
		if errors.Is(err, s3err.ErrNotModified) {
			hdr.Set("ETag", quoteETag(obj.ETag))
			hdr.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
		}
		return err
	}
	br, kind := parseRange(r.Header.Get("Range"), obj.Size)
	if partNumber > 0 {
		if br, kind, err = partRange(obj, partNumber); err != nil {
			return err
		}
	}
	if kind == rangeUnsatisfiable {
		return &s3err.Error{
			Code:   s3err.ErrInvalidRange,
			Header: map[string]string{"Content-Range": "bytes */" + strconv.FormatInt(obj.Size, 10)},
		}
	}
	// A stored checksum covers the whole object: a partial response
	// carries none, as in S3, or clients would check it against the range.
	// A part of a multipart object is partial even when it is the only one.
	whole := kind != rangeOK || (partNumber > 0 && obj.PartSizes == nil)
	withChecksums := whole && strings.EqualFold(r.Header.Get("x-amz-checksum-mode"), "ENABLED")
	setObjectHeaders(hdr, obj, withChecksums)
	if obj.PartSizes != nil {
		hdr.Set("x-amz-mp-parts-count", strconv.Itoa(len(obj.PartSizes)))
	}
	setTaggingCount(hdr, obj.Tags)
	for _, o := range responseOverrides {
		if v, ok := query[o.param]; ok {
			hdr.Set(o.header, v[0])
		}
	}
	status := http.StatusOK
	offset, length := int64(0), obj.Size
	if kind == rangeOK {
		offset, length = br.start, br.length
		if length > 0 {
			status = http.StatusPartialContent
			hdr.Set("Content-Range", br.contentRange(obj.Size))
		}
	}
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead || length == 0 {
		w.WriteHeader(status)
		return nil
	}
	return h.streamContent(w, r, content, status, offset, length)
}

// partRange returns the byte range of part n of obj: for a multipart
// object, the part's bytes (a part beyond the count is InvalidPartNumber);
// for an object written in one PUT, part 1 is the whole object. An empty
// part has length 0 and is answered 200, as no byte range describes it.
func partRange(obj *ObjectInfo, n int) (byteRange, rangeKind, error) {
	sizes := obj.PartSizes
	if sizes == nil {
		sizes = []int64{obj.Size}
	}
	if n > len(sizes) {
		return byteRange{}, rangeNone, &s3err.Error{
			Code:    s3err.ErrInvalidPartNumber,
			Message: fmt.Sprintf("The requested partnumber is not satisfiable: the object has %d parts.", len(sizes)),
		}
	}
	var start int64
	for _, sz := range sizes[:n-1] {
		start += sz
	}
	if sizes[n-1] < 0 || start+sizes[n-1] > obj.Size {
		return byteRange{}, rangeNone, fmt.Errorf("part %d: part sizes %v do not fit the object size %d", n, sizes, obj.Size)
	}
	return byteRange{start: start, length: sizes[n-1]}, rangeOK, nil
}

// streamContent writes length bytes of content from offset with status.
// The first read happens before the status is sent, so that content that
// cannot be retrieved is still answered with an S3 error. Once the status
// is sent, a content read that fails aborts the response (abortResponse):
// the client sees a truncated body, never a complete-looking one.
func (h *Handler) streamContent(w http.ResponseWriter, r *http.Request, content Content, status int, offset, length int64) error {
	rc, err := content.Open(r.Context(), offset, length)
	if err != nil {
		return fmt.Errorf("open content: %w", err)
	}
	defer rc.Close()
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	n, err := io.ReadAtLeast(rc, buf[:min(int64(len(buf)), length)], 1)
	if err != nil {
		return fmt.Errorf("read content: %w", err)
	}
	w.WriteHeader(status)
	if _, err := w.Write(buf[:n]); err != nil {
		return fmt.Errorf("write content: %w", err)
	}
	rest := length - int64(n)
	for rest > 0 {
		k, rerr := rc.Read(buf[:min(int64(len(buf)), rest)])
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return fmt.Errorf("write content: %w", err)
			}
			rest -= int64(k)
		}
		if rerr == nil || rest == 0 {
			continue
		}
		if errors.Is(rerr, io.EOF) {
			rerr = io.ErrUnexpectedEOF
		}
		// The status is sent: the edge (ServeHTTP) aborts the response.
		return fmt.Errorf("stream content: %d bytes short: %w", rest, rerr)
	}
	return nil
}

// setObjectHeaders sets the headers describing obj: ETag, Last-Modified,
// the stored Content-* headers, Cache-Control, Expires, user metadata, the
// CID, and the stored checksums when withChecksums.
func setObjectHeaders(hdr http.Header, obj *ObjectInfo, withChecksums bool) {
	hdr.Set("ETag", quoteETag(obj.ETag))
	hdr.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
	hdr.Set("Accept-Ranges", "bytes")
	md := obj.Metadata
	ct := md.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	hdr.Set("Content-Type", ct)
	for _, kv := range [][2]string{
		{"Content-Encoding", md.ContentEncoding},
		{"Content-Disposition", md.ContentDisposition},
		{"Content-Language", md.ContentLanguage},
		{"Cache-Control", md.CacheControl},
		{"Expires", md.Expires},
	} {
		if kv[1] != "" {
			hdr.Set(kv[0], kv[1])
		}
	}
	for k, v := range md.User {
		// Set the name as stored (lower case), bypassing Go's
		// canonical form: S3 answers x-amz-meta-* names in lower case,
		// and clients hand them to users as they arrive.
		hdr["x-amz-meta-"+k] = []string{v}
	}
	if obj.CID != "" {
		hdr.Set(cidHeader, obj.CID)
	}
	if withChecksums {
		for name, v := range obj.Checksums {
			if alg, err := checksum.ParseAlgorithm(name); err == nil {
				hdr.Set(alg.HeaderName(), v)
			}
		}
		if t := checksumType(obj.Checksums); t != "" {
			hdr.Set("x-amz-checksum-type", t)
		}
	}
}
