package admin

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/multiformats/go-multiaddr"

	"s3mesh/gateway"
)

// pingTimeout bounds the pings PeersPath sends to connected peers to
// refresh their round-trip times, and each round of the history's pings.
const pingTimeout = 2 * time.Second

// PeersResponse is the body of GET PeersPath.
type PeersResponse struct {
	ID    string       `json:"id"`
	Addrs []string     `json:"addrs"`
	Peers []PeerStatus `json:"peers"`
}

// PeerStatus describes one peer. RTTMillis is null when never measured.
type PeerStatus struct {
	ID        string   `json:"id"`
	Addrs     []string `json:"addrs"`
	Connected bool     `json:"connected"`
	Static    bool     `json:"static"`
	RTTMillis *float64 `json:"rtt_ms"`
	// Office is what the peer announced ("" if nothing); Class is lan
	// (same office as this node) or wan.
	Office string `json:"office"`
	Class  string `json:"class"`
}

// StatusResponse is the body of GET StatusPath.
type StatusResponse struct {
	Version        string          `json:"version"`
	ID             string          `json:"id"`
	Endpoint       string          `json:"endpoint"`
	Addrs          []string        `json:"addrs"`
	DataDir        string          `json:"data_dir"`
	Started        time.Time       `json:"started"`
	UptimeSeconds  float64         `json:"uptime_seconds"`
	PeersConnected int             `json:"peers_connected"`
	PeersStatic    int             `json:"peers_static"`
	Blocks         BlockCounts     `json:"blocks"`
	IPFSGateway    string          `json:"ipfs_gateway"`
	Namespace      NamespaceStatus `json:"namespace"`
	Disk           *DiskStatus     `json:"disk"`  // the data directory's file system; null when unknown
	Usage          *UsageStatus    `json:"usage"` // owned and cached blocks; null before the first usage scan
	Cache          *CacheStatus    `json:"cache"` // the cache budget and the free space kept; null when unknown
}

// CacheStatus is the status's "cache" (see gateway.CacheStatus).
type CacheStatus struct {
	BudgetBytes   int64  `json:"budget_bytes"` // 0: no budget
	UsedBytes     int64  `json:"used_bytes"`
	MinFreeBytes  int64  `json:"min_free_bytes"` // 0: not watched
	DiskFreeBytes uint64 `json:"disk_free_bytes"`
	WritesRefused bool   `json:"writes_refused"` // the disk is below min_free
	Hits          int64  `json:"hits"`
	Misses        int64  `json:"misses"`
	EvictedBlocks int64  `json:"evicted_blocks"`
	EvictedBytes  int64  `json:"evicted_bytes"`
}

// NamespaceStatus is the replicated namespace's part of the status (see
// gateway.NamespaceStatus). The lag figures cover the latest updates
// written at other offices (at most 1024); they are null when none has
// arrived since the node started.
type NamespaceStatus struct {
	Network     string     `json:"network"`
	Topic       string     `json:"topic"`
	TopicPeers  int        `json:"topic_peers"`
	Heads       int        `json:"heads"`
	MaxHeight   uint64     `json:"max_height"`
	QueuedJobs  int        `json:"queued_jobs"`
	Dirty       bool       `json:"dirty"`
	LagSamples  int        `json:"lag_samples"`
	LagP50Ms    *float64   `json:"lag_p50_ms"`
	LagP99Ms    *float64   `json:"lag_p99_ms"`
	LagMaxMs    *float64   `json:"lag_max_ms"`
	LastApplied *time.Time `json:"last_remote_update"`
	// Epoch, Snapshot and SnapshotItems name the snapshot the node's
	// current epoch started from (epoch 0 and "" before the first fold);
	// Backlog is the epoch's DAG height: the deltas a node joining now
	// walks after the snapshot; Join is the latest move to a snapshot.
	Epoch         uint64      `json:"epoch"`
	Snapshot      string      `json:"snapshot"`
	SnapshotItems int64       `json:"snapshot_items"`
	Backlog       uint64      `json:"delta_backlog"`
	Join          *JoinStatus `json:"join"` // null before the node first moved to a snapshot
}

// JoinStatus is the progress of a move to a snapshot (see
// gateway.NamespaceStatus).
type JoinStatus struct {
	State       string     `json:"state"` // fetching, installing, switching, done or failed
	Snapshot    string     `json:"snapshot"`
	Epoch       uint64     `json:"epoch"`
	Leaves      int        `json:"leaves"`
	LeavesDone  int        `json:"leaves_done"`
	Items       int64      `json:"items"`
	ItemsDone   int64      `json:"items_done"`
	Bytes       int64      `json:"bytes"`
	Republished int        `json:"republished"`
	Started     time.Time  `json:"started"`
	Finished    *time.Time `json:"finished"`
	Error       string     `json:"error,omitempty"`
}

func newNamespaceStatus(st gateway.NamespaceStatus) NamespaceStatus {
	out := NamespaceStatus{
		Network: st.Network, Topic: st.Topic, TopicPeers: st.TopicPeers, Heads: st.Heads,
		MaxHeight: st.MaxHeight, QueuedJobs: st.QueuedJobs, Dirty: st.Dirty, LagSamples: st.Lag.Samples,
		Epoch: st.Epoch.Epoch, Snapshot: st.Epoch.Snapshot, SnapshotItems: st.Epoch.SnapshotItems, Backlog: st.Epoch.Backlog,
	}
	if j := st.Epoch.Join; j.State != "" {
		out.Join = &JoinStatus{State: j.State, Snapshot: j.Snapshot, Epoch: j.Epoch, Leaves: j.Leaves, LeavesDone: j.LeavesDone,
			Items: j.Items, ItemsDone: j.ItemsDone, Bytes: j.Bytes, Republished: j.Republished, Started: j.Started.UTC(), Error: j.Err}
		if !j.Finished.IsZero() {
			f := j.Finished.UTC()
			out.Join.Finished = &f
		}
	}
	if st.Lag.Samples > 0 {
		ms := func(d time.Duration) *float64 { v := math.Round(float64(d)/1e3) / 1e3; return &v }
		last := st.Lag.Last.UTC()
		out.LagP50Ms, out.LagP99Ms, out.LagMaxMs, out.LastApplied = ms(st.Lag.P50), ms(st.Lag.P99), ms(st.Lag.Max), &last
	}
	return out
}

// BlockCounts are the blocks in the local block store.
type BlockCounts struct {
	Count int64 `json:"count"`
	Bytes int64 `json:"bytes"`
}

// UsageStatus is the status's "usage": the latest gateway.BlockUsage.
type UsageStatus struct {
	OwnedBytes        int64     `json:"owned_bytes"`
	CachedBytes       int64     `json:"cached_bytes"`
	UnreferencedBytes int64     `json:"unreferenced_bytes"`
	ScannedAt         time.Time `json:"scanned_at"`
}

// servePeers answers GET PeersPath.
func (a *api) servePeers(w http.ResponseWriter, r *http.Request) error {
	if a.p2p == nil {
		return errNotServed("peers")
	}
	writeJSON(w, r, http.StatusOK, a.peers(r.Context()))
	return nil
}

// serveStatus answers GET StatusPath.
func (a *api) serveStatus(w http.ResponseWriter, r *http.Request) error {
	if a.p2p == nil {
		return errNotServed("status")
	}
	writeJSON(w, r, http.StatusOK, a.status(r.Context()))
	return nil
}

// peers pings the connected peers (bounded by pingTimeout) so their
// round-trip times are fresh, then lists all peers.
func (a *api) peers(ctx context.Context) PeersResponse {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	var wg sync.WaitGroup
	for _, p := range a.p2p.Peers() {
		if p.Connected {
			wg.Go(func() { _, _ = a.p2p.Ping(ctx, p.ID) }) // failures keep the last RTT
		}
	}
	wg.Wait()
	cancel()

	out := PeersResponse{ID: a.p2p.ID().String(), Addrs: addrStrings(a.p2p.Addrs()), Peers: []PeerStatus{}}
	for _, p := range a.p2p.Peers() {
		ps := PeerStatus{ID: p.ID.String(), Addrs: p.Addrs, Connected: p.Connected, Static: p.Static, Office: p.Office, Class: p.Class}
		if ps.Addrs == nil {
			ps.Addrs = []string{}
		}
		if p.RTT > 0 {
			ms := float64(p.RTT) / float64(time.Millisecond)
			ps.RTTMillis = &ms
		}
		out.Peers = append(out.Peers, ps)
	}
	return out
}

func (a *api) status(ctx context.Context) StatusResponse {
	var connected, static int
	for _, p := range a.p2p.Peers() {
		if p.Connected {
			connected++
		}
		if p.Static {
			static++
		}
	}
	out := StatusResponse{
		Version:        a.version,
		ID:             a.p2p.ID().String(),
		Endpoint:       a.endpoint,
		Addrs:          addrStrings(a.p2p.Addrs()),
		DataDir:        a.dataDir,
		Started:        a.started.UTC().Truncate(time.Second),
		UptimeSeconds:  math.Round(a.now().Sub(a.started).Seconds()*1000) / 1000,
		PeersConnected: connected,
		PeersStatic:    static,
		IPFSGateway:    a.ipfsGateway,
		Disk:           diskOf(a.dataDir),
		Usage:          a.usageStatus(),
	}
	if a.cache != nil {
		c := a.cache()
		out.Cache = &CacheStatus{BudgetBytes: c.Budget, UsedBytes: c.Used, MinFreeBytes: c.MinFree, DiskFreeBytes: c.DiskFree,
			WritesRefused: c.Full, Hits: c.Hits, Misses: c.Misses, EvictedBlocks: c.Evicted, EvictedBytes: c.EvictedBytes}
	}
	if a.blocks != nil {
		st := a.blocks.Stats()
		out.Blocks = BlockCounts{Count: st.Blocks, Bytes: st.Bytes}
	}
	if a.namespace != nil {
		out.Namespace = newNamespaceStatus(a.namespace(ctx))
	}
	return out
}

func addrStrings(as []multiaddr.Multiaddr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

func (a *api) usageStatus() *UsageStatus {
	if a.usage == nil {
		return nil
	}
	u := a.usage()
	if u.At.IsZero() {
		return nil
	}
	return &UsageStatus{OwnedBytes: u.OwnedBytes, CachedBytes: u.CachedBytes, UnreferencedBytes: u.UnreferencedBytes, ScannedAt: u.At.UTC()}
}
