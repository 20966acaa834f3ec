package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"s3mesh/s3api/s3err"
)

// maxListKeys is the most entries a listing page returns.
const maxListKeys = 1000

// listBucketResult is the body of a ListObjects (V1) or ListObjectsV2
// response; fields of the other version are omitted.
type listBucketResult struct {
	XMLName               xml.Name          `xml:"ListBucketResult"`
	NS                    string            `xml:"xmlns,attr"`
	Name                  string            `xml:"Name"`
	Prefix                string            `xml:"Prefix"`
	Marker                *string           `xml:"Marker,omitempty"`
	NextMarker            string            `xml:"NextMarker,omitempty"`
	ContinuationToken     string            `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string            `xml:"NextContinuationToken,omitempty"`
	StartAfter            string            `xml:"StartAfter,omitempty"`
	KeyCount              *int              `xml:"KeyCount,omitempty"`
	MaxKeys               int               `xml:"MaxKeys"`
	Delimiter             string            `xml:"Delimiter,omitempty"`
	EncodingType          string            `xml:"EncodingType,omitempty"`
	IsTruncated           bool              `xml:"IsTruncated"`
	Contents              []objectXML       `xml:"Contents"`
	CommonPrefixes        []commonPrefixXML `xml:"CommonPrefixes"`
}

type objectXML struct {
	Key          string    `xml:"Key"`
	LastModified string    `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Size         int64     `xml:"Size"`
	Owner        *ownerXML `xml:"Owner,omitempty"`
	StorageClass string    `xml:"StorageClass"`
}

type commonPrefixXML struct {
	Prefix string `xml:"Prefix"`
}

// listParams are the parameters common to both listing versions.
type listParams struct {
	prefix, delimiter string
	maxKeys           int
	encodeURL         bool
}

// parseListParams reads prefix, delimiter, max-keys (default and cap 1000;
// a value that is not a non-negative integer is InvalidArgument) and
// encoding-type (only "url"; anything else is InvalidArgument).
func parseListParams(q url.Values) (listParams, error) {
	p := listParams{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), maxKeys: maxListKeys}
	if vs, ok := q["max-keys"]; ok {
		n, err := strconv.Atoi(vs[0])
		if err != nil || n < 0 {
			return p, errInvalidArgument("Provided max-keys not an integer or within integer range.")
		}
		p.maxKeys = min(n, maxListKeys)
	}
	if vs, ok := q["encoding-type"]; ok {
		if !strings.EqualFold(vs[0], "url") {
			return p, errInvalidArgument("Invalid Encoding Method specified in Request.")
		}
		p.encodeURL = true
	}
	return p, nil
}

// list runs one page of a listing; max-keys=0 yields an empty,
// untruncated page without asking the store (beyond the bucket's
// existence).
func (h *Handler) list(r *http.Request, p listParams, after string) (*ListObjectsResult, error) {
	bucket := info(r).bucket
	if p.maxKeys == 0 {
		if _, err := h.store.HeadBucket(r.Context(), bucket); err != nil {
			return nil, err
		}
		return &ListObjectsResult{}, nil
	}
	return h.store.ListObjects(r.Context(), ListObjectsInput{
		Bucket: bucket, Prefix: p.prefix, Delimiter: p.delimiter, After: after, MaxKeys: p.maxKeys,
	})
}

// fill sets the entries of a response from a store result.
func (h *Handler) fill(res *listBucketResult, lr *ListObjectsResult, p listParams, withOwner bool) {
	enc := func(s string) string { return s }
	if p.encodeURL {
		enc = s3URLEncode
		res.EncodingType = "url"
	}
	res.Prefix = enc(p.prefix)
	res.Delimiter = enc(p.delimiter)
	res.MaxKeys = p.maxKeys
	res.IsTruncated = lr.IsTruncated
	res.Contents = make([]objectXML, 0, len(lr.Objects))
	for _, o := range lr.Objects {
		ox := objectXML{
			Key:          enc(o.Key),
			LastModified: xmlTime(o.LastModified),
			ETag:         quoteETag(o.ETag),
			Size:         o.Size,
			StorageClass: "STANDARD",
		}
		if withOwner {
			ow := h.owner()
			ox.Owner = &ow
		}
		res.Contents = append(res.Contents, ox)
	}
	for _, cp := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefixXML{Prefix: enc(cp)})
	}
}

// handleListObjects serves ListObjects (V1). NextMarker is returned, as in
// S3, only with a delimiter; without one a client continues from the last
// key.
func (h *Handler) handleListObjects(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r.URL.RawQuery)
	p, err := parseListParams(q)
	if err != nil {
		return err
	}
	marker := q.Get("marker")
	lr, err := h.list(r, p, marker)
	if err != nil {
		return err
	}
	res := listBucketResult{NS: xmlNS, Name: info(r).bucket}
	h.fill(&res, lr, p, true)
	m := marker
	if p.encodeURL {
		m = s3URLEncode(marker)
	}
	res.Marker = &m
	if lr.IsTruncated && p.delimiter != "" {
		res.NextMarker = lr.NextAfter
		if p.encodeURL {
			res.NextMarker = s3URLEncode(lr.NextAfter)
		}
	}
	return writeXML(w, res)
}

// handleListObjectsV2 serves ListObjectsV2. The continuation token is the
// opaque (base64) form of the key to continue after; when given, it takes
// precedence over start-after.
func (h *Handler) handleListObjectsV2(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r.URL.RawQuery)
	p, err := parseListParams(q)
	if err != nil {
		return err
	}
	startAfter := q.Get("start-after")
	after := startAfter
	token, hasToken := q["continuation-token"]
	if hasToken && token[0] == "" {
		// An empty token is treated as absent (some SDKs send one).
		hasToken = false
	}
	if hasToken {
		if after, err = decodeContinuationToken(token[0]); err != nil {
			return err
		}
	}
	lr, err := h.list(r, p, after)
	if err != nil {
		return err
	}
	res := listBucketResult{NS: xmlNS, Name: info(r).bucket}
	h.fill(&res, lr, p, q.Get("fetch-owner") == "true")
	n := len(lr.Objects) + len(lr.CommonPrefixes)
	res.KeyCount = &n
	if hasToken {
		res.ContinuationToken = token[0]
	}
	res.StartAfter = startAfter
	if p.encodeURL {
		res.StartAfter = s3URLEncode(startAfter)
	}
	if lr.IsTruncated {
		res.NextContinuationToken = encodeContinuationToken(lr.NextAfter)
	}
	return writeXML(w, res)
}

// encodeContinuationToken returns the opaque token for continuing after
// key.
func encodeContinuationToken(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// decodeContinuationToken returns the key a continuation token continues
// after; a token this server did not issue is InvalidArgument.
func decodeContinuationToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || tok == "" || !utf8.Valid(b) || len(b) > maxKeyLength {
		return "", &s3err.Error{Code: s3err.ErrInvalidArgument, Message: "The continuation token provided is incorrect."}
	}
	return string(b), nil
}

// s3URLEncode encodes a listing value for encoding-type=url as S3 does:
// letters, digits, "-", "_", ".", "~" and "/" stay, every other byte
// (a space, a newline, any byte of a multi-byte character) is %XX: a space
// is "%20", never "+", which SDKs would decode as a plus sign.
func s3URLEncode(s string) string {
	var b strings.Builder
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
