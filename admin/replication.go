package admin

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"s3mesh/gateway"
	"s3mesh/s3api/s3err"
)

// The replication endpoints: GET ReplicationPath answers how complete this
// node's copy of each replicated bucket is; POST
// BucketReplicatePath?bucket=NAME&on=true|false marks a bucket replicated
// or not, on every office.

// replication reads and sets buckets' replication; *gateway.Node
// implements it.
type replication interface {
	ReplicationStatus(ctx context.Context) (gateway.ReplicationStatus, error)
	SetBucketReplicated(ctx context.Context, name string, on bool) (*gateway.BucketRecord, error)
}

// ReplicationResponse is the body of GET ReplicationPath.
type ReplicationResponse struct {
	// QueuedObjects are the objects this node is fetching or will fetch,
	// PendingBytes their bytes not yet local.
	QueuedObjects int64 `json:"queued_objects"`
	PendingBytes  int64 `json:"pending_bytes"`
	// Buckets are the replicated buckets.
	Buckets []BucketReplication `json:"buckets"`
	// InProgress are the first 100 queued objects, by bucket and key.
	InProgress          []ObjectReplication `json:"in_progress"`
	InProgressTruncated bool                `json:"in_progress_truncated"`
}

// BucketReplication is gateway.BucketReplication on the wire.
// CompletePercent is bytes_local of logical_bytes (100 for an empty
// bucket).
type BucketReplication struct {
	Name            string  `json:"name"`
	Objects         int64   `json:"objects"`
	ObjectsComplete int64   `json:"objects_complete"`
	ObjectsQueued   int64   `json:"objects_queued"`
	LogicalBytes    int64   `json:"logical_bytes"`
	BytesLocal      int64   `json:"bytes_local"`
	CompletePercent float64 `json:"complete_percent"`
}

// ObjectReplication is gateway.ObjectReplication on the wire.
// leaves_total is 0 until the DAG's structure is known; next_attempt is
// null unless the object waits after a failed attempt.
type ObjectReplication struct {
	Bucket      string     `json:"bucket"`
	Key         string     `json:"key"`
	CID         string     `json:"cid"`
	LeavesLocal int64      `json:"leaves_local"`
	LeavesTotal int64      `json:"leaves_total"`
	BytesLocal  int64      `json:"bytes_local"`
	BytesTotal  int64      `json:"bytes_total"`
	Active      bool       `json:"active"`
	Since       time.Time  `json:"since"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error"`
	NextAttempt *time.Time `json:"next_attempt"`
}

// BucketReplicateResponse is the body of POST BucketReplicatePath.
type BucketReplicateResponse struct {
	Bucket     string `json:"bucket"`
	Replicated bool   `json:"replicated"`
}

func newReplicationResponse(st gateway.ReplicationStatus) ReplicationResponse {
	out := ReplicationResponse{QueuedObjects: st.QueuedObjects, PendingBytes: st.PendingBytes,
		Buckets: []BucketReplication{}, InProgress: []ObjectReplication{}, InProgressTruncated: st.InProgressTruncated}
	for _, b := range st.Buckets {
		pct := 100.0
		if b.LogicalBytes > 0 {
			pct = math.Round(float64(b.BytesLocal)/float64(b.LogicalBytes)*1e5) / 1e3
		}
		out.Buckets = append(out.Buckets, BucketReplication{Name: b.Name, Objects: b.Objects, ObjectsComplete: b.ObjectsComplete,
			ObjectsQueued: b.ObjectsQueued, LogicalBytes: b.LogicalBytes, BytesLocal: b.BytesLocal, CompletePercent: pct})
	}
	for _, o := range st.InProgress {
		j := ObjectReplication{Bucket: o.Bucket, Key: o.Key, CID: o.Root, LeavesLocal: o.LeavesLocal, LeavesTotal: o.LeavesTotal,
			BytesLocal: o.BytesLocal, BytesTotal: o.BytesTotal, Active: o.Active, Since: o.Since.UTC(), Attempts: o.Attempts, LastError: o.LastError}
		if !o.NextAttempt.IsZero() {
			t := o.NextAttempt.UTC()
			j.NextAttempt = &t
		}
		out.InProgress = append(out.InProgress, j)
	}
	return out
}

// serveReplication answers GET ReplicationPath.
func (a *api) serveReplication(w http.ResponseWriter, r *http.Request) error {
	if a.repl == nil {
		return s3err.New(s3err.ErrNotImplemented, "This node does not replicate buckets.")
	}
	st, err := a.repl.ReplicationStatus(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, newReplicationResponse(st))
	return nil
}

// serveBucketReplicate answers POST
// BucketReplicatePath?bucket=NAME&on=true|false.
func (a *api) serveBucketReplicate(w http.ResponseWriter, r *http.Request) error {
	if a.repl == nil {
		return s3err.New(s3err.ErrNotImplemented, "This node does not replicate buckets.")
	}
	q := r.URL.Query()
	bucket, err := bucketParam(q)
	if err != nil {
		return err
	}
	on, err := strconv.ParseBool(q.Get("on"))
	if err != nil {
		return s3err.New(s3err.ErrInvalidArgument, "on="+q.Get("on")+": want true or false.")
	}
	b, err := a.repl.SetBucketReplicated(r.Context(), bucket, on)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, BucketReplicateResponse{Bucket: b.Name, Replicated: b.Replicated})
	return nil
}
