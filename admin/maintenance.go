package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"s3mesh/gateway"
	"s3mesh/s3api/s3err"
)

// The maintenance endpoints, GCPath and FsckPath: POST runs the operation
// and streams its progress (see serveStream).

const (
	// adminProgressInterval is the least time between two progress lines.
	adminProgressInterval = 200 * time.Millisecond
	// adminHeartbeat is the most time between two lines while an
	// operation runs (it may wait for writes in flight without progress),
	// so a client can tell a slow operation from a dead connection.
	adminHeartbeat = 5 * time.Second
)

// maintainer runs the node's maintenance operations; *gateway.Node
// implements it.
type maintainer interface {
	GC(ctx context.Context, progress func(gateway.GCProgress)) (gateway.GCResult, error)
	Fsck(ctx context.Context, opts gateway.FsckOptions, progress func(gateway.FsckProgress)) (gateway.FsckReport, error)
}

// StreamLine is one NDJSON line of a maintenance answer: exactly one field
// is set. A stream is progress lines (GCProgress, FsckProgress), then one
// result (GCResult, FsckResult) or error line.
type StreamLine struct {
	Progress any            `json:"progress,omitempty"`
	Result   any            `json:"result,omitempty"`
	Error    *ErrorResponse `json:"error,omitempty"`
}

// GCProgress is gateway.GCProgress on the wire.
type GCProgress struct {
	Phase         string `json:"phase"` // mark, sweep
	TotalBlocks   int64  `json:"total_blocks"`
	Roots         int64  `json:"roots"`
	MarkedBlocks  int64  `json:"marked_blocks"`
	ScannedBlocks int64  `json:"scanned_blocks"`
	GarbageBlocks int64  `json:"garbage_blocks"`
	RemovedBlocks int64  `json:"removed_blocks"`
	FreedBytes    int64  `json:"freed_bytes"`
}

// GCResult is gateway.GCResult on the wire.
type GCResult struct {
	ScannedBlocks   int64   `json:"scanned_blocks"`
	LiveBlocks      int64   `json:"live_blocks"`
	RemovedBlocks   int64   `json:"removed_blocks"`
	FreedBytes      int64   `json:"freed_bytes"`
	DurationSeconds float64 `json:"duration_seconds"`
}

// FsckProgress is gateway.FsckProgress on the wire.
type FsckProgress struct {
	Phase        string `json:"phase"` // objects, deltas
	Objects      int64  `json:"objects"`
	TotalObjects int64  `json:"total_objects"`
	Deltas       int64  `json:"deltas"`
	Blocks       int64  `json:"blocks"`
	Bytes        int64  `json:"bytes"`
	Problems     int64  `json:"problems"`
}

// FsckResult is gateway.FsckReport on the wire.
type FsckResult struct {
	Objects              int64         `json:"objects"`
	Deltas               int64         `json:"deltas"`
	Blocks               int64         `json:"blocks"`
	Bytes                int64         `json:"bytes"`
	Missing              int64         `json:"missing"`
	MissingRemote        int64         `json:"missing_remote"`
	RemoteObjectsPartial int64         `json:"remote_objects_partial"`
	Corrupt              int64         `json:"corrupt"`
	Unreadable           int64         `json:"unreadable"`
	Repaired             int64         `json:"repaired"`
	Unrepaired           int64         `json:"unrepaired"`
	Problems             []FsckProblem `json:"problems"`
	ProblemsTruncated    bool          `json:"problems_truncated"`
	DurationSeconds      float64       `json:"duration_seconds"`
}

// FsckProblem is gateway.FsckProblem on the wire; bucket and key are
// empty for a namespace delta.
type FsckProblem struct {
	Kind     string `json:"kind"` // missing, corrupt, unreadable
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	CID      string `json:"cid"`
	Remote   bool   `json:"remote"`
	Repaired bool   `json:"repaired"`
	Detail   string `json:"detail"`
}

func newGCProgress(p gateway.GCProgress) GCProgress {
	return GCProgress{Phase: p.Phase, TotalBlocks: p.Total, Roots: p.Roots, MarkedBlocks: p.Marked, ScannedBlocks: p.Scanned,
		GarbageBlocks: p.Garbage, RemovedBlocks: p.Removed, FreedBytes: p.FreedBytes}
}

func newGCResult(r gateway.GCResult) GCResult {
	return GCResult{ScannedBlocks: r.Scanned, LiveBlocks: r.Live, RemovedBlocks: r.Removed, FreedBytes: r.FreedBytes,
		DurationSeconds: r.Duration.Seconds()}
}

func newFsckProgress(p gateway.FsckProgress) FsckProgress {
	return FsckProgress{Phase: p.Phase, Objects: p.Objects, TotalObjects: p.TotalObjects, Deltas: p.Deltas,
		Blocks: p.Blocks, Bytes: p.Bytes, Problems: p.Problems}
}

func newFsckResult(r gateway.FsckReport) FsckResult {
	out := FsckResult{Objects: r.Objects, Deltas: r.Deltas, Blocks: r.Blocks, Bytes: r.Bytes, Missing: r.Missing,
		MissingRemote: r.MissingRemote, RemoteObjectsPartial: r.RemoteObjectsPartial, Corrupt: r.Corrupt,
		Unreadable: r.Unreadable, Repaired: r.Repaired, Unrepaired: r.Unrepaired(), Problems: []FsckProblem{},
		ProblemsTruncated: r.Truncated, DurationSeconds: r.Duration.Seconds()}
	for _, p := range r.Problems {
		out.Problems = append(out.Problems, FsckProblem{Kind: p.Kind, Bucket: p.Bucket, Key: p.Key, CID: p.CID,
			Remote: p.Remote, Repaired: p.Repaired, Detail: p.Detail})
	}
	return out
}

// serveGC answers POST GCPath: it runs a garbage collection and streams
// its progress and result.
func (a *api) serveGC(w http.ResponseWriter, r *http.Request) error {
	if a.maint == nil {
		return s3err.New(s3err.ErrNotImplemented, "This node does not run garbage collection.")
	}
	return serveStream(w, r, a.maint.GC, func(p gateway.GCProgress) any { return newGCProgress(p) },
		func(res gateway.GCResult) any { return newGCResult(res) })
}

// serveFsck answers POST FsckPath[?repair=1]: it runs an fsck and streams
// its progress and report.
func (a *api) serveFsck(w http.ResponseWriter, r *http.Request) error {
	if a.maint == nil {
		return s3err.New(s3err.ErrNotImplemented, "This node does not run fsck.")
	}
	var opts gateway.FsckOptions
	switch v := r.URL.Query().Get("repair"); v {
	case "", "0", "false":
	case "1", "true":
		opts.Repair = true
	default:
		return s3err.New(s3err.ErrInvalidArgument, "repair="+v+": want 1 or 0.")
	}
	run := func(ctx context.Context, progress func(gateway.FsckProgress)) (gateway.FsckReport, error) {
		return a.maint.Fsck(ctx, opts, progress)
	}
	return serveStream(w, r, run, func(p gateway.FsckProgress) any { return newFsckProgress(p) },
		func(res gateway.FsckReport) any { return newFsckResult(res) })
}

// serveStream runs op with the request's context (a client that goes away
// cancels it) and answers its progress as NDJSON (application/x-ndjson),
// each line flushed: a {"progress": …} line at most every
// adminProgressInterval when it changed (and at least every
// adminHeartbeat), then one {"result": …} or {"error": …} line. op MUST
// call progress once it has started, and only then; if it fails before,
// serveStream returns the error, answered as a plain admin error:
// ConditionalRequestConflict (409) when another GC or fsck runs.
func serveStream[P, R any](w http.ResponseWriter, r *http.Request, op func(context.Context, func(P)) (R, error), progressJSON func(P) any, resultJSON func(R) any) error {
	var (
		mu      sync.Mutex
		latest  P
		changes int
		once    sync.Once
	)
	started := make(chan struct{})
	type outcome struct {
		res R
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := op(r.Context(), func(p P) {
			mu.Lock()
			latest = p
			changes++
			mu.Unlock()
			once.Do(func() { close(started) })
		})
		done <- outcome{res, err}
	}()
	var end *outcome
	select {
	case <-started:
	case o := <-done:
		end = &o
		select {
		case <-started:
		default:
			if o.err != nil {
				return maintenanceError(o.err)
			}
		}
	}

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	write := func(l StreamLine) bool {
		if err := enc.Encode(l); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	sent, lastWrite := 0, time.Time{}
	sendProgress := func(force bool) bool {
		mu.Lock()
		p, c := latest, changes
		mu.Unlock()
		if c == sent && !force {
			return true
		}
		sent, lastWrite = c, time.Now()
		return write(StreamLine{Progress: progressJSON(p)})
	}
	if end == nil {
		sendProgress(true)
		t := time.NewTicker(adminProgressInterval)
		defer t.Stop()
	wait:
		for {
			select {
			case o := <-done:
				end = &o
				break wait
			case <-t.C:
				// A failed write means the client went away: op sees its
				// context end and returns.
				sendProgress(time.Since(lastWrite) >= adminHeartbeat)
			}
		}
	}
	sendProgress(false)
	if end.err != nil {
		e := maintenanceError(end.err)
		if r.Context().Err() == nil { // else nobody to tell
			write(StreamLine{Error: &ErrorResponse{Code: string(e.Code), Message: e.ClientMessage()}})
		}
		// The answer has started: the wrapper only records the error,
		// for the access log and the metrics.
		return fmt.Errorf("maintenance: %w", e)
	}
	write(StreamLine{Result: resultJSON(end.res)})
	return nil
}

// maintenanceError is the admin error for a failed GC or fsck. The
// operator asked for it with the root credentials: the message is the
// error itself, which names what to do.
func maintenanceError(err error) *s3err.Error {
	if errors.Is(err, gateway.ErrMaintenanceRunning) {
		return s3err.New(s3err.ErrConditionalRequestConflict, "A garbage collection or fsck is already running on this node; wait for it to end, then try again.")
	}
	return &s3err.Error{Code: s3err.ErrInternalError, Message: err.Error(), Err: err}
}
