package s3api

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"s3mesh/s3api/s3err"
)

const (
	// maxCORSBody bounds a PutBucketCors request body.
	maxCORSBody = 64 << 10
	// maxCORSRules is the most rules a configuration holds.
	maxCORSRules = 100
)

// corsConfigurationXML is the body of PutBucketCors and GetBucketCors.
type corsConfigurationXML struct {
	XMLName xml.Name      `xml:"CORSConfiguration"`
	NS      string        `xml:"xmlns,attr,omitempty"`
	Rules   []corsRuleXML `xml:"CORSRule"`
}

type corsRuleXML struct {
	ID             string   `xml:"ID,omitempty"`
	AllowedHeaders []string `xml:"AllowedHeader"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedOrigins []string `xml:"AllowedOrigin"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	MaxAgeSeconds  *int     `xml:"MaxAgeSeconds"`
}

var corsMethods = map[string]bool{"GET": true, "PUT": true, "HEAD": true, "POST": true, "DELETE": true}

// parseCORSConfiguration parses and checks a PutBucketCors body.
func parseCORSConfiguration(data []byte) ([]CORSRule, error) {
	var cfg corsConfigurationXML
	if err := decodeXML(data, &cfg); err != nil {
		return nil, err
	}
	if len(cfg.Rules) == 0 || len(cfg.Rules) > maxCORSRules {
		return nil, s3err.New(s3err.ErrMalformedXML, fmt.Sprintf("A CORS configuration holds 1 to %d rules.", maxCORSRules))
	}
	rules := make([]CORSRule, 0, len(cfg.Rules))
	for _, rx := range cfg.Rules {
		if len(rx.AllowedOrigins) == 0 || len(rx.AllowedMethods) == 0 {
			return nil, s3err.New(s3err.ErrMalformedXML, "Each CORSRule has at least one AllowedOrigin and one AllowedMethod.")
		}
		for _, m := range rx.AllowedMethods {
			if !corsMethods[m] {
				return nil, s3err.New(s3err.ErrInvalidRequest, "Found unsupported HTTP method in CORS config. Unsupported method is "+m)
			}
		}
		for _, o := range append(append([]string(nil), rx.AllowedOrigins...), rx.AllowedHeaders...) {
			if strings.Count(o, "*") > 1 {
				return nil, s3err.New(s3err.ErrInvalidRequest, "AllowedOrigin and AllowedHeader can have at most one * wildcard: "+o)
			}
		}
		r := CORSRule{ID: rx.ID, AllowedOrigins: rx.AllowedOrigins, AllowedMethods: rx.AllowedMethods,
			AllowedHeaders: rx.AllowedHeaders, ExposeHeaders: rx.ExposeHeaders}
		if rx.MaxAgeSeconds != nil {
			if *rx.MaxAgeSeconds < 0 {
				return nil, s3err.New(s3err.ErrMalformedXML, "MaxAgeSeconds is not negative.")
			}
			r.MaxAgeSeconds = *rx.MaxAgeSeconds
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func (h *Handler) corsStore() (CORSStore, error) {
	cs, ok := h.store.(CORSStore)
	if !ok {
		return nil, s3err.New(s3err.ErrNotImplemented, "Bucket CORS is not supported by this store.")
	}
	return cs, nil
}

// handlePutBucketCors serves PutBucketCors.
func (h *Handler) handlePutBucketCors(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.corsStore()
	if err != nil {
		return err
	}
	data, err := readLimited(r.Body, maxCORSBody)
	if err != nil {
		return err
	}
	if _, err := verifyBodyChecksums(r.Header, data); err != nil {
		return err
	}
	rules, err := parseCORSConfiguration(data)
	if err != nil {
		return err
	}
	if err := cs.PutBucketCors(r.Context(), info(r).bucket, rules); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// handleGetBucketCors serves GetBucketCors.
func (h *Handler) handleGetBucketCors(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.corsStore()
	if err != nil {
		return err
	}
	rules, err := cs.GetBucketCors(r.Context(), info(r).bucket)
	if err != nil {
		return err
	}
	out := corsConfigurationXML{NS: xmlNS}
	for _, rule := range rules {
		rx := corsRuleXML{ID: rule.ID, AllowedHeaders: rule.AllowedHeaders, AllowedMethods: rule.AllowedMethods,
			AllowedOrigins: rule.AllowedOrigins, ExposeHeaders: rule.ExposeHeaders}
		if rule.MaxAgeSeconds > 0 {
			age := rule.MaxAgeSeconds
			rx.MaxAgeSeconds = &age
		}
		out.Rules = append(out.Rules, rx)
	}
	return writeXML(w, out)
}

// handleDeleteBucketCors serves DeleteBucketCors.
func (h *Handler) handleDeleteBucketCors(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.corsStore()
	if err != nil {
		return err
	}
	if err := cs.DeleteBucketCors(r.Context(), info(r).bucket); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// wildcardMatch reports whether s matches pattern, which holds at most one
// "*" standing for any run of characters; case-insensitive when fold.
func wildcardMatch(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	before, after, found := strings.Cut(pattern, "*")
	if !found {
		return pattern == s
	}
	return len(s) >= len(before)+len(after) && strings.HasPrefix(s, before) && strings.HasSuffix(s, after)
}

// matchCORS returns the first rule allowing origin, method and every one
// of headers.
func matchCORS(rules []CORSRule, origin, method string, headers []string) (*CORSRule, bool) {
	for i := range rules {
		rule := &rules[i]
		if !anyMatch(rule.AllowedOrigins, origin, false) {
			continue
		}
		methodOK := false
		for _, m := range rule.AllowedMethods {
			methodOK = methodOK || m == method
		}
		if !methodOK {
			continue
		}
		headersOK := true
		for _, hd := range headers {
			headersOK = headersOK && anyMatch(rule.AllowedHeaders, hd, true)
		}
		if headersOK {
			return rule, true
		}
	}
	return nil, false
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if wildcardMatch(p, s, fold) {
			return true
		}
	}
	return false
}

// setCORSAllow sets the headers that tell a browser rule allows origin.
func setCORSAllow(hdr http.Header, rule *CORSRule, origin string) {
	allowAny := len(rule.AllowedOrigins) == 1 && rule.AllowedOrigins[0] == "*"
	if allowAny {
		hdr.Set("Access-Control-Allow-Origin", "*")
	} else {
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
	}
	hdr.Set("Access-Control-Allow-Methods", strings.Join(rule.AllowedMethods, ", "))
	if len(rule.ExposeHeaders) > 0 {
		hdr.Set("Access-Control-Expose-Headers", strings.Join(rule.ExposeHeaders, ", "))
	}
	if rule.MaxAgeSeconds > 0 {
		hdr.Set("Access-Control-Max-Age", strconv.Itoa(rule.MaxAgeSeconds))
	}
	hdr.Add("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
}

// setCORSHeaders adds the CORS response headers to a request carrying an
// Origin when a rule of its bucket allows it; a store without CORS, a
// bucket without rules or a lookup failure adds none.
func (h *Handler) setCORSHeaders(w http.ResponseWriter, r *http.Request, bucket string) {
	origin := r.Header.Get("Origin")
	if origin == "" || bucket == "" {
		return
	}
	cs, ok := h.store.(CORSStore)
	if !ok {
		return
	}
	rules, err := cs.GetBucketCors(r.Context(), bucket)
	if err != nil {
		return
	}
	if rule, ok := matchCORS(rules, origin, r.Method, nil); ok {
		setCORSAllow(w.Header(), rule, origin)
	}
}

// handleOptionsObject answers a CORS preflight request from the bucket's
// rules: 200 with the allowing headers, or 403 CORSResponse.
func (h *Handler) handleOptionsObject(w http.ResponseWriter, r *http.Request) error {
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	if origin == "" {
		return s3err.New(s3err.ErrInvalidRequest, "Insufficient information. Origin request header needed.")
	}
	if !corsMethods[method] {
		return s3err.New(s3err.ErrInvalidRequest, "Invalid Access-Control-Request-Method: "+method)
	}
	var headers []string
	for _, v := range r.Header.Values("Access-Control-Request-Headers") {
		for _, hd := range strings.Split(v, ",") {
			if hd = strings.TrimSpace(hd); hd != "" {
				headers = append(headers, hd)
			}
		}
	}
	cs, ok := h.store.(CORSStore)
	if !ok {
		return s3err.New(s3err.ErrCORSResponse, "CORS is not supported by this store.")
	}
	rules, err := cs.GetBucketCors(r.Context(), info(r).bucket)
	if errors.Is(err, s3err.ErrNoSuchCORSConfiguration) {
		return s3err.New(s3err.ErrCORSResponse, "CORSResponse: Bucket cors is not Configured")
	}
	if err != nil {
		return err
	}
	rule, ok := matchCORS(rules, origin, method, headers)
	if !ok {
		return s3err.ErrCORSResponse
	}
	hdr := w.Header()
	setCORSAllow(hdr, rule, origin)
	if len(headers) > 0 {
		hdr.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
