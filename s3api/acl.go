package s3api

import (
	"encoding/xml"
	"net/http"
	"strings"

	"s3mesh/s3api/s3err"
)

// Access control. Every bucket and object belongs to the one owner, who has
// FULL_CONTROL, and nothing is public. Requests that ask for exactly that
// are accepted, so clients that send an ACL out of habit work; requests
// that would grant access to anyone else are answered NotImplemented (not
// AccessDenied, which would suggest the credentials are wrong).

const (
	// maxACLBody bounds a PutBucketAcl or PutObjectAcl request body.
	maxACLBody = 64 << 10
	// xsiNS is the XML Schema instance namespace of xsi:type.
	xsiNS = "http://www.w3.org/2001/XMLSchema-instance"
	// permFullControl is the permission the owner holds.
	permFullControl = "FULL_CONTROL"
)

// ownerOnlyACLs are the canned ACLs that grant nothing beyond the owner's
// FULL_CONTROL here: with a single owner, the bucket owner is the object
// owner.
var ownerOnlyACLs = map[string]bool{
	"private":                   true,
	"bucket-owner-full-control": true,
	"bucket-owner-read":         true,
}

// publicACLs are the canned ACLs that grant access to others.
var publicACLs = map[string]bool{
	"public-read":        true,
	"public-read-write":  true,
	"authenticated-read": true,
	"aws-exec-read":      true,
	"log-delivery-write": true,
}

// checkCannedACL checks the access-control headers of a write: x-amz-acl
// must be absent or an owner-only canned ACL (a public one is
// NotImplemented, an unknown one InvalidArgument), and explicit
// x-amz-grant-* headers are NotImplemented.
func checkCannedACL(hdr http.Header) error {
	for name := range hdr {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-grant-") {
			return s3err.New(s3err.ErrNotImplemented, "Explicit grants (x-amz-grant-*) are not supported; every resource is private to its owner.")
		}
	}
	acl := strings.TrimSpace(hdr.Get("x-amz-acl"))
	switch {
	case acl == "" || ownerOnlyACLs[acl]:
		return nil
	case publicACLs[acl]:
		return s3err.New(s3err.ErrNotImplemented, "The canned ACL "+acl+" is not supported; every resource is private to its owner.")
	default:
		return errInvalidArgument("The canned ACL %q is not valid.", acl)
	}
}

// accessControlPolicy is the body of GetBucketAcl and GetObjectAcl.
type accessControlPolicy struct {
	XMLName xml.Name   `xml:"AccessControlPolicy"`
	NS      string     `xml:"xmlns,attr"`
	Owner   ownerXML   `xml:"Owner"`
	Grants  []grantXML `xml:"AccessControlList>Grant"`
}

type grantXML struct {
	Grantee    granteeXML `xml:"Grantee"`
	Permission string     `xml:"Permission"`
}

// granteeXML is a Grantee as written: encoding/xml writes the prefixed
// attribute names literally.
type granteeXML struct {
	XSI         string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

// aclRequest is the body of PutBucketAcl and PutObjectAcl as read: the
// decoder resolves the xsi prefix to its namespace.
type aclRequest struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Owner   struct {
		ID          string `xml:"ID"`
		DisplayName string `xml:"DisplayName"`
	} `xml:"Owner"`
	Grants []struct {
		Grantee struct {
			Type         string `xml:"http://www.w3.org/2001/XMLSchema-instance type,attr"`
			ID           string `xml:"ID"`
			DisplayName  string `xml:"DisplayName"`
			URI          string `xml:"URI"`
			EmailAddress string `xml:"EmailAddress"`
		} `xml:"Grantee"`
		Permission string `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// ownerPolicy returns the one policy every resource has.
func (h *Handler) ownerPolicy() accessControlPolicy {
	o := h.owner()
	return accessControlPolicy{
		NS:    xmlNS,
		Owner: o,
		Grants: []grantXML{{
			Grantee:    granteeXML{XSI: xsiNS, Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
			Permission: permFullControl,
		}},
	}
}

// checkACLBody accepts an AccessControlPolicy that grants FULL_CONTROL to
// the owner and nothing to anyone else; a policy granting more is
// NotImplemented.
func (h *Handler) checkACLBody(data []byte) error {
	var req aclRequest
	if err := decodeXML(data, &req); err != nil {
		return err
	}
	if req.Owner.ID != "" && req.Owner.ID != h.cfg.Owner.ID {
		return s3err.New(s3err.ErrNotImplemented, "Changing the owner is not supported.")
	}
	ownerFull := false
	for _, g := range req.Grants {
		ge := g.Grantee
		if ge.Type != "CanonicalUser" || ge.ID != h.cfg.Owner.ID || ge.URI != "" || ge.EmailAddress != "" {
			return s3err.New(s3err.ErrNotImplemented, "Grants to anyone but the owner are not supported; every resource is private to its owner.")
		}
		if g.Permission == permFullControl {
			ownerFull = true
		}
	}
	if !ownerFull {
		return s3err.New(s3err.ErrNotImplemented, "The owner always has FULL_CONTROL; other owner permissions are not supported.")
	}
	return nil
}

// putACL checks the ACL of a PutBucketAcl or PutObjectAcl request: the
// x-amz-acl header or the body, not both, and owner-only.
func (h *Handler) putACL(r *http.Request) error {
	if err := checkCannedACL(r.Header); err != nil {
		return err
	}
	data, err := readLimited(r.Body, maxACLBody)
	if err != nil {
		return err
	}
	hasBody := len(strings.TrimSpace(string(data))) != 0
	hasHeader := r.Header.Get("x-amz-acl") != ""
	switch {
	case hasBody && hasHeader:
		return s3err.New(s3err.ErrInvalidRequest, "Specifying both Canned ACLs and Header Grants or an ACL body is not allowed.")
	case hasBody:
		return h.checkACLBody(data)
	case hasHeader:
		return nil
	default:
		return s3err.ErrMissingRequestBodyError
	}
}

// handleGetBucketAcl serves GetBucketAcl: the owner with FULL_CONTROL.
func (h *Handler) handleGetBucketAcl(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.store.HeadBucket(r.Context(), info(r).bucket); err != nil {
		return err
	}
	return writeXML(w, h.ownerPolicy())
}

// handleGetObjectAcl serves GetObjectAcl: the owner with FULL_CONTROL.
func (h *Handler) handleGetObjectAcl(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	if err := checkNullVersion(r); err != nil {
		return err
	}
	if _, err := h.store.HeadObject(r.Context(), ri.bucket, ri.key); err != nil {
		return err
	}
	return writeXML(w, h.ownerPolicy())
}

// handlePutBucketAcl serves PutBucketAcl: an owner-only ACL is accepted
// and changes nothing.
func (h *Handler) handlePutBucketAcl(w http.ResponseWriter, r *http.Request) error {
	if err := h.putACL(r); err != nil {
		return err
	}
	if _, err := h.store.HeadBucket(r.Context(), info(r).bucket); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// handlePutObjectAcl serves PutObjectAcl: an owner-only ACL is accepted
// and changes nothing.
func (h *Handler) handlePutObjectAcl(w http.ResponseWriter, r *http.Request) error {
	ri := info(r)
	if err := checkNullVersion(r); err != nil {
		return err
	}
	if err := h.putACL(r); err != nil {
		return err
	}
	if _, err := h.store.HeadObject(r.Context(), ri.bucket, ri.key); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}
