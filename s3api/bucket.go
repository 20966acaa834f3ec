package s3api

import (
	"encoding/xml"
	"net/http"
	"strings"
	"unicode/utf8"

	"s3mesh/s3api/s3err"
)

// maxCreateBucketBody bounds a CreateBucketConfiguration body.
const maxCreateBucketBody = 64 << 10

// maxKeyLength is the longest object key, in bytes.
const maxKeyLength = 1024

// validBucketName checks a bucket name against the AWS rules for
// general-purpose buckets: 3 to 63 characters of lower-case letters,
// digits, '.' and '-', beginning and ending with a letter or digit, without
// "..", ".-" or "-.", not formatted as an IP address, without the reserved
// prefixes "xn--", "sthree-" and "amzn-s3-demo-" and the reserved suffixes
// "-s3alias", "--ol-s3", ".mrap", "--x-s3" and "--table-s3".
func validBucketName(name string) error {
	bad := func(why string) error {
		return &s3err.Error{Code: s3err.ErrInvalidBucketName, Message: "The specified bucket is not valid: " + why + ".", Resource: name}
	}
	if len(name) < 3 || len(name) > 63 {
		return bad("a bucket name is 3 to 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isLowerAlnum(c) && c != '.' && c != '-' {
			return bad("a bucket name holds only lower-case letters, digits, '.' and '-'")
		}
	}
	if !isLowerAlnum(name[0]) || !isLowerAlnum(name[len(name)-1]) {
		return bad("a bucket name begins and ends with a letter or digit")
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return bad(`a bucket name holds no "..", ".-" or "-."`)
	}
	if looksLikeIPv4(name) {
		return bad("a bucket name is not formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad("the prefix " + p + " is reserved")
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return bad("the suffix " + s + " is reserved")
		}
	}
	return nil
}

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// looksLikeIPv4 reports whether name is four dot-separated groups of
// digits, such as 192.168.5.4.
func looksLikeIPv4(name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// validKey checks an object key: valid UTF-8 of at most 1024 bytes.
func validKey(key string) error {
	if len(key) > maxKeyLength {
		return &s3err.Error{Code: s3err.ErrKeyTooLong, Resource: key}
	}
	if !utf8.ValidString(key) {
		return s3err.New(s3err.ErrInvalidArgument, "Object keys must be valid UTF-8.")
	}
	return nil
}

// listAllMyBucketsResult is the body of a ListBuckets response.
type listAllMyBucketsResult struct {
	XMLName xml.Name    `xml:"ListAllMyBucketsResult"`
	NS      string      `xml:"xmlns,attr"`
	Owner   ownerXML    `xml:"Owner"`
	Buckets []bucketXML `xml:"Buckets>Bucket"`
}

type bucketXML struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
}

// createBucketConfiguration is the optional body of CreateBucket.
type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint"`
}

// versioningConfiguration is the body of a GetBucketVersioning response.
// Without a Status, versioning was never enabled.
type versioningConfiguration struct {
	XMLName xml.Name `xml:"VersioningConfiguration"`
	NS      string   `xml:"xmlns,attr"`
	Status  string   `xml:"Status,omitempty"`
}

// locationConstraint is the body of a GetBucketLocation response.
type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	NS      string   `xml:"xmlns,attr"`
	Region  string   `xml:",chardata"`
}

func (h *Handler) owner() ownerXML {
	return ownerXML{ID: h.cfg.Owner.ID, DisplayName: h.cfg.Owner.DisplayName}
}

// handleListBuckets serves ListBuckets.
func (h *Handler) handleListBuckets(w http.ResponseWriter, r *http.Request) error {
	buckets, err := h.store.ListBuckets(r.Context())
	if err != nil {
		return err
	}
	res := listAllMyBucketsResult{NS: xmlNS, Owner: h.owner(), Buckets: make([]bucketXML, 0, len(buckets))}
	for _, b := range buckets {
		res.Buckets = append(res.Buckets, bucketXML{Name: b.Name, CreationDate: xmlTime(b.CreationDate)})
	}
	return writeXML(w, res)
}

// parseCreateBucketBody parses the optional CreateBucketConfiguration body
// and returns its location constraint.
func parseCreateBucketBody(data []byte) (string, error) {
	var cfg createBucketConfiguration
	if err := decodeXML(data, &cfg); err != nil {
		return "", err
	}
	return strings.TrimSpace(cfg.LocationConstraint), nil
}

// handleCreateBucket serves CreateBucket. A LocationConstraint must name
// the configured region: every bucket lives there.
func (h *Handler) handleCreateBucket(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	if err := checkCannedACL(r.Header); err != nil {
		return err
	}
	data, err := readLimited(r.Body, maxCreateBucketBody)
	if err != nil {
		return err
	}
	var loc string
	if len(strings.TrimSpace(string(data))) != 0 {
		if loc, err = parseCreateBucketBody(data); err != nil {
			return err
		}
	}
	if loc != "" && loc != h.cfg.Region {
		return &s3err.Error{
			Code:     s3err.ErrInvalidLocationConstraint,
			Message:  "The specified location constraint is not valid: this endpoint serves region " + h.cfg.Region + ".",
			Resource: ri.bucket,
		}
	}
	if err := h.store.CreateBucket(r.Context(), CreateBucketInput{Bucket: ri.bucket, Location: loc}); err != nil {
		return err
	}
	w.Header().Set("Location", "/"+ri.bucket)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// handleHeadBucket serves HeadBucket.
func (h *Handler) handleHeadBucket(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.store.HeadBucket(r.Context(), info(r).bucket); err != nil {
		return err
	}
	w.Header().Set("x-amz-bucket-region", h.cfg.Region)
	w.WriteHeader(http.StatusOK)
	return nil
}

// handleDeleteBucket serves DeleteBucket.
func (h *Handler) handleDeleteBucket(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeleteBucket(r.Context(), info(r).bucket); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleGetBucketLocation serves GetBucketLocation. As in S3, us-east-1 is
// reported as an empty constraint.
func (h *Handler) handleGetBucketLocation(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.store.HeadBucket(r.Context(), info(r).bucket); err != nil {
		return err
	}
	region := h.cfg.Region
	if region == "us-east-1" {
		region = ""
	}
	return writeXML(w, locationConstraint{NS: xmlNS, Region: region})
}
