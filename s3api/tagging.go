package s3api

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"s3mesh/s3api/s3err"
)

const (
	// maxObjectTags is the most tags an object has.
	maxObjectTags = 10
	// maxTagKeyLength and maxTagValueLength bound a tag, in characters.
	maxTagKeyLength   = 128
	maxTagValueLength = 256
	// maxTaggingBody bounds a PutObjectTagging request body.
	maxTaggingBody = 64 << 10
	// taggingHeader carries an object's tags on a write, URL-query-encoded.
	taggingHeader = "x-amz-tagging"
)

// tagging is the body of GetObjectTagging and PutObjectTagging.
type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	TagSet  []tagXML `xml:"TagSet>Tag"`
}

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// errInvalidTag returns an InvalidTag error with a client-safe message.
func errInvalidTag(format string, args ...any) error {
	return s3err.New(s3err.ErrInvalidTag, fmt.Sprintf(format, args...))
}

// parseTaggingHeader reads the x-amz-tagging header of a write: tags
// encoded as a URL query ("k1=v1&k2=v2"). It returns nil when the header
// is absent or empty. A part that does not unescape is InvalidArgument; a
// repeated key or a tag set that breaks the limits is InvalidTag.
func parseTaggingHeader(hdr http.Header) (map[string]string, error) {
	raw := hdr.Get(taggingHeader)
	if raw == "" {
		return nil, nil
	}
	tags := make(map[string]string)
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		uk, err := url.QueryUnescape(k)
		if err != nil {
			return nil, errInvalidArgument("The header x-amz-tagging shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, errInvalidArgument("The header x-amz-tagging shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
		}
		if _, dup := tags[uk]; dup {
			return nil, errInvalidTag("Cannot provide multiple Tags with the same key.")
		}
		tags[uk] = uv
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	return tags, nil
}

// validateTags checks a tag set against the S3 limits: at most 10 tags,
// keys of 1 to 128 characters not starting with "aws:", values of at most
// 256 characters, all valid UTF-8.
func validateTags(tags map[string]string) error {
	if len(tags) > maxObjectTags {
		return errInvalidTag("Object tags cannot be greater than %d.", maxObjectTags)
	}
	for k, v := range tags {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return errInvalidTag("Tag keys and values must be valid UTF-8.")
		}
		if n := utf8.RuneCountInString(k); n == 0 || n > maxTagKeyLength {
			return errInvalidTag("The TagKey you have provided is invalid: it must be 1 to %d characters long.", maxTagKeyLength)
		}
		if utf8.RuneCountInString(v) > maxTagValueLength {
			return errInvalidTag("The TagValue you have provided is invalid: it must be at most %d characters long.", maxTagValueLength)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return errInvalidTag("Your TagKey cannot be prefixed with aws:.")
		}
	}
	return nil
}

// parseTaggingBody parses and validates a Tagging body.
func parseTaggingBody(data []byte) (map[string]string, error) {
	var t tagging
	if err := decodeXML(data, &t); err != nil {
		return nil, err
	}
	tags := make(map[string]string, len(t.TagSet))
	for _, tg := range t.TagSet {
		if _, dup := tags[tg.Key]; dup {
			return nil, errInvalidTag("Cannot provide multiple Tags with the same key.")
		}
		tags[tg.Key] = tg.Value
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	return tags, nil
}

// tagSet returns tags as a TagSet ordered by key.
func tagSet(tags map[string]string) []tagXML {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	set := make([]tagXML, 0, len(keys))
	for _, k := range keys {
		set = append(set, tagXML{Key: k, Value: tags[k]})
	}
	return set
}

// setTaggingCount sets x-amz-tagging-count when the object has tags.
func setTaggingCount(hdr http.Header, tags map[string]string) {
	if len(tags) > 0 {
		hdr.Set("x-amz-tagging-count", strconv.Itoa(len(tags)))
	}
}

// checkNullVersion rejects a versionId query parameter other than "null":
// no object has another version.
func checkNullVersion(r *http.Request) error {
	if v, ok := parseQuery(r.URL.RawQuery)["versionId"]; ok && v[0] != "null" {
		return errInvalidArgument("Invalid version id specified.")
	}
	return nil
}

// handleGetObjectTagging serves GetObjectTagging from the object's record.
func (h *Handler) handleGetObjectTagging(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	if err := checkNullVersion(r); err != nil {
		return err
	}
	obj, err := h.store.HeadObject(r.Context(), ri.bucket, ri.key)
	if err != nil {
		return err
	}
	return writeXML(w, tagging{NS: xmlNS, TagSet: tagSet(obj.Tags)})
}

// handlePutObjectTagging serves PutObjectTagging; it needs a TaggingStore.
func (h *Handler) handlePutObjectTagging(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	ts, ok := h.store.(TaggingStore)
	if !ok {
		return notImplemented(r, ri.op)
	}
	if err := checkNullVersion(r); err != nil {
		return err
	}
	data, err := readLimited(r.Body, maxTaggingBody)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return s3err.ErrMissingRequestBodyError
	}
	if _, err := verifyBodyChecksums(r.Header, data); err != nil {
		return err
	}
	tags, err := parseTaggingBody(data)
	if err != nil {
		return err
	}
	if _, err := ts.PutObjectTagging(r.Context(), ri.bucket, ri.key, tags); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// handleDeleteObjectTagging serves DeleteObjectTagging; it needs a
// TaggingStore.
func (h *Handler) handleDeleteObjectTagging(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	ts, ok := h.store.(TaggingStore)
	if !ok {
		return notImplemented(r, ri.op)
	}
	if err := checkNullVersion(r); err != nil {
		return err
	}
	if _, err := ts.PutObjectTagging(r.Context(), ri.bucket, ri.key, map[string]string{}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
