package s3api

import (
	"encoding/xml"
	"net/http"

	"s3mesh/s3api/s3err"
)

// maxVersioningBody bounds a PutBucketVersioning request body.
const maxVersioningBody = 4 << 10

// versioningStore returns the store's VersioningStore role, or nil.
func (h *Handler) versioningStore() VersioningStore {
	vs, _ := h.store.(VersioningStore)
	return vs
}

// versionIDParam returns the versionId query parameter: "" when absent.
// An empty or over-long value is InvalidArgument; so is any value but
// "null" when the store does not version.
func (h *Handler) versionIDParam(r *http.Request) (string, error) {
	v, ok := parseQuery(r.URL.RawQuery)["versionId"]
	if !ok {
		return "", nil
	}
	id := v[0]
	if id == "" || len(id) > 1024 || (id != "null" && h.versioningStore() == nil) {
		return "", errInvalidArgument("Invalid version id specified.")
	}
	return id, nil
}

// setVersionHeaders sets x-amz-version-id (when the store reported one) and
// x-amz-delete-marker.
func setVersionHeaders(hdr http.Header, obj *ObjectInfo) {
	if obj == nil {
		return
	}
	if obj.VersionID != "" {
		hdr.Set("x-amz-version-id", obj.VersionID)
	}
	if obj.DeleteMarker {
		hdr.Set("x-amz-delete-marker", "true")
	}
}

// deleteMarkerError is the answer to a read of a delete marker: 405 when
// the request named the marker's version, else 404 NoSuchKey; both carry
// the marker's headers.
func deleteMarkerError(obj *ObjectInfo, named bool, cause error) error {
	e := &s3err.Error{Code: s3err.ErrNoSuchKey, Err: cause, Header: map[string]string{"x-amz-delete-marker": "true"}}
	if named {
		e.Code = s3err.ErrMethodNotAllowed
		e.Header["Last-Modified"] = obj.LastModified.UTC().Format(http.TimeFormat)
		e.Header["Allow"] = "DELETE"
	}
	if obj.VersionID != "" {
		e.Header["x-amz-version-id"] = obj.VersionID
	}
	return e
}

// handlePutBucketVersioning serves PutBucketVersioning: Status Enabled or
// Suspended. MFA Delete is not supported: asking to enable it is
// NotImplemented.
func (h *Handler) handlePutBucketVersioning(w http.ResponseWriter, r *http.Request) error {
	vs := h.versioningStore()
	if vs == nil {
		return s3err.New(s3err.ErrNotImplemented, "Bucket versioning is not supported by this store.")
	}
	var cfg versioningConfigurationIn
	if _, err := readXMLBody(r.Body, maxVersioningBody, true, &cfg); err != nil {
		return err
	}
	if cfg.MFADelete == "Enabled" {
		return s3err.New(s3err.ErrNotImplemented, "MFA Delete is not supported by this node.")
	}
	if cfg.MFADelete != "" && cfg.MFADelete != "Disabled" {
		return s3err.New(s3err.ErrMalformedXML, "MfaDelete is Enabled or Disabled.")
	}
	if cfg.Status != VersioningEnabled && cfg.Status != VersioningSuspended {
		return s3err.New(s3err.ErrMalformedXML, "The versioning Status is Enabled or Suspended.")
	}
	if err := vs.PutBucketVersioning(r.Context(), info(r).bucket, cfg.Status); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// versioningConfigurationIn is the body of a PutBucketVersioning request.
type versioningConfigurationIn struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	Status    string   `xml:"Status"`
	MFADelete string   `xml:"MfaDelete"`
}

// handleGetBucketVersioning serves GetBucketVersioning: a bucket whose
// versioning was never set has a configuration without a Status.
func (h *Handler) handleGetBucketVersioning(w http.ResponseWriter, r *http.Request) error {
	bucket := info(r).bucket
	if vs := h.versioningStore(); vs != nil {
		status, err := vs.GetBucketVersioning(r.Context(), bucket)
		if err != nil {
			return err
		}
		return writeXML(w, versioningConfiguration{NS: xmlNS, Status: status})
	}
	if _, err := h.store.HeadBucket(r.Context(), bucket); err != nil {
		return err
	}
	return writeXML(w, versioningConfiguration{NS: xmlNS})
}

// listVersionsResult is the body of a ListObjectVersions response.
type listVersionsResult struct {
	XMLName             xml.Name          `xml:"ListVersionsResult"`
	NS                  string            `xml:"xmlns,attr"`
	Name                string            `xml:"Name"`
	Prefix              string            `xml:"Prefix"`
	KeyMarker           string            `xml:"KeyMarker"`
	VersionIDMarker     string            `xml:"VersionIdMarker"`
	NextKeyMarker       string            `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string            `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int               `xml:"MaxKeys"`
	Delimiter           string            `xml:"Delimiter,omitempty"`
	EncodingType        string            `xml:"EncodingType,omitempty"`
	IsTruncated         bool              `xml:"IsTruncated"`
	Entries             []versionEntryXML `xml:",any"`
	CommonPrefixes      []commonPrefixXML `xml:"CommonPrefixes"`
}

// versionEntryXML is a <Version> or a <DeleteMarker>, in listing order.
type versionEntryXML struct {
	XMLName      xml.Name
	Key          string   `xml:"Key"`
	VersionID    string   `xml:"VersionId"`
	IsLatest     bool     `xml:"IsLatest"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag,omitempty"`
	Size         *int64   `xml:"Size,omitempty"`
	Owner        ownerXML `xml:"Owner"`
	StorageClass string   `xml:"StorageClass,omitempty"`
}

// handleListObjectVersions serves ListObjectVersions. A store without the
// VersioningStore role lists each object as its null version.
func (h *Handler) handleListObjectVersions(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r.URL.RawQuery)
	p, err := parseListParams(q)
	if err != nil {
		return err
	}
	in := ListObjectVersionsInput{
		Bucket: info(r).bucket, Prefix: p.prefix, Delimiter: p.delimiter,
		KeyMarker: q.Get("key-marker"), VersionIDMarker: q.Get("version-id-marker"), MaxKeys: p.maxKeys,
	}
	if in.VersionIDMarker != "" && in.KeyMarker == "" {
		return errInvalidArgument("A version-id marker cannot be specified without a key marker.")
	}
	var res *ListObjectVersionsResult
	switch vs := h.versioningStore(); {
	case p.maxKeys == 0:
		if _, err := h.store.HeadBucket(r.Context(), in.Bucket); err != nil {
			return err
		}
		res = &ListObjectVersionsResult{}
	case vs != nil:
		if res, err = vs.ListObjectVersions(r.Context(), in); err != nil {
			return err
		}
	default:
		if res, err = h.listNullVersions(r, in); err != nil {
			return err
		}
	}
	enc := func(s string) string { return s }
	out := listVersionsResult{NS: xmlNS, Name: in.Bucket, MaxKeys: p.maxKeys, IsTruncated: res.IsTruncated}
	if p.encodeURL {
		enc = s3URLEncode
		out.EncodingType = "url"
	}
	out.Prefix, out.Delimiter = enc(p.prefix), enc(p.delimiter)
	out.KeyMarker, out.VersionIDMarker = enc(in.KeyMarker), in.VersionIDMarker
	if res.IsTruncated {
		out.NextKeyMarker, out.NextVersionIDMarker = enc(res.NextKeyMarker), res.NextVersionIDMarker
	}
	for _, v := range res.Versions {
		e := versionEntryXML{
			Key: enc(v.Key), VersionID: v.VersionID, IsLatest: v.IsLatest,
			LastModified: xmlTime(v.LastModified), Owner: h.owner(),
		}
		if e.VersionID == "" {
			e.VersionID = "null"
		}
		if v.DeleteMarker {
			e.XMLName.Local = "DeleteMarker"
		} else {
			e.XMLName.Local = "Version"
			e.ETag = quoteETag(v.ETag)
			size := v.Size
			e.Size = &size
			e.StorageClass = "STANDARD"
		}
		out.Entries = append(out.Entries, e)
	}
	for _, cp := range res.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, commonPrefixXML{Prefix: enc(cp)})
	}
	return writeXML(w, out)
}

// listNullVersions lists a store without versions: each object is its
// key's null version, the latest.
func (h *Handler) listNullVersions(r *http.Request, in ListObjectVersionsInput) (*ListObjectVersionsResult, error) {
	after := in.KeyMarker
	if in.VersionIDMarker != "" && in.VersionIDMarker != "null" {
		return nil, errInvalidArgument("Invalid version id specified.")
	}
	lr, err := h.store.ListObjects(r.Context(), ListObjectsInput{
		Bucket: in.Bucket, Prefix: in.Prefix, Delimiter: in.Delimiter, After: after, MaxKeys: in.MaxKeys,
	})
	if err != nil {
		return nil, err
	}
	res := &ListObjectVersionsResult{CommonPrefixes: lr.CommonPrefixes, IsTruncated: lr.IsTruncated}
	for _, o := range lr.Objects {
		o.VersionID = "null"
		res.Versions = append(res.Versions, ObjectVersion{ObjectInfo: o, IsLatest: true})
	}
	if lr.IsTruncated {
		res.NextKeyMarker = lr.NextAfter
		if n := len(lr.Objects); n > 0 && lr.Objects[n-1].Key == lr.NextAfter {
			res.NextVersionIDMarker = "null"
		}
	}
	return res, nil
}
