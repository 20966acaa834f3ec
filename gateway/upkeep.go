package gateway

import (
	"context"

	"s3mesh/gateway/upkeep"
)

// ErrMaintenanceRunning is returned by GC and Fsck while another GC or
// Fsck runs on the node: they run one at a time.
var ErrMaintenanceRunning = upkeep.ErrMaintenanceRunning

// GC phases, as GCProgress.Phase reports them.
const (
	GCPhaseMark  = upkeep.GCPhaseMark
	GCPhaseSweep = upkeep.GCPhaseSweep
)

// Upkeep's reports and options, as the Node's API speaks them (see package
// upkeep).
type (
	GCProgress   = upkeep.GCProgress
	GCResult     = upkeep.GCResult
	FsckOptions  = upkeep.FsckOptions
	FsckProblem  = upkeep.FsckProblem
	FsckProgress = upkeep.FsckProgress
	FsckReport   = upkeep.FsckReport
	BlockUsage   = upkeep.BlockUsage
)

// GC removes from the local block store every block nothing on this node
// needs (see upkeep.Upkeep.GC).
func (n *Node) GC(ctx context.Context, progress func(GCProgress)) (GCResult, error) {
	return n.upkeep.GC(ctx, progress)
}

// Fsck reads and hash-verifies every block of every object and of the
// namespace, and can repair them from peers (see upkeep.Upkeep.Fsck).
func (n *Node) Fsck(ctx context.Context, opts FsckOptions, progress func(FsckProgress)) (FsckReport, error) {
	return n.upkeep.Fsck(ctx, opts, progress)
}

// ScanUsage counts the blocks owned, cached and unreferenced (see
// upkeep.Upkeep.ScanUsage).
func (n *Node) ScanUsage(ctx context.Context) (BlockUsage, error) { return n.upkeep.ScanUsage(ctx) }

// BlockUsage returns the latest ScanUsage's result.
func (n *Node) BlockUsage() BlockUsage { return n.upkeep.BlockUsage() }

// The cache's reports (see package upkeep).
type (
	CacheStatus = upkeep.CacheStatus
	EvictResult = upkeep.EvictResult
)

// Evict removes at least need bytes of cached blocks, least recently read
// first (see upkeep.Upkeep.Evict); it waits for a GC or fsck that runs.
func (n *Node) Evict(ctx context.Context, need int64) (EvictResult, error) {
	return n.upkeep.Evict(ctx, need)
}

// CacheStatus returns the cache budget and use and the disk's free space.
func (n *Node) CacheStatus() CacheStatus { return n.upkeep.CacheStatus() }
