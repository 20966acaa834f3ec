package admin

import (
	"encoding/json"
	"net/http"
	"strings"

	"s3mesh/s3api/s3err"
)

// ErrorResponse is the body of an admin API error.
type ErrorResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError is the one error writer of the admin edge (the WriteError of
// its routes, but the IPFS gateway's, which answers S3 error XML as S3
// reads do). s3api's wrapper has classified the error: e has a known code
// and a client-safe message. By path:
//
//   - the status page answers a refused sign-in (403) with its sign-in
//     page, and other errors as plain text;
//   - the admin API and the probes answer JSON ErrorResponse with the
//     status of the code.
func writeError(w http.ResponseWriter, r *http.Request, e *s3err.Error) {
	if strings.HasPrefix(r.URL.Path, UIPrefix) || r.URL.Path == "/ui" {
		writeUIError(w, r, e)
		return
	}
	writeJSON(w, r, e.Code.Status(), ErrorResponse{Code: string(e.Code), Message: e.ClientMessage()})
}

// writeJSON answers v as indented JSON; HEAD gets the headers only.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"InternalError","message":"encoding the response failed"}`)
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// errNotServed answers an endpoint whose collaborator the Server lacks.
func errNotServed(what string) error {
	return s3err.New(s3err.ErrNotImplemented, "This node does not serve "+what+".")
}
