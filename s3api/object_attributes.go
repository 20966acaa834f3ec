package s3api

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

// objectAttributes are the values of x-amz-object-attributes.
var objectAttributes = map[string]bool{"ETag": true, "Checksum": true, "ObjectParts": true, "StorageClass": true, "ObjectSize": true}

// getObjectAttributesResponse is the body of a GetObjectAttributes
// response; only the attributes asked for are present.
type getObjectAttributesResponse struct {
	XMLName      xml.Name         `xml:"GetObjectAttributesResponse"`
	NS           string           `xml:"xmlns,attr"`
	ETag         string           `xml:"ETag,omitempty"`
	Checksum     *checksumAttrXML `xml:"Checksum,omitempty"`
	ObjectParts  *objectPartsXML  `xml:"ObjectParts,omitempty"`
	StorageClass string           `xml:"StorageClass,omitempty"`
	ObjectSize   *int64           `xml:"ObjectSize,omitempty"`
}

type checksumAttrXML struct {
	checksumFieldsXML
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

type objectPartsXML struct {
	TotalPartsCount      int           `xml:"TotalPartsCount"`
	PartNumberMarker     int           `xml:"PartNumberMarker"`
	NextPartNumberMarker int           `xml:"NextPartNumberMarker"`
	MaxParts             int           `xml:"MaxParts"`
	IsTruncated          bool          `xml:"IsTruncated"`
	Parts                []partAttrXML `xml:"Part"`
}

type partAttrXML struct {
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
}

// parseObjectAttributes reads x-amz-object-attributes: one or more of
// objectAttributes, comma-separated (the header may repeat); none or an
// unknown one is InvalidArgument.
func parseObjectAttributes(hdr http.Header) (map[string]bool, error) {
	want := map[string]bool{}
	for _, v := range hdr.Values("x-amz-object-attributes") {
		for _, a := range strings.Split(v, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			if !objectAttributes[a] {
				return nil, errInvalidArgument("Invalid attribute name specified: %s", a)
			}
			want[a] = true
		}
	}
	if len(want) == 0 {
		return nil, errInvalidArgument("x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty.")
	}
	return want, nil
}

// handleGetObjectAttributes serves GetObjectAttributes: ETag, Checksum,
// ObjectParts (part numbers and sizes of a multipart object; the parts'
// own checksums are not kept), StorageClass and ObjectSize, of the current
// version or of versionId.
func (h *Handler) handleGetObjectAttributes(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	want, err := parseObjectAttributes(r.Header)
	if err != nil {
		return err
	}
	versionID, err := h.versionIDParam(r)
	if err != nil {
		return err
	}
	maxParts := MaxParts
	if v := r.Header.Get("x-amz-max-parts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("x-amz-max-parts must be a non-negative integer.")
		}
		maxParts = min(n, MaxParts)
	}
	marker := 0
	if v := r.Header.Get("x-amz-part-number-marker"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("x-amz-part-number-marker must be a non-negative integer.")
		}
		marker = n
	}
	var obj *ObjectInfo
	if vs := h.versioningStore(); vs != nil {
		obj, err = vs.HeadObjectVersion(r.Context(), ri.bucket, ri.key, versionID)
	} else {
		obj, err = h.store.HeadObject(r.Context(), ri.bucket, ri.key)
	}
	if obj != nil && obj.DeleteMarker {
		return deleteMarkerError(obj, versionID != "", err)
	}
	if err != nil {
		return err
	}
	hdr := w.Header()
	setVersionHeaders(hdr, obj)
	hdr.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
	res := getObjectAttributesResponse{NS: xmlNS}
	if want["ETag"] {
		res.ETag = obj.ETag
	}
	if want["Checksum"] && len(obj.Checksums) > 0 {
		res.Checksum = &checksumAttrXML{checksumFieldsXML: checksumFields(obj.Checksums), ChecksumType: checksumType(obj.Checksums)}
	}
	if want["ObjectParts"] && obj.PartSizes != nil {
		op := &objectPartsXML{TotalPartsCount: len(obj.PartSizes), PartNumberMarker: marker, MaxParts: maxParts}
		for i := marker; i < len(obj.PartSizes); i++ {
			if len(op.Parts) == maxParts {
				op.IsTruncated = true
				break
			}
			op.Parts = append(op.Parts, partAttrXML{PartNumber: i + 1, Size: obj.PartSizes[i]})
			op.NextPartNumberMarker = i + 1
		}
		res.ObjectParts = op
	}
	if want["StorageClass"] {
		res.StorageClass = "STANDARD"
	}
	if want["ObjectSize"] {
		size := obj.Size
		res.ObjectSize = &size
	}
	return writeXML(w, res)
}
