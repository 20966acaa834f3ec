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
	if v, ok := query["versionId"]; ok && v[0] != "null" {
		return errInvalidArgument("Invalid version id specified.")
	}
	if _, ok := query["partNumber"]; ok {
		return s3err.New(s3err.ErrNotImplemented, "The partNumber parameter is not implemented.")
	}
	var (
		obj     *ObjectInfo
		content Content
		err     error
	)
	if r.Method == http.MethodHead {
		obj, err = h.store.HeadObject(r.Context(), ri.bucket, ri.key)
	} else {
		obj, content, err = h.store.GetObject(r.Context(), ri.bucket, ri.key)
	}
	if err != nil {
		return err
	}
	hdr := w.Header()
	if err := checkReadConditions(r.Header, obj.ETag, obj.LastModified); err != nil {
		if errors.Is(err, s3err.ErrNotModified) {
			hdr.Set("ETag", quoteETag(obj.ETag))
			hdr.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
		}
		return err
	}
	br, kind := parseRange(r.Header.Get("Range"), obj.Size)
	if kind == rangeUnsatisfiable {
		return &s3err.Error{
			Code:   s3err.ErrInvalidRange,
			Header: map[string]string{"Content-Range": "bytes */" + strconv.FormatInt(obj.Size, 10)},
		}
	}
	// A stored checksum covers the whole object: a partial response
	// carries none, as in S3, or clients would check it against the range.
	withChecksums := kind != rangeOK && strings.EqualFold(r.Header.Get("x-amz-checksum-mode"), "ENABLED")
	setObjectHeaders(hdr, obj, withChecksums)
	for _, o := range responseOverrides {
		if v, ok := query[o.param]; ok {
			hdr.Set(o.header, v[0])
		}
	}
	status := http.StatusOK
	offset, length := int64(0), obj.Size
	if kind == rangeOK {
		status = http.StatusPartialContent
		offset, length = br.start, br.length
		hdr.Set("Content-Range", br.contentRange(obj.Size))
	}
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead || length == 0 {
		w.WriteHeader(status)
		return nil
	}
	return streamContent(w, r, content, status, offset, length)
}

// streamContent writes length bytes of content from offset with status.
// The first read happens before the status is sent, so that content that
// cannot be retrieved is still answered with an S3 error.
func streamContent(w http.ResponseWriter, r *http.Request, content Content, status int, offset, length int64) error {
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
	if rest == 0 {
		return nil
	}
	copied, err := io.CopyBuffer(writerOnly{w}, io.LimitReader(rc, rest), buf)
	if err != nil {
		return fmt.Errorf("stream content: %w", err)
	}
	if copied != rest {
		return fmt.Errorf("stream content: %w", io.ErrUnexpectedEOF)
	}
	return nil
}

// writerOnly hides a writer's ReadFrom, so io.CopyBuffer uses the pooled
// buffer.
type writerOnly struct{ io.Writer }

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
		hdr[http.CanonicalHeaderKey("x-amz-meta-"+k)] = []string{v}
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
		if len(obj.Checksums) > 0 {
			hdr.Set("x-amz-checksum-type", "FULL_OBJECT")
		}
	}
}
