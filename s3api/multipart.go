package s3api

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"s3mesh/s3api/internal/checksum"
	"s3mesh/s3api/s3err"
)

const (
	// maxCompleteBody bounds a CompleteMultipartUpload body: 10,000 parts,
	// each with an ETag and every checksum, with room for white space.
	maxCompleteBody = 8 << 20
	// maxListParts is the most parts or uploads a listing page returns.
	maxListParts = 1000
	// checksumComposite and checksumFullObject are the checksum types of a
	// multipart upload.
	checksumComposite  = "COMPOSITE"
	checksumFullObject = "FULL_OBJECT"
	// storageClass is the one storage class.
	storageClass = "STANDARD"
)

// checksumFieldsXML are the checksum elements of multipart and copy
// bodies; encoding/xml inlines them where embedded.
type checksumFieldsXML struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
}

// checksumFields returns the elements of a checksum map.
func checksumFields(m map[string]string) checksumFieldsXML {
	var c checksumFieldsXML
	for name, v := range m {
		a, err := checksum.ParseAlgorithm(name)
		if err != nil {
			continue
		}
		switch a {
		case checksum.CRC32:
			c.ChecksumCRC32 = v
		case checksum.CRC32C:
			c.ChecksumCRC32C = v
		case checksum.CRC64NVME:
			c.ChecksumCRC64NVME = v
		case checksum.SHA1:
			c.ChecksumSHA1 = v
		case checksum.SHA256:
			c.ChecksumSHA256 = v
		}
	}
	return c
}

// toMap returns the checksums set, by algorithm name.
func (c checksumFieldsXML) toMap() map[string]string {
	m := make(map[string]string)
	for _, kv := range [][2]string{
		{string(checksum.CRC32), c.ChecksumCRC32},
		{string(checksum.CRC32C), c.ChecksumCRC32C},
		{string(checksum.CRC64NVME), c.ChecksumCRC64NVME},
		{string(checksum.SHA1), c.ChecksumSHA1},
		{string(checksum.SHA256), c.ChecksumSHA256},
	} {
		if v := strings.TrimSpace(kv[1]); v != "" {
			m[kv[0]] = v
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// checksumType returns the type of an object's stored checksums: COMPOSITE
// when a value carries a part count ("…-N"), else FULL_OBJECT; "" when
// there are none.
func checksumType(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	for _, v := range m {
		if strings.Contains(v, "-") {
			return checksumComposite
		}
	}
	return checksumFullObject
}

type initiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

// completeMultipartUpload is the body of a CompleteMultipartUpload request.
type completeMultipartUpload struct {
	XMLName xml.Name          `xml:"CompleteMultipartUpload"`
	Parts   []completePartXML `xml:"Part"`
}

type completePartXML struct {
	PartNumber string `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
	checksumFieldsXML
}

type completeMultipartUploadResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
	checksumFieldsXML
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"CopyPartResult"`
	NS           string   `xml:"xmlns,attr"`
	ETag         string   `xml:"ETag"`
	LastModified string   `xml:"LastModified"`
	checksumFieldsXML
}

type listPartsResult struct {
	XMLName              xml.Name  `xml:"ListPartsResult"`
	NS                   string    `xml:"xmlns,attr"`
	Bucket               string    `xml:"Bucket"`
	Key                  string    `xml:"Key"`
	UploadID             string    `xml:"UploadId"`
	PartNumberMarker     int       `xml:"PartNumberMarker"`
	NextPartNumberMarker int       `xml:"NextPartNumberMarker"`
	MaxParts             int       `xml:"MaxParts"`
	IsTruncated          bool      `xml:"IsTruncated"`
	Parts                []partXML `xml:"Part"`
	Initiator            ownerXML  `xml:"Initiator"`
	Owner                ownerXML  `xml:"Owner"`
	StorageClass         string    `xml:"StorageClass"`
	ChecksumAlgorithm    string    `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType         string    `xml:"ChecksumType,omitempty"`
}

type partXML struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	checksumFieldsXML
}

type listMultipartUploadsResult struct {
	XMLName            xml.Name          `xml:"ListMultipartUploadsResult"`
	NS                 string            `xml:"xmlns,attr"`
	Bucket             string            `xml:"Bucket"`
	KeyMarker          string            `xml:"KeyMarker"`
	UploadIDMarker     string            `xml:"UploadIdMarker"`
	NextKeyMarker      string            `xml:"NextKeyMarker"`
	NextUploadIDMarker string            `xml:"NextUploadIdMarker"`
	Delimiter          string            `xml:"Delimiter,omitempty"`
	Prefix             string            `xml:"Prefix"`
	MaxUploads         int               `xml:"MaxUploads"`
	IsTruncated        bool              `xml:"IsTruncated"`
	Uploads            []uploadXML       `xml:"Upload"`
	CommonPrefixes     []commonPrefixXML `xml:"CommonPrefixes"`
	EncodingType       string            `xml:"EncodingType,omitempty"`
}

type uploadXML struct {
	Key          string   `xml:"Key"`
	UploadID     string   `xml:"UploadId"`
	Initiator    ownerXML `xml:"Initiator"`
	Owner        ownerXML `xml:"Owner"`
	StorageClass string   `xml:"StorageClass"`
	Initiated    string   `xml:"Initiated"`
}

// multipartStore returns the store's multipart role, or NotImplemented.
func (h *Handler) multipartStore(r *http.Request) (MultipartStore, error) {
	ms, ok := h.store.(MultipartStore)
	if !ok {
		return nil, notImplemented(r, info(r).op)
	}
	return ms, nil
}

// parsePartNumber parses a part number, 1..MaxParts, or InvalidArgument.
func parsePartNumber(s string) (int, error) {
	n, ok := parseDigits(strings.TrimSpace(s))
	if !ok || n < 1 || n > MaxParts {
		return 0, errInvalidArgument("Part number must be an integer between 1 and %d, inclusive.", MaxParts)
	}
	return int(n), nil
}

// uploadTarget reads the uploadId and, when withPart, the partNumber of a
// request.
func uploadTarget(r *http.Request, withPart bool) (uploadID string, part int, err error) {
	q := parseQuery(r.URL.RawQuery)
	uploadID = q.Get("uploadId")
	if withPart {
		if part, err = parsePartNumber(q.Get("partNumber")); err != nil {
			return "", 0, err
		}
	}
	return uploadID, part, nil
}

// parseChecksumAlgorithmHeaders reads x-amz-checksum-algorithm and
// x-amz-checksum-type of a CreateMultipartUpload. The type defaults to
// COMPOSITE, or FULL_OBJECT for CRC64NVME, which has no composite form;
// FULL_OBJECT needs a CRC algorithm, and a type needs an algorithm.
func parseChecksumAlgorithmHeaders(hdr http.Header) (alg, typ string, err error) {
	rawAlg := strings.TrimSpace(hdr.Get("x-amz-checksum-algorithm"))
	rawType := strings.ToUpper(strings.TrimSpace(hdr.Get("x-amz-checksum-type")))
	if rawAlg == "" {
		if rawType != "" {
			return "", "", s3err.New(s3err.ErrInvalidRequest, "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
		}
		return "", "", nil
	}
	a, err := checksum.ParseAlgorithm(rawAlg)
	if err != nil {
		return "", "", s3err.New(s3err.ErrInvalidRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	switch rawType {
	case "":
		rawType = checksumComposite
		if a == checksum.CRC64NVME {
			rawType = checksumFullObject
		}
	case checksumComposite:
		if a == checksum.CRC64NVME {
			return "", "", s3err.New(s3err.ErrInvalidRequest, "The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm.")
		}
	case checksumFullObject:
		if _, ok := combinablePolys[a]; !ok {
			return "", "", s3err.New(s3err.ErrInvalidRequest, fmt.Sprintf("The FULL_OBJECT checksum type cannot be used with the %s checksum algorithm.", a))
		}
	default:
		return "", "", s3err.New(s3err.ErrInvalidRequest, "Value for x-amz-checksum-type header is invalid.")
	}
	return string(a), rawType, nil
}

// handleCreateMultipartUpload serves CreateMultipartUpload.
func (h *Handler) handleCreateMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	ms, err := h.multipartStore(r)
	if err != nil {
		return err
	}
	md, err := parseMetadata(r.Header)
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
	alg, typ, err := parseChecksumAlgorithmHeaders(r.Header)
	if err != nil {
		return err
	}
	id, err := ms.CreateMultipartUpload(r.Context(), &CreateMultipartUploadInput{
		Bucket: ri.bucket, Key: ri.key, Metadata: md, Tags: tags,
		ChecksumAlgorithm: alg, ChecksumType: typ,
	})
	if err != nil {
		return err
	}
	if alg != "" {
		w.Header().Set("x-amz-checksum-algorithm", alg)
		w.Header().Set("x-amz-checksum-type", typ)
	}
	return writeXML(w, initiateMultipartUploadResult{NS: xmlNS, Bucket: ri.bucket, Key: ri.key, UploadID: id})
}

// handleUploadPart serves UploadPart, with the body rules of PutObject.
func (h *Handler) handleUploadPart(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	ms, err := h.multipartStore(r)
	if err != nil {
		return err
	}
	uploadID, part, err := uploadTarget(r, true)
	if err != nil {
		return err
	}
	size, err := putSize(r, ri)
	if err != nil {
		return err
	}
	contentMD5, err := parseContentMD5(r.Header)
	if err != nil {
		return err
	}
	in := &UploadPartInput{
		Bucket: ri.bucket, Key: ri.key, UploadID: uploadID, PartNumber: part,
		Size: size, ContentMD5: contentMD5, Checksums: map[string]string{},
	}
	if in.Body, err = verifiedBody(r, ri, in.Checksums); err != nil {
		return err
	}
	pi, err := ms.UploadPart(r.Context(), in)
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("ETag", quoteETag(pi.ETag))
	setChecksumHeaders(hdr, in.Checksums)
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// parseCopySourceRange parses x-amz-copy-source-range, "bytes=first-last"
// with first <= last; offset and length are the range, or 0 and -1 when
// the header is absent. A malformed value is InvalidArgument.
func parseCopySourceRange(v string) (offset, length int64, err error) {
	if v == "" {
		return 0, -1, nil
	}
	bad := errInvalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok {
		return 0, 0, bad
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, bad
	}
	f, ok1 := parseDigits(first)
	l, ok2 := parseDigits(last)
	if !ok1 || !ok2 || l < f || l == 1<<63-1 {
		return 0, 0, bad
	}
	return f, l - f + 1, nil
}

// handleUploadPartCopy serves UploadPartCopy: the source's copy
// conditions are evaluated on its current version, and the store copies
// exactly that version.
func (h *Handler) handleUploadPartCopy(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	ms, err := h.multipartStore(r)
	if err != nil {
		return err
	}
	uploadID, part, err := uploadTarget(r, true)
	if err != nil {
		return err
	}
	src, err := parseCopySource(r.Header.Get(copySourceHeader))
	if err != nil {
		return err
	}
	offset, length, err := parseCopySourceRange(r.Header.Get("x-amz-copy-source-range"))
	if err != nil {
		return err
	}
	obj, err := h.headCopySource(r, src)
	if err != nil {
		return err
	}
	if err := checkCopySourceConditions(r.Header, obj); err != nil {
		return err
	}
	if length >= 0 && offset+length > obj.Size {
		return s3err.New(s3err.ErrInvalidRange,
			fmt.Sprintf("Range specified is not valid for source object of size: %d", obj.Size))
	}
	size := length
	if size < 0 {
		size = obj.Size
	}
	if size > maxObjectSize {
		return s3err.New(s3err.ErrEntityTooLarge, "A part copied from a source is at most 5 GiB; use x-amz-copy-source-range.")
	}
	pi, err := ms.UploadPartCopy(r.Context(), &UploadPartCopyInput{
		Bucket: ri.bucket, Key: ri.key, UploadID: uploadID, PartNumber: part,
		SourceBucket: src.bucket, SourceKey: src.key, SourceVersionID: h.sourceVersion(src), SourceETag: obj.ETag,
		Offset: offset, Length: length,
	})
	if err != nil {
		return err
	}
	return writeXML(w, copyPartResult{
		NS: xmlNS, ETag: quoteETag(pi.ETag), LastModified: xmlTime(pi.LastModified),
		checksumFieldsXML: checksumFields(pi.Checksums),
	})
}

// parseCompleteMultipartUpload parses a CompleteMultipartUpload body: 1 to
// MaxParts parts (else MalformedXML or InvalidArgument), each numbered
// 1..MaxParts (else InvalidArgument), in strictly ascending order (else
// InvalidPartOrder). ETags are returned unquoted.
func parseCompleteMultipartUpload(data []byte) ([]CompletedPart, error) {
	var req completeMultipartUpload
	if err := decodeXML(data, &req); err != nil {
		return nil, err
	}
	if len(req.Parts) == 0 {
		return nil, s3err.New(s3err.ErrMalformedXML, "The XML you provided did not list any part.")
	}
	if len(req.Parts) > MaxParts {
		return nil, errInvalidArgument("Part number must be an integer between 1 and %d, inclusive; the request lists %d parts.", MaxParts, len(req.Parts))
	}
	parts := make([]CompletedPart, len(req.Parts))
	for i, p := range req.Parts {
		n, err := parsePartNumber(p.PartNumber)
		if err != nil {
			return nil, err
		}
		if i > 0 && n <= parts[i-1].PartNumber {
			return nil, s3err.New(s3err.ErrInvalidPartOrder, "The list of parts was not in ascending order. Parts must be ordered by part number.")
		}
		parts[i] = CompletedPart{PartNumber: n, ETag: unquoteETag(p.ETag), Checksums: p.toMap()}
	}
	return parts, nil
}

// errPartChecksum is the InvalidPart answered when a part's checksum in a
// CompleteMultipartUpload differs from the stored one.
func errPartChecksum(part int, alg string) error {
	return s3err.New(s3err.ErrInvalidPart,
		fmt.Sprintf("One or more of the specified parts could not be found: the %s checksum of part %d does not match the uploaded part.", alg, part))
}

// completion holds what the Finalize of a CompleteMultipartUpload checks
// the stored parts against.
type completion struct {
	// requested are the parts of the request, by part number.
	requested map[int]CompletedPart
	// objectChecksums are the whole-object checksums of the request's
	// x-amz-checksum-* header, nil for none.
	objectChecksums map[string]string
	// objectSize is x-amz-mp-object-size, -1 when absent.
	objectSize int64
}

// finalize checks the stored parts against the request (per-part
// checksums → InvalidPart; x-amz-mp-object-size → InvalidRequest) and
// computes the object's checksum: for COMPOSITE, the checksum of the
// concatenated binary part checksums followed by "-N"; for FULL_OBJECT,
// the CRC of the whole object, combined from the part CRCs and sizes. A
// whole-object checksum the request carries must match (else BadDigest).
func (c completion) finalize(parts []PartInfo, algorithm, typ string) (map[string]string, error) {
	var total int64
	for _, p := range parts {
		total += p.Size
		req, ok := c.requested[p.PartNumber]
		if !ok {
			continue
		}
		for name, v := range req.Checksums {
			if got, ok := p.Checksums[name]; !ok || got != v {
				return nil, errPartChecksum(p.PartNumber, name)
			}
		}
	}
	if c.objectSize >= 0 && c.objectSize != total {
		return nil, s3err.New(s3err.ErrInvalidRequest,
			fmt.Sprintf("The provided 'x-amz-mp-object-size' header value %d does not match what was computed: %d", c.objectSize, total))
	}
	if algorithm == "" {
		return nil, nil
	}
	alg, err := checksum.ParseAlgorithm(algorithm)
	if err != nil {
		return nil, fmt.Errorf("finalize: stored algorithm: %w", err)
	}
	sums := make([][]byte, len(parts))
	sizes := make([]int64, len(parts))
	for i, p := range parts {
		v, ok := p.Checksums[string(alg)]
		if !ok {
			return nil, s3err.New(s3err.ErrInvalidRequest,
				fmt.Sprintf("The upload was created using a %s checksum, but part %d was uploaded without one.", alg, p.PartNumber))
		}
		if sums[i], err = checksum.Decode(alg, v); err != nil {
			return nil, fmt.Errorf("finalize: part %d: stored checksum: %w", p.PartNumber, err)
		}
		sizes[i] = p.Size
	}
	var value string
	switch typ {
	case checksumFullObject:
		sum, err := combineCRCs(alg, sums, sizes)
		if err != nil {
			return nil, fmt.Errorf("finalize: %w", err)
		}
		value = checksum.Encode(sum)
	default:
		hs := alg.New()
		for _, s := range sums {
			hs.Write(s)
		}
		value = checksum.Encode(hs.Sum(nil)) + "-" + strconv.Itoa(len(parts))
	}
	if want, ok := c.objectChecksums[string(alg)]; ok {
		if base, _, _ := strings.Cut(want, "-"); base != strings.SplitN(value, "-", 2)[0] {
			return nil, s3err.New(s3err.ErrBadDigest, fmt.Sprintf("The %s you specified did not match the calculated checksum.", alg.HeaderName()))
		}
	}
	return map[string]string{string(alg): value}, nil
}

// handleCompleteMultipartUpload serves CompleteMultipartUpload. The
// response is sent once the object is committed.
func (h *Handler) handleCompleteMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	ms, err := h.multipartStore(r)
	if err != nil {
		return err
	}
	uploadID, _, err := uploadTarget(r, false)
	if err != nil {
		return err
	}
	conds, err := parsePutConditions(r.Header)
	if err != nil {
		return err
	}
	data, err := readLimited(r.Body, maxCompleteBody)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return s3err.New(s3err.ErrMalformedXML, "The XML you provided was empty.")
	}
	parts, err := parseCompleteMultipartUpload(data)
	if err != nil {
		return err
	}
	c := completion{requested: make(map[int]CompletedPart, len(parts)), objectSize: -1}
	for _, p := range parts {
		c.requested[p.PartNumber] = p
	}
	if alg, v, found, err := checksum.FromHeaders(r.Header); err != nil {
		return err
	} else if found {
		c.objectChecksums = map[string]string{string(alg): v}
	}
	if v := r.Header.Get("x-amz-mp-object-size"); v != "" {
		n, ok := parseDigits(strings.TrimSpace(v))
		if !ok {
			return errInvalidArgument("The x-amz-mp-object-size header must be a non-negative integer.")
		}
		c.objectSize = n
	}
	obj, err := ms.CompleteMultipartUpload(r.Context(), &CompleteMultipartUploadInput{
		Bucket: ri.bucket, Key: ri.key, UploadID: uploadID, Parts: parts,
		Conditions: conds, Finalize: c.finalize,
	})
	if err != nil {
		return err
	}
	setVersionHeaders(w.Header(), obj)
	if obj.CID != "" {
		w.Header().Set(cidHeader, obj.CID)
	}
	return writeXML(w, completeMultipartUploadResult{
		NS:                xmlNS,
		Location:          objectLocation(r, ri),
		Bucket:            ri.bucket,
		Key:               ri.key,
		ETag:              quoteETag(obj.ETag),
		checksumFieldsXML: checksumFields(obj.Checksums),
		ChecksumType:      checksumType(obj.Checksums),
	})
}

// objectLocation returns the URL of the object a request addresses, in the
// request's style.
func objectLocation(r *http.Request, ri *reqInfo) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	segs := strings.Split(ri.key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	path := "/" + strings.Join(segs, "/")
	if !ri.virtualHost {
		path = "/" + ri.bucket + path
	}
	return scheme + "://" + r.Host + path
}

// handleAbortMultipartUpload serves AbortMultipartUpload.
func (h *Handler) handleAbortMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	ms, err := h.multipartStore(r)
	if err != nil {
		return err
	}
	uploadID, _, err := uploadTarget(r, false)
	if err != nil {
		return err
	}
	if err := ms.AbortMultipartUpload(r.Context(), ri.bucket, ri.key, uploadID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseMaxParam reads a page-size parameter: default and cap 1000; a value
// that is not a non-negative integer is InvalidArgument.
func parseMaxParam(q url.Values, name string) (int, error) {
	vs, ok := q[name]
	if !ok {
		return maxListParts, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(vs[0]))
	if err != nil || n < 0 {
		return 0, errInvalidArgument("Provided %s not an integer or within integer range.", name)
	}
	return min(n, maxListParts), nil
}

// handleListParts serves ListParts.
func (h *Handler) handleListParts(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	ms, err := h.multipartStore(r)
	if err != nil {
		return err
	}
	q := parseQuery(r.URL.RawQuery)
	uploadID := q.Get("uploadId")
	maxParts, err := parseMaxParam(q, "max-parts")
	if err != nil {
		return err
	}
	marker := 0
	if vs, ok := q["part-number-marker"]; ok && vs[0] != "" {
		n, ok := parseDigits(strings.TrimSpace(vs[0]))
		if !ok || n > MaxParts {
			return errInvalidArgument("Provided part-number-marker not an integer or within integer range.")
		}
		marker = int(n)
	}
	// max-parts=0 still asks the store, for the upload's existence.
	lr, err := ms.ListParts(r.Context(), ListPartsInput{
		Bucket: ri.bucket, Key: ri.key, UploadID: uploadID,
		PartNumberMarker: marker, MaxParts: max(maxParts, 1),
	})
	if err != nil {
		return err
	}
	res := listPartsResult{
		NS: xmlNS, Bucket: ri.bucket, Key: ri.key, UploadID: uploadID,
		PartNumberMarker: marker, MaxParts: maxParts,
		Initiator: h.owner(), Owner: h.owner(), StorageClass: storageClass,
		ChecksumAlgorithm: lr.ChecksumAlgorithm, ChecksumType: lr.ChecksumType,
		Parts: []partXML{},
	}
	if maxParts == 0 {
		res.IsTruncated = len(lr.Parts) > 0
		res.NextPartNumberMarker = marker
		return writeXML(w, res)
	}
	res.IsTruncated = lr.IsTruncated
	for _, p := range lr.Parts {
		res.Parts = append(res.Parts, partXML{
			PartNumber: p.PartNumber, LastModified: xmlTime(p.LastModified),
			ETag: quoteETag(p.ETag), Size: p.Size,
			checksumFieldsXML: checksumFields(p.Checksums),
		})
	}
	switch {
	case lr.IsTruncated && lr.NextPartNumberMarker > 0:
		res.NextPartNumberMarker = lr.NextPartNumberMarker
	case len(lr.Parts) > 0:
		res.NextPartNumberMarker = lr.Parts[len(lr.Parts)-1].PartNumber
	}
	return writeXML(w, res)
}

// handleListMultipartUploads serves ListMultipartUploads.
func (h *Handler) handleListMultipartUploads(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	ms, err := h.multipartStore(r)
	if err != nil {
		return err
	}
	q := parseQuery(r.URL.RawQuery)
	maxUploads, err := parseMaxParam(q, "max-uploads")
	if err != nil {
		return err
	}
	enc := func(s string) string { return s }
	encoding := ""
	if vs, ok := q["encoding-type"]; ok {
		if !strings.EqualFold(vs[0], "url") {
			return errInvalidArgument("Invalid Encoding Method specified in Request.")
		}
		enc, encoding = s3URLEncode, "url"
	}
	in := ListMultipartUploadsInput{
		Bucket: ri.bucket, Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"),
		KeyMarker: q.Get("key-marker"), UploadIDMarker: q.Get("upload-id-marker"),
		MaxUploads: maxUploads,
	}
	if in.KeyMarker == "" {
		// S3 ignores upload-id-marker without key-marker.
		in.UploadIDMarker = ""
	}
	res := listMultipartUploadsResult{
		NS: xmlNS, Bucket: ri.bucket, KeyMarker: enc(in.KeyMarker), UploadIDMarker: in.UploadIDMarker,
		Delimiter: enc(in.Delimiter), Prefix: enc(in.Prefix), MaxUploads: maxUploads, EncodingType: encoding,
	}
	var lr *ListMultipartUploadsResult
	if maxUploads == 0 {
		if _, err := h.store.HeadBucket(r.Context(), ri.bucket); err != nil {
			return err
		}
		lr = &ListMultipartUploadsResult{}
	} else if lr, err = ms.ListMultipartUploads(r.Context(), in); err != nil {
		return err
	}
	res.IsTruncated = lr.IsTruncated
	if lr.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = enc(lr.NextKeyMarker), lr.NextUploadIDMarker
	}
	for _, u := range lr.Uploads {
		res.Uploads = append(res.Uploads, uploadXML{
			Key: enc(u.Key), UploadID: u.UploadID, Initiator: h.owner(), Owner: h.owner(),
			StorageClass: storageClass, Initiated: xmlTime(u.Initiated),
		})
	}
	for _, cp := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefixXML{Prefix: enc(cp)})
	}
	return writeXML(w, res)
}
