package admin

import (
	"io"
	"net/http"

	"s3mesh/s3api/s3err"
)

// The probes: MetricsPath, LivePath and ReadyPath answer unsigned GET and
// HEAD (see match).

// serveMetrics answers MetricsPath with Config.Metrics.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	s.cfg.Metrics.ServeHTTP(w, r)
	return nil
}

// serveLive answers LivePath: the process serves HTTP.
func (s *Server) serveLive(w http.ResponseWriter, _ *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
}

// serveReady answers ReadyPath: 200 once the node serves S3, 503 while it
// starts or shuts down.
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) error {
	if s.ready != nil && !s.ready() {
		return s3err.New(s3err.ErrServiceUnavailable, "not ready")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, "ready\n")
	}
	return nil
}
