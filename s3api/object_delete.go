package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"

	"s3mesh/s3api/internal/checksum"
	"s3mesh/s3api/s3err"
)

const (
	// maxDeleteObjects is the most keys one DeleteObjects request names.
	maxDeleteObjects = 1000
	// maxDeleteObjectsBody bounds a DeleteObjects request body: 1000 keys
	// of 1024 bytes, each escaped, with room for the markup.
	maxDeleteObjectsBody = 2 << 20
)

// handleDeleteObject serves DeleteObject. Deleting a missing key succeeds.
func (h *Handler) handleDeleteObject(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	versionID, err := h.versionIDParam(r)
	if err != nil {
		return err
	}
	if r.Header.Get("If-Match") != "" || r.Header.Get("If-None-Match") != "" {
		// A conditional delete must not become an unconditional one.
		return s3err.New(s3err.ErrNotImplemented, "Conditional deletes (If-Match) are not supported by this node.")
	}
	obj, err := h.deleteObject(r, ri.bucket, ri.key, versionID)
	if err != nil {
		return err
	}
	setVersionHeaders(w.Header(), obj)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteObject deletes key, or one version of it, and returns what the
// store reports deleted or wrote (a delete marker); nil from a store
// without versions.
func (h *Handler) deleteObject(r *http.Request, bucket, key, versionID string) (*ObjectInfo, error) {
	if vs := h.versioningStore(); vs != nil {
		return vs.DeleteObjectVersion(r.Context(), bucket, key, versionID)
	}
	if versionID != "" && versionID != "null" {
		return nil, errInvalidArgument("Invalid version id specified.")
	}
	return nil, h.store.DeleteObject(r.Context(), bucket, key)
}

// deleteRequest is the body of a DeleteObjects request.
type deleteRequest struct {
	XMLName xml.Name       `xml:"Delete"`
	Quiet   bool           `xml:"Quiet"`
	Objects []deleteObject `xml:"Object"`
}

type deleteObject struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId"`
}

// deleteResult is the body of a DeleteObjects response.
type deleteResult struct {
	XMLName xml.Name         `xml:"DeleteResult"`
	NS      string           `xml:"xmlns,attr"`
	Deleted []deletedXML     `xml:"Deleted"`
	Errors  []deleteErrorXML `xml:"Error"`
}

type deletedXML struct {
	Key                   string `xml:"Key"`
	VersionID             string `xml:"VersionId,omitempty"`
	DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
	DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
}

type deleteErrorXML struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
}

// parseDeleteRequest parses and checks a DeleteObjects body: 1 to 1000
// objects, or MalformedXML.
func parseDeleteRequest(data []byte) (*deleteRequest, error) {
	var req deleteRequest
	if err := decodeXML(data, &req); err != nil {
		return nil, err
	}
	if len(req.Objects) == 0 || len(req.Objects) > maxDeleteObjects {
		return nil, s3err.New(s3err.ErrMalformedXML,
			fmt.Sprintf("A Delete request names 1 to %d objects; this one names %d.", maxDeleteObjects, len(req.Objects)))
	}
	return &req, nil
}

// verifyDeleteBody checks the integrity header DeleteObjects requires:
// Content-MD5 or an x-amz-checksum-* header (or a checksum trailer, which
// the signature reader has verified already).
func verifyDeleteBody(r *http.Request, ri *reqInfo, data []byte) error {
	present, err := verifyBodyChecksums(r.Header, data)
	if err != nil {
		return err
	}
	trailer := ri.auth != nil && ri.auth.TrailerChecksum != ""
	if !present && !trailer {
		return s3err.New(s3err.ErrInvalidRequest, "Missing required header for this request: Content-MD5")
	}
	return nil
}

// verifyBodyChecksums checks a buffered request body against its
// Content-MD5 and x-amz-checksum-* headers, when present (BadDigest on a
// mismatch); present reports whether there was one.
func verifyBodyChecksums(hdr http.Header, data []byte) (present bool, err error) {
	sum, err := parseContentMD5(hdr)
	if err != nil {
		return false, err
	}
	if sum != nil {
		got := md5.Sum(data)
		if !bytes.Equal(got[:], sum) {
			return true, s3err.ErrBadDigest
		}
	}
	alg, want, found, err := checksum.FromHeaders(hdr)
	if err != nil {
		return false, err
	}
	if found {
		vr, err := checksum.NewVerifyingReader(bytes.NewReader(data), alg, want)
		if err != nil {
			return true, err
		}
		if _, err := io.Copy(io.Discard, vr); err != nil {
			return true, err
		}
	}
	return sum != nil || found, nil
}

// handleDeleteObjects serves DeleteObjects: each key is deleted on its own
// and reported as deleted or with its error; Quiet reports errors only.
func (h *Handler) handleDeleteObjects(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	data, err := readLimited(r.Body, maxDeleteObjectsBody)
	if err != nil {
		return err
	}
	if err := verifyDeleteBody(r, ri, data); err != nil {
		return err
	}
	req, err := parseDeleteRequest(data)
	if err != nil {
		return err
	}
	if _, err := h.store.HeadBucket(r.Context(), ri.bucket); err != nil {
		return err
	}
	res := deleteResult{NS: xmlNS}
	for _, o := range req.Objects {
		obj, err := h.deleteOne(r, ri.bucket, o)
		if err != nil {
			e := h.classify(r, err)
			switch e.Code {
			case s3err.ErrNoSuchBucket, s3err.ErrClientClosed, s3err.ErrServiceUnavailable:
				return err
			case s3err.ErrInternalError:
				ri.errDetail = err
			}
			res.Errors = append(res.Errors, deleteErrorXML{Key: o.Key, VersionID: o.VersionID, Code: string(e.Code), Message: e.ClientMessage()})
			continue
		}
		if !req.Quiet {
			d := deletedXML{Key: o.Key, VersionID: o.VersionID}
			if obj != nil && obj.DeleteMarker {
				d.DeleteMarker = true
				if o.VersionID == "" {
					d.DeleteMarkerVersionID = obj.VersionID
				}
			}
			res.Deleted = append(res.Deleted, d)
		}
	}
	return writeXML(w, res)
}

// deleteOne deletes one key, or one version, of a DeleteObjects request.
func (h *Handler) deleteOne(r *http.Request, bucket string, o deleteObject) (*ObjectInfo, error) {
	if o.Key == "" {
		return nil, s3err.New(s3err.ErrInvalidArgument, "An object key must not be empty.")
	}
	if err := validKey(o.Key); err != nil {
		return nil, err
	}
	if o.VersionID != "" && o.VersionID != "null" && (h.versioningStore() == nil || len(o.VersionID) > 1024) {
		return nil, s3err.New(s3err.ErrInvalidArgument, "Invalid version id specified.")
	}
	return h.deleteObject(r, bucket, o.Key, o.VersionID)
}
