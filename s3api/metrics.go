package s3api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/s3api/s3err"
)

// metrics are the request metrics of a Handler. Labels are bounded: op is
// an operation name from the routing table, code an S3 error code or "OK".
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
}

// newMetrics builds the request metrics and registers them on reg; a nil
// reg registers nothing.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3mesh_s3_requests_total",
			Help: "S3 requests answered, by operation and S3 error code (OK for success).",
		}, []string{"op", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "s3mesh_s3_request_duration_seconds",
			Help:    "Time to answer an S3 request, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"op"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "s3mesh_s3_requests_in_flight",
			Help: "S3 requests being served.",
		}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3mesh_s3_request_bytes_total",
			Help: "Request body bytes received, by operation.",
		}, []string{"op"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3mesh_s3_response_bytes_total",
			Help: "Response body bytes sent, by operation.",
		}, []string{"op"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.bytesIn, m.bytesOut} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("s3api: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// begin records a request starting; the returned function records its end.
func (m *metrics) begin(op Op) func(code string, dur time.Duration, in, out int64) {
	m.inFlight.Inc()
	return func(code string, dur time.Duration, in, out int64) {
		m.inFlight.Dec()
		o := string(op)
		m.requests.WithLabelValues(o, code).Inc()
		m.duration.WithLabelValues(o).Observe(dur.Seconds())
		if in > 0 {
			m.bytesIn.WithLabelValues(o).Add(float64(in))
		}
		if out > 0 {
			m.bytesOut.WithLabelValues(o).Add(float64(out))
		}
	}
}

// storeWithMetrics is an ObjectStore that records the latency of each call
// of the store it wraps.
type storeWithMetrics struct {
	next     ObjectStore
	duration *prometheus.HistogramVec
}

// NewStoreWithMetrics returns store wrapped so that every call records its
// latency in s3mesh_s3_backend_duration_seconds{op,result}, where op is the
// ObjectStore method and result is "ok", "client_error" (an s3err code),
// "canceled", "timeout" or "error". A GetObject records the call, not the reading of
// the content. With a nil reg it returns store itself.
func NewStoreWithMetrics(store ObjectStore, reg prometheus.Registerer) (ObjectStore, error) {
	if reg == nil {
		return store, nil
	}
	d := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "s3mesh_s3_backend_duration_seconds",
		Help:    "Latency of ObjectStore calls, by method and result.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
	}, []string{"op", "result"})
	if err := reg.Register(d); err != nil {
		return nil, fmt.Errorf("s3api: register backend metrics: %w", err)
	}
	return &storeWithMetrics{next: store, duration: d}, nil
}

func (s *storeWithMetrics) observe(op string, start time.Time, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		result = "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		result = "timeout"
	default:
		if _, ok := s3err.As(err); ok {
			result = "client_error"
		} else {
			result = "error"
		}
	}
	s.duration.WithLabelValues(op, result).Observe(time.Since(start).Seconds())
}

func (s *storeWithMetrics) ListBuckets(ctx context.Context) ([]BucketInfo, error) {
	start := time.Now()
	b, err := s.next.ListBuckets(ctx)
	s.observe("ListBuckets", start, err)
	return b, err
}

func (s *storeWithMetrics) CreateBucket(ctx context.Context, in CreateBucketInput) error {
	start := time.Now()
	err := s.next.CreateBucket(ctx, in)
	s.observe("CreateBucket", start, err)
	return err
}

func (s *storeWithMetrics) HeadBucket(ctx context.Context, bucket string) (*BucketInfo, error) {
	start := time.Now()
	b, err := s.next.HeadBucket(ctx, bucket)
	s.observe("HeadBucket", start, err)
	return b, err
}

func (s *storeWithMetrics) DeleteBucket(ctx context.Context, bucket string) error {
	start := time.Now()
	err := s.next.DeleteBucket(ctx, bucket)
	s.observe("DeleteBucket", start, err)
	return err
}

func (s *storeWithMetrics) PutObject(ctx context.Context, in *PutObjectInput) (*ObjectInfo, error) {
	start := time.Now()
	o, err := s.next.PutObject(ctx, in)
	s.observe("PutObject", start, err)
	return o, err
}

func (s *storeWithMetrics) HeadObject(ctx context.Context, bucket, key string) (*ObjectInfo, error) {
	start := time.Now()
	o, err := s.next.HeadObject(ctx, bucket, key)
	s.observe("HeadObject", start, err)
	return o, err
}

func (s *storeWithMetrics) GetObject(ctx context.Context, bucket, key string) (*ObjectInfo, Content, error) {
	start := time.Now()
	o, c, err := s.next.GetObject(ctx, bucket, key)
	s.observe("GetObject", start, err)
	return o, c, err
}

func (s *storeWithMetrics) DeleteObject(ctx context.Context, bucket, key string) error {
	start := time.Now()
	err := s.next.DeleteObject(ctx, bucket, key)
	s.observe("DeleteObject", start, err)
	return err
}

func (s *storeWithMetrics) ListObjects(ctx context.Context, in ListObjectsInput) (*ListObjectsResult, error) {
	start := time.Now()
	r, err := s.next.ListObjects(ctx, in)
	s.observe("ListObjects", start, err)
	return r, err
}

// The optional roles pass through the decorator. When the wrapped store
// lacks one, its methods answer NotImplemented, as the handlers do for a
// store without the role.

var (
	_ MultipartStore = (*storeWithMetrics)(nil)
	_ CopyStore      = (*storeWithMetrics)(nil)
	_ TaggingStore   = (*storeWithMetrics)(nil)
)

func notImplementedRole(role string) error {
	return s3err.New(s3err.ErrNotImplemented, "This node's store does not support "+role+".")
}

func (s *storeWithMetrics) multipart() (MultipartStore, error) {
	if m, ok := s.next.(MultipartStore); ok {
		return m, nil
	}
	return nil, notImplementedRole("multipart uploads")
}

func (s *storeWithMetrics) CreateMultipartUpload(ctx context.Context, in *CreateMultipartUploadInput) (string, error) {
	m, err := s.multipart()
	if err != nil {
		return "", err
	}
	start := time.Now()
	id, err := m.CreateMultipartUpload(ctx, in)
	s.observe("CreateMultipartUpload", start, err)
	return id, err
}

func (s *storeWithMetrics) UploadPart(ctx context.Context, in *UploadPartInput) (*PartInfo, error) {
	m, err := s.multipart()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	p, err := m.UploadPart(ctx, in)
	s.observe("UploadPart", start, err)
	return p, err
}

func (s *storeWithMetrics) UploadPartCopy(ctx context.Context, in *UploadPartCopyInput) (*PartInfo, error) {
	m, err := s.multipart()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	p, err := m.UploadPartCopy(ctx, in)
	s.observe("UploadPartCopy", start, err)
	return p, err
}

func (s *storeWithMetrics) CompleteMultipartUpload(ctx context.Context, in *CompleteMultipartUploadInput) (*ObjectInfo, error) {
	m, err := s.multipart()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	o, err := m.CompleteMultipartUpload(ctx, in)
	s.observe("CompleteMultipartUpload", start, err)
	return o, err
}

func (s *storeWithMetrics) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	m, err := s.multipart()
	if err != nil {
		return err
	}
	start := time.Now()
	err = m.AbortMultipartUpload(ctx, bucket, key, uploadID)
	s.observe("AbortMultipartUpload", start, err)
	return err
}

func (s *storeWithMetrics) ListParts(ctx context.Context, in ListPartsInput) (*ListPartsResult, error) {
	m, err := s.multipart()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r, err := m.ListParts(ctx, in)
	s.observe("ListParts", start, err)
	return r, err
}

func (s *storeWithMetrics) ListMultipartUploads(ctx context.Context, in ListMultipartUploadsInput) (*ListMultipartUploadsResult, error) {
	m, err := s.multipart()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r, err := m.ListMultipartUploads(ctx, in)
	s.observe("ListMultipartUploads", start, err)
	return r, err
}

func (s *storeWithMetrics) CopyObject(ctx context.Context, in *CopyObjectInput) (*ObjectInfo, error) {
	c, ok := s.next.(CopyStore)
	if !ok {
		return nil, notImplementedRole("CopyObject")
	}
	start := time.Now()
	o, err := c.CopyObject(ctx, in)
	s.observe("CopyObject", start, err)
	return o, err
}

func (s *storeWithMetrics) PutObjectTagging(ctx context.Context, bucket, key string, tags map[string]string) (*ObjectInfo, error) {
	t, ok := s.next.(TaggingStore)
	if !ok {
		return nil, notImplementedRole("object tagging")
	}
	start := time.Now()
	o, err := t.PutObjectTagging(ctx, bucket, key, tags)
	s.observe("PutObjectTagging", start, err)
	return o, err
}
