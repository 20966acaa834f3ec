package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"s3mesh/s3api/internal/checksum"
	"s3mesh/s3api/s3err"
)

// copySourceHeader names the source of a CopyObject or UploadPartCopy.
const copySourceHeader = "x-amz-copy-source"

// copySource is a parsed x-amz-copy-source.
type copySource struct {
	bucket, key string
	// versionID is the source's version, "" for the current one.
	versionID string
}

// parseCopySource parses x-amz-copy-source: "bucket/key" or "/bucket/key",
// URL-encoded, optionally followed by "?versionId=ID". The only version
// is "null" for a store without versions; another is then NoSuchVersion. A value that does not decode or
// names no bucket and key is InvalidArgument; an invalid bucket name or key
// is answered as for the request's own.
func parseCopySource(v string) (copySource, error) {
	bad := errInvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")
	raw, query, hasQuery := strings.Cut(v, "?")
	var versionID string
	if hasQuery {
		vals := parseQuery(query)
		if id, ok := vals["versionId"]; ok {
			if id[0] == "" || len(id[0]) > 1024 {
				return copySource{}, errInvalidArgument("Invalid version id specified.")
			}
			versionID = id[0]
		}
	}
	p, err := url.PathUnescape(strings.TrimPrefix(raw, "/"))
	if err != nil {
		return copySource{}, bad
	}
	bucket, key, ok := strings.Cut(p, "/")
	if !ok || bucket == "" || key == "" {
		return copySource{}, bad
	}
	if err := validBucketName(bucket); err != nil {
		return copySource{}, err
	}
	if err := validKey(key); err != nil {
		return copySource{}, err
	}
	return copySource{bucket: bucket, key: key, versionID: versionID}, nil
}

// copySourceConditions maps the x-amz-copy-source-if-* headers to the
// read conditions they mirror.
var copySourceConditions = [][2]string{
	{"x-amz-copy-source-if-match", "If-Match"},
	{"x-amz-copy-source-if-none-match", "If-None-Match"},
	{"x-amz-copy-source-if-modified-since", "If-Modified-Since"},
	{"x-amz-copy-source-if-unmodified-since", "If-Unmodified-Since"},
}

// hasCopySourceConditions reports whether the request carries an
// x-amz-copy-source-if-* header.
func hasCopySourceConditions(hdr http.Header) bool {
	for _, c := range copySourceConditions {
		if hdr.Get(c[0]) != "" {
			return true
		}
	}
	return false
}

// checkCopySourceConditions evaluates the x-amz-copy-source-if-* headers
// against the source object with the precedence of GetObject's
// conditions; any failure, including the ones a GET answers 304, is
// PreconditionFailed.
func checkCopySourceConditions(hdr http.Header, src *ObjectInfo) error {
	conds := make(http.Header, len(copySourceConditions))
	for _, c := range copySourceConditions {
		if v := hdr.Get(c[0]); v != "" {
			conds.Set(c[1], v)
		}
	}
	err := checkReadConditions(conds, src.ETag, src.LastModified)
	if errors.Is(err, s3err.ErrNotModified) {
		return s3err.ErrPreconditionFailed
	}
	return err
}

// parseDirective reads a COPY/REPLACE directive header; absent is COPY.
func parseDirective(hdr http.Header, name string) (replace bool, err error) {
	switch v := strings.ToUpper(strings.TrimSpace(hdr.Get(name))); v {
	case "", "COPY":
		return false, nil
	case "REPLACE":
		return true, nil
	default:
		return false, errInvalidArgument("Unknown %s value: %s.", name, v)
	}
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	NS           string   `xml:"xmlns,attr"`
	ETag         string   `xml:"ETag"`
	LastModified string   `xml:"LastModified"`
	ChecksumType string   `xml:"ChecksumType,omitempty"`
	checksumFieldsXML
}

// errCopyToItself is the InvalidRequest of a copy that changes nothing.
var errCopyToItself = s3err.New(s3err.ErrInvalidRequest,
	"This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")

// handleCopyObject serves CopyObject through the store's CopyStore role.
// With x-amz-metadata-directive REPLACE the object takes the request's
// metadata headers, with x-amz-tagging-directive REPLACE its x-amz-tagging;
// otherwise each is copied from the source. When the directives differ, or
// the request carries source conditions, the source is read first and the
// store copies exactly that version.
func (h *Handler) handleCopyObject(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	cs, ok := h.store.(CopyStore)
	if !ok {
		return notImplemented(r, ri.op)
	}
	src, err := parseCopySource(r.Header.Get(copySourceHeader))
	if err != nil {
		return err
	}
	if r.Header.Get("x-amz-copy-source-range") != "" {
		// S3 copies the whole source and ignores it; refusing is the
		// only answer that does not copy more than was asked.
		return errInvalidArgument("The x-amz-copy-source-range header applies to UploadPartCopy only; CopyObject copies the whole source.")
	}
	if err := checkCannedACL(r.Header); err != nil {
		return err
	}
	replaceMeta, err := parseDirective(r.Header, "x-amz-metadata-directive")
	if err != nil {
		return err
	}
	replaceTags, err := parseDirective(r.Header, "x-amz-tagging-directive")
	if err != nil {
		return err
	}
	// Copying a named version onto its key restores it: not a no-op.
	if src.bucket == ri.bucket && src.key == ri.key && src.versionID == "" && !replaceMeta && !replaceTags &&
		r.Header.Get("x-amz-storage-class") == "" {
		return errCopyToItself
	}
	conds, err := parsePutConditions(r.Header)
	if err != nil {
		return err
	}
	in := &CopyObjectInput{
		Bucket: ri.bucket, Key: ri.key, SourceBucket: src.bucket, SourceKey: src.key,
		SourceVersionID: h.sourceVersion(src), ReplaceMetadata: replaceMeta || replaceTags, Conditions: conds,
	}
	if replaceMeta {
		if in.Metadata, err = parseMetadata(r.Header); err != nil {
			return err
		}
	}
	if replaceTags {
		if in.Tags, err = parseTaggingHeader(r.Header); err != nil {
			return err
		}
	}
	wantAlg := strings.TrimSpace(r.Header.Get("x-amz-checksum-algorithm"))
	if src.versionID != "" && h.versioningStore() == nil && src.versionID != "null" {
		return s3err.New(s3err.ErrNoSuchVersion, "The specified version does not exist.")
	}
	if replaceMeta != replaceTags || hasCopySourceConditions(r.Header) || wantAlg != "" {
		obj, err := h.headCopySource(r, src)
		if err != nil {
			return err
		}
		if err := checkCopySourceConditions(r.Header, obj); err != nil {
			return err
		}
		if wantAlg != "" {
			if err := checkCopyChecksum(wantAlg, obj); err != nil {
				return err
			}
		}
		in.SourceETag = obj.ETag
		if !replaceMeta {
			in.Metadata = obj.Metadata
		}
		if !replaceTags {
			in.Tags = obj.Tags
		}
	}
	obj, err := cs.CopyObject(r.Context(), in)
	if err != nil {
		return err
	}
	setVersionHeaders(w.Header(), obj)
	if src.versionID != "" {
		w.Header().Set("x-amz-copy-source-version-id", src.versionID)
	}
	if obj.CID != "" {
		w.Header().Set(cidHeader, obj.CID)
	}
	return writeXML(w, copyObjectResult{
		NS: xmlNS, ETag: quoteETag(obj.ETag), LastModified: xmlTime(obj.LastModified),
		ChecksumType:      checksumType(obj.Checksums),
		checksumFieldsXML: checksumFields(obj.Checksums),
	})
}

// checkCopyChecksum accepts x-amz-checksum-algorithm on a copy when the
// source already has a checksum of that algorithm: content is never read
// to compute another.
func checkCopyChecksum(name string, src *ObjectInfo) error {
	alg, err := checksum.ParseAlgorithm(name)
	if err != nil {
		return s3err.New(s3err.ErrInvalidRequest, "Checksum algorithm provided is unsupported.")
	}
	if _, ok := src.Checksums[string(alg)]; !ok {
		return s3err.New(s3err.ErrNotImplemented, "Computing a new "+string(alg)+" checksum while copying is not supported; the source has none.")
	}
	return nil
}

// headCopySource returns the record of a copy source: its version when
// named (NoSuchVersion from a store without versions, InvalidRequest for a
// delete marker), else its current version.
func (h *Handler) headCopySource(r *http.Request, src copySource) (*ObjectInfo, error) {
	if src.versionID == "" {
		return h.store.HeadObject(r.Context(), src.bucket, src.key)
	}
	vs := h.versioningStore()
	if vs == nil {
		if src.versionID == "null" {
			return h.store.HeadObject(r.Context(), src.bucket, src.key)
		}
		return nil, s3err.New(s3err.ErrNoSuchVersion, "The specified version does not exist.")
	}
	obj, err := vs.HeadObjectVersion(r.Context(), src.bucket, src.key, src.versionID)
	if err == nil && obj.DeleteMarker {
		return nil, s3err.New(s3err.ErrInvalidRequest, "The source of a copy request may not specifically refer to a delete marker by version id.")
	}
	return obj, err
}

// sourceVersion is the version a store is asked to copy: "" for the current
// one, and for "null" from a store without versions.
func (h *Handler) sourceVersion(src copySource) string {
	if h.versioningStore() == nil {
		return ""
	}
	return src.versionID
}
