package upkeep

import (
	"context"
	"errors"
	"fmt"
	"time"

	boxobs "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"s3mesh/gateway/dag"
	"s3mesh/gateway/namespace"
	"s3mesh/s3api/s3err"
)

// Kinds of FsckProblem.
const (
	// FsckMissing: the block is not stored locally.
	FsckMissing = "missing"
	// FsckCorrupt: the stored block's content does not hash to its CID.
	FsckCorrupt = "corrupt"
	// FsckUnreadable: the store failed to read the block, or it matches
	// its CID but cannot be decoded (so the DAG below it is unknown).
	// Neither is repaired: check the disk, or the object's source.
	FsckUnreadable = "unreadable"
)

// Fsck phases, in order, as FsckProgress.Phase reports them.
const (
	FsckPhaseObjects = "objects"
	FsckPhaseDeltas  = "deltas"
)

// DefaultFsckMaxProblems is FsckOptions.MaxProblems's default.
const DefaultFsckMaxProblems = 10000

// FsckOptions configures Fsck. The zero value checks without repairing.
type FsckOptions struct {
	// Repair refetches, from peers through the node's exchange, each block
	// missing from an object written on this node or from the namespace,
	// and each corrupt block, within Config.FetchTimeout per block. A good
	// copy replaces a corrupt one only once it has been fetched and
	// verified, so a corrupt copy no peer can replace stays. Default false.
	Repair bool
	// MaxProblems bounds the problems listed in FsckReport.Problems (the
	// counts stay exact). Zero means DefaultFsckMaxProblems.
	MaxProblems int
}

// FsckProblem is one bad block of an object's DAG or of the namespace.
type FsckProblem struct {
	// Kind is FsckMissing, FsckCorrupt or FsckUnreadable.
	Kind string
	// Bucket and Key name the object whose DAG holds the block; both are
	// empty for a namespace delta.
	Bucket, Key string
	// CID is the block's CID.
	CID string
	// Remote reports that the object's record was written at another
	// node: its blocks may legitimately be held there and not here, so a
	// missing one is not counted as a problem nor repaired.
	Remote bool
	// Repaired reports that a good copy was fetched and stored.
	Repaired bool
	// Detail says what is wrong, and why a repair failed.
	Detail string
}

// FsckProgress describes an Fsck in progress.
type FsckProgress struct {
	// Phase is FsckPhaseObjects, then FsckPhaseDeltas.
	Phase string
	// Objects is the number of objects checked so far, TotalObjects the
	// number visible when Fsck started.
	Objects, TotalObjects int64
	// Deltas is the number of namespace deltas checked so far.
	Deltas int64
	// Blocks and Bytes are the blocks read and hash-verified so far and
	// their size.
	Blocks, Bytes int64
	// Problems is the number of problems found so far.
	Problems int64
}

// FsckReport is what Fsck found and repaired. A block shared by several
// objects is counted and listed for each object it is bad in, and
// repaired once; an object whose root was already verified whole (a copy)
// is not read again.
type FsckReport struct {
	// Objects and Deltas are the objects and namespace deltas checked.
	Objects, Deltas int64
	// Blocks and Bytes are the blocks read and hash-verified, and their
	// size.
	Blocks, Bytes int64
	// Missing counts blocks missing from the DAGs of objects written on
	// this node and from the namespace: problems.
	Missing int64
	// MissingRemote counts blocks missing from the DAGs of objects
	// written at other nodes (not stored here, or in part: normal for a
	// node that did not read them), and RemoteObjectsPartial those
	// objects. Not problems.
	MissingRemote, RemoteObjectsPartial int64
	// Corrupt and Unreadable count the blocks of those kinds: problems.
	Corrupt, Unreadable int64
	// Repaired counts the problems repaired.
	Repaired int64
	// Problems lists the bad blocks, at most FsckOptions.MaxProblems of
	// them; Truncated reports that more were found.
	Problems  []FsckProblem
	Truncated bool
	// Duration is the time from the call to its return.
	Duration time.Duration
}

// Unrepaired returns the number of problems left: blocks missing from
// objects written here or from the namespace, corrupt or unreadable, and
// not repaired.
func (r *FsckReport) Unrepaired() int64 {
	return r.Missing + r.Corrupt + r.Unreadable - r.Repaired
}

// Fsck verifies the node's content: for every object record of every
// bucket, it walks the object's DAG from its root, reading each block
// stored locally, recomputing the hash of its bytes and comparing it with
// its CID (a raw read with explicit verification: the block store does not
// verify what it returns); a block that is not stored is reported missing
// and not walked below. Then it does the same for the namespace deltas
// reachable from the CRDT's heads. progress, when not nil, is called from
// Fsck's goroutine for each object and regularly within one, and must
// return quickly.
//
// Missing blocks: an object written at another node may be stored here in
// part or not at all (this node cached only what it read), so its missing
// blocks are listed with Remote set and counted apart
// (FsckReport.MissingRemote), not as problems. Every other missing block
// is a problem: the node imported it, or merged the delta. The origin is
// that of the record: a copy made here (CopyObject, UploadPartCopy) of an
// object written elsewhere and never read here counts as this node's, and
// Repair fetches its blocks.
//
// With opts.Repair, see FsckOptions.Repair; a repaired dag-pb block is then
// walked like any other. Fsck runs beside reads and writes (objects
// written meanwhile may or may not be checked) but not beside GC: GC and
// Fsck run one at a time, and a second call returns
// ErrMaintenanceRunning. When ctx ends it returns what it found so far
// with an error wrapping ctx's.
func (n *Upkeep) Fsck(ctx context.Context, opts FsckOptions, progress func(FsckProgress)) (FsckReport, error) {
	if !n.gc.busy.TryLock() {
		return FsckReport{}, ErrMaintenanceRunning
	}
	defer n.gc.busy.Unlock()
	if opts.MaxProblems <= 0 {
		opts.MaxProblems = DefaultFsckMaxProblems
	}
	start := time.Now()
	objects, _ := n.crdt.Usage()
	r := &fsckRun{
		n: n, opts: opts, report: func(FsckProgress) {},
		p:         FsckProgress{Phase: FsckPhaseObjects, TotalObjects: objects},
		goodRoots: map[string]struct{}{}, repairs: map[string]repairOutcome{},
	}
	if progress != nil {
		r.report = progress
	}
	r.report(r.p)
	err := r.checkObjects(ctx)
	if err == nil {
		r.p.Phase = FsckPhaseDeltas
		r.report(r.p)
		err = r.checkDeltas(ctx)
	}
	r.rep.Blocks, r.rep.Bytes, r.rep.Duration = r.p.Blocks, r.p.Bytes, time.Since(start)
	r.report(r.p)
	if err != nil {
		return r.rep, fmt.Errorf("fsck: %w", err)
	}
	n.cfg.Logger.Info("fsck finished", "op", "Fsck", "objects", r.rep.Objects, "blocks", r.rep.Blocks,
		"missing", r.rep.Missing, "missing_remote", r.rep.MissingRemote, "corrupt", r.rep.Corrupt,
		"unreadable", r.rep.Unreadable, "repaired", r.rep.Repaired, "dur", r.rep.Duration)
	return r.rep, nil
}

// fsckRun is one Fsck.
type fsckRun struct {
	n      *Upkeep
	opts   FsckOptions
	rep    FsckReport
	p      FsckProgress
	report func(FsckProgress)
	// goodRoots are the roots whose whole DAG was stored and verified,
	// by multihash: a copy naming one is not read again.
	goodRoots map[string]struct{}
	// repairs are the repairs attempted, by multihash.
	repairs map[string]repairOutcome
}

type repairOutcome struct {
	nd  ipld.Node // the block decoded, when repaired
	err error
}

// owner is the object a DAG walk checks; nil for the namespace.
type owner struct {
	bucket, key string
	remote      bool
}

func (r *fsckRun) checkObjects(ctx context.Context) error {
	n := r.n
	buckets, err := n.ns.ListBuckets(ctx)
	if err != nil {
		return err
	}
	for _, b := range buckets {
		it, err := n.ns.Objects(ctx, b.Name, "")
		if errors.Is(err, s3err.ErrNoSuchBucket) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		for it.Next() {
			rec, err := it.Record()
			if err == nil {
				err = r.checkObject(ctx, rec)
			}
			if err != nil {
				it.Close()
				return err
			}
		}
		err = it.Err()
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *fsckRun) checkObject(ctx context.Context, rec *namespace.ObjectRecord) error {
	r.rep.Objects++
	r.p.Objects++
	defer r.report(r.p)
	own, err := r.n.crdt.WrittenHere(rec.Bucket, rec.Key)
	if err != nil {
		return err
	}
	o := &owner{bucket: rec.Bucket, key: rec.Key, remote: !own}
	root, err := cid.Decode(rec.Root)
	if err != nil {
		r.add(FsckProblem{Kind: FsckUnreadable, Bucket: rec.Bucket, Key: rec.Key, CID: rec.Root, Detail: "the record's root is not a CID: " + err.Error()})
		return nil
	}
	if _, ok := r.goodRoots[string(root.Hash())]; ok {
		return nil
	}
	missing := r.rep.MissingRemote
	clean, err := r.walk(ctx, root, o, map[string]struct{}{})
	if err != nil {
		return err
	}
	if clean {
		r.goodRoots[string(root.Hash())] = struct{}{}
	}
	if r.rep.MissingRemote > missing {
		r.rep.RemoteObjectsPartial++
	}
	return nil
}

func (r *fsckRun) checkDeltas(ctx context.Context) error {
	visited := map[string]struct{}{}
	for _, h := range r.n.crdt.Heads(ctx) {
		if _, err := r.walk(ctx, h, nil, visited); err != nil {
			return err
		}
	}
	return nil
}

// walk checks root and every block below it that can be read, skipping
// those in visited and adding those it checks; clean reports that no
// block was bad (or every bad one was repaired).
func (r *fsckRun) walk(ctx context.Context, root cid.Cid, o *owner, visited map[string]struct{}) (clean bool, err error) {
	clean = true
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return false, context.Cause(ctx)
		}
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := visited[string(c.Hash())]; ok {
			continue
		}
		visited[string(c.Hash())] = struct{}{}
		if o == nil {
			r.rep.Deltas++
			r.p.Deltas++
		}
		nd, kind, detail, err := r.check(ctx, c)
		if err != nil {
			return false, err
		}
		if kind != "" {
			if nd, err = r.problem(ctx, c, kind, detail, o); err != nil {
				return false, err
			}
			if nd == nil {
				clean = false
				continue
			}
		}
		for _, l := range nd.Links() {
			stack = append(stack, l.Cid)
		}
	}
	return clean, nil
}

// check reads block c and verifies it: it returns the block decoded, or
// the kind of problem and what is wrong. err is only for ctx ending.
func (r *fsckRun) check(ctx context.Context, c cid.Cid) (nd ipld.Node, kind, detail string, err error) {
	b, err := r.n.blocks.Blockstore().Get(ctx, c)
	switch {
	case err == nil:
	case ipld.IsNotFound(err):
		return nil, FsckMissing, "not stored on this node", nil
	case errors.Is(err, boxobs.ErrHashMismatch):
		return nil, FsckCorrupt, "its content does not hash to its CID", nil
	case ctx.Err() != nil:
		return nil, "", "", context.Cause(ctx)
	default:
		return nil, FsckUnreadable, "the block store failed to read it: " + err.Error(), nil
	}
	r.p.Blocks++
	r.p.Bytes += int64(len(b.RawData()))
	if r.p.Blocks%gcReportEvery == 0 {
		r.report(r.p)
	}
	if err := dag.Verify(c, b); err != nil {
		return nil, FsckCorrupt, "its content does not hash to its CID", nil
	}
	if nd, err = dag.DecodeNode(b); err != nil {
		return nil, FsckUnreadable, "it matches its CID but cannot be decoded: " + err.Error(), nil
	}
	return nd, "", "", nil
}

// problem counts and lists a bad block and, when asked to and when it
// applies, repairs it; it returns the block decoded when it was repaired.
func (r *fsckRun) problem(ctx context.Context, c cid.Cid, kind, detail string, o *owner) (ipld.Node, error) {
	pr := FsckProblem{Kind: kind, CID: c.String(), Detail: detail}
	if o != nil {
		pr.Bucket, pr.Key, pr.Remote = o.bucket, o.key, o.remote
	}
	switch {
	case kind == FsckMissing && pr.Remote:
		r.rep.MissingRemote++
		pr.Detail = "not stored on this node (the object was written at another node)"
		r.add(pr)
		return nil, nil
	case kind == FsckMissing:
		r.rep.Missing++
	case kind == FsckCorrupt:
		r.rep.Corrupt++
	default:
		r.rep.Unreadable++
	}
	r.p.Problems++
	if !r.opts.Repair || kind == FsckUnreadable {
		r.add(pr)
		return nil, nil
	}
	out, done := r.repairs[string(c.Hash())]
	if !done {
		nd, err := r.repair(ctx, c, kind == FsckCorrupt)
		if err != nil && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		out = repairOutcome{nd: nd, err: err}
		r.repairs[string(c.Hash())] = out
	}
	if out.err != nil {
		pr.Detail += "; not repaired: " + out.err.Error()
		r.add(pr)
		return nil, nil
	}
	pr.Repaired = true
	r.rep.Repaired++
	r.add(pr)
	return out.nd, nil
}

func (r *fsckRun) add(pr FsckProblem) {
	if len(r.rep.Problems) >= r.opts.MaxProblems {
		r.rep.Truncated = true
		return
	}
	r.rep.Problems = append(r.rep.Problems, pr)
}

// repair fetches block c from the exchange within Config.FetchTimeout,
// verified, and stores it durably in place of the corrupt copy when
// corrupt; it returns the block decoded.
func (r *fsckRun) repair(ctx context.Context, c cid.Cid, corrupt bool) (ipld.Node, error) {
	n := r.n
	if !n.fetch.Online() {
		return nil, errors.New("this node has no exchange to fetch it from")
	}
	fctx, cancel := context.WithTimeout(ctx, n.cfg.FetchTimeout)
	b, err := n.fetch.FetchFresh(fctx, c) // verified, never the local copy
	cancel()
	if err != nil {
		if ctx.Err() == nil && fctx.Err() != nil {
			return nil, fmt.Errorf("no reachable peer provided it within %s", n.cfg.FetchTimeout)
		}
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if err := dag.Verify(c, b); err != nil { // the exchange verified it; Config.Exchange may be anything
		return nil, err
	}
	if corrupt {
		if _, _, err := n.blocks.DeleteBlocks(ctx, []cid.Cid{c}); err != nil {
			return nil, fmt.Errorf("remove the corrupt copy: %w", err)
		}
	}
	if err := n.blocks.Blockstore().Put(ctx, b); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := n.blocks.Sync(ctx); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// Read back what the store now holds.
	stored, err := n.blocks.Blockstore().Get(ctx, c)
	if err == nil {
		err = dag.Verify(c, stored)
	}
	if err != nil {
		return nil, fmt.Errorf("stored copy: %w", err)
	}
	nd, err := dag.DecodeNode(stored)
	if err != nil {
		return nil, fmt.Errorf("fetched copy: %w", err)
	}
	r.p.Blocks++
	r.p.Bytes += int64(len(stored.RawData()))
	n.cfg.Logger.Info("fsck repaired a block", "op", "Fsck", "cid", c.String(), "corrupt", corrupt)
	return nd, nil
}
