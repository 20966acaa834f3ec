package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

	"s3mesh/blockstore"
	"s3mesh/exchange"
	"s3mesh/gateway"
	"s3mesh/s3api/s3err"
)

// The admin API lives on the S3 listener under adminPrefix. Routing rule
// (see rootHandler): a path-style request whose path starts with
// adminPrefix is an admin request, whatever its method; a virtual-hosted
// request (bucket.<domain>) never is, so a key "admin/v1/…" in any bucket
// stays reachable. The bucket names "admin", "ipfs" and "ui" are reserved:
// CreateBucket refuses them, so no S3 bucket is ever shadowed.
const (
	adminPrefix     = "/admin/v1/"
	adminPeersPath  = adminPrefix + "peers"
	adminStatusPath = adminPrefix + "status"
)

// reservedBuckets are the bucket names the node's own endpoints use.
var reservedBuckets = map[string]string{
	"admin": "the admin API (" + adminPrefix + ")",
	"ipfs":  "the IPFS gateway (/ipfs/)",
	"ui":    "the status page (" + uiPrefix + ")",
}

// adminPingTimeout bounds the pings /admin/v1/peers sends to connected
// peers to refresh their round-trip times.
const adminPingTimeout = 2 * time.Second

// p2pNode is what the admin API reads from the libp2p node; *exchange.Node
// implements it.
type p2pNode interface {
	ID() peer.ID
	Addrs() []multiaddr.Multiaddr
	Peers() []exchange.PeerInfo
	Ping(ctx context.Context, p peer.ID) (time.Duration, error)
}

// adminAPI serves the endpoints listed by endpoints. It does not
// authenticate: rootHandler does, before handing a request over.
type adminAPI struct {
	p2p         p2pNode
	blocks      func() blockstore.Stats
	namespace   func(context.Context) gateway.NamespaceStatus
	usage       func() gateway.BlockUsage // nil: no usage in the status
	started     time.Time
	dataDir     string
	endpoint    string // the S3 endpoint URL
	ipfsGateway string // off, auth or open

	// buckets and history feed /admin/v1/buckets and /admin/v1/history;
	// when nil, those answer NotImplemented.
	buckets *bucketStats
	history *history
	// maint runs /admin/v1/gc and /admin/v1/fsck (see admin_gc.go); when
	// nil, those answer NotImplemented.
	maint maintainer
	// repl serves /admin/v1/replication and /admin/v1/buckets/replicate
	// (see admin_replication.go); when nil, those answer NotImplemented.
	repl replication
	// chunkers serves /admin/v1/bucket-chunker (see admin_chunker.go);
	// when nil, it answers NotImplemented.
	chunkers bucketChunkers
}

// peersResponse is the body of GET /admin/v1/peers.
type peersResponse struct {
	ID    string       `json:"id"`
	Addrs []string     `json:"addrs"`
	Peers []peerStatus `json:"peers"`
}

// peerStatus describes one peer. RTTMillis is null when never measured.
type peerStatus struct {
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

// statusResponse is the body of GET /admin/v1/status.
type statusResponse struct {
	Version        string       `json:"version"`
	ID             string       `json:"id"`
	Endpoint       string       `json:"endpoint"`
	Addrs          []string     `json:"addrs"`
	DataDir        string       `json:"data_dir"`
	Started        time.Time    `json:"started"`
	UptimeSeconds  float64      `json:"uptime_seconds"`
	PeersConnected int          `json:"peers_connected"`
	PeersStatic    int          `json:"peers_static"`
	Blocks         blockCounts  `json:"blocks"`
	IPFSGateway    string       `json:"ipfs_gateway"`
	Namespace      nsStatus     `json:"namespace"`
	Disk           *diskStatus  `json:"disk"`  // the data directory's file system; null when unknown
	Usage          *usageStatus `json:"usage"` // owned and cached blocks; null before the first usage scan
}

// nsStatus is the replicated namespace's part of the status (see
// gateway.NamespaceStatus). The lag figures cover the latest updates
// written at other offices (at most 1024); they are null when none has
// arrived since the node started.
type nsStatus struct {
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
}

func newNSStatus(st gateway.NamespaceStatus) nsStatus {
	out := nsStatus{
		Network: st.Network, Topic: st.Topic, TopicPeers: st.TopicPeers, Heads: st.Heads,
		MaxHeight: st.MaxHeight, QueuedJobs: st.QueuedJobs, Dirty: st.Dirty, LagSamples: st.Lag.Samples,
	}
	if st.Lag.Samples > 0 {
		ms := func(d time.Duration) *float64 { v := math.Round(float64(d)/1e3) / 1e3; return &v }
		last := st.Lag.Last.UTC()
		out.LagP50Ms, out.LagP99Ms, out.LagMaxMs, out.LastApplied = ms(st.Lag.P50), ms(st.Lag.P99), ms(st.Lag.Max), &last
	}
	return out
}

type blockCounts struct {
	Count int64 `json:"count"`
	Bytes int64 `json:"bytes"`
}

// adminError is the body of an admin API error.
type adminError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// adminEndpoint is one admin API path: the methods it answers and its
// handler, which writes the whole response (writeJSON, writeAdminError).
type adminEndpoint struct {
	methods []string
	serve   func(w http.ResponseWriter, r *http.Request)
}

// endpoints lists every admin API path. GET endpoints also answer HEAD.
func (a *adminAPI) endpoints() map[string]adminEndpoint {
	get := []string{http.MethodGet, http.MethodHead}
	return map[string]adminEndpoint{
		adminPeersPath: {get, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, r, http.StatusOK, a.peers(r.Context()))
		}},
		adminStatusPath: {get, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, r, http.StatusOK, a.status(r.Context()))
		}},
		adminBucketsPath:         {get, a.serveBuckets},
		adminHistoryPath:         {get, a.serveHistory},
		adminGCPath:              {[]string{http.MethodPost}, a.serveGC},
		adminFsckPath:            {[]string{http.MethodPost}, a.serveFsck},
		adminReplicationPath:     {get, a.serveReplication},
		adminBucketReplicatePath: {[]string{http.MethodPost}, a.serveBucketReplicate},
		adminChunkerPath:         {[]string{http.MethodGet, http.MethodHead, http.MethodPost}, a.serveChunker},
	}
}

func (a *adminAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	eps := a.endpoints()
	ep, ok := eps[r.URL.Path]
	if !ok {
		paths := make([]string, 0, len(eps))
		for p := range eps {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		writeAdminError(w, r, &s3err.Error{Code: s3err.ErrNoSuchKey, Message: "No admin endpoint " + r.URL.Path + "; the endpoints are " + strings.Join(paths, ", ") + "."})
		return
	}
	if !slices.Contains(ep.methods, r.Method) {
		w.Header().Set("Allow", strings.Join(ep.methods, ", "))
		writeAdminError(w, r, s3err.New(s3err.ErrMethodNotAllowed, r.URL.Path+" answers "+strings.Join(ep.methods, " and ")+" only."))
		return
	}
	ep.serve(w, r)
}

// peers pings the connected peers (bounded by adminPingTimeout) so their
// round-trip times are fresh, then lists all peers.
func (a *adminAPI) peers(ctx context.Context) peersResponse {
	ctx, cancel := context.WithTimeout(ctx, adminPingTimeout)
	var wg sync.WaitGroup
	for _, p := range a.p2p.Peers() {
		if p.Connected {
			wg.Go(func() { _, _ = a.p2p.Ping(ctx, p.ID) }) // failures keep the last RTT
		}
	}
	wg.Wait()
	cancel()

	out := peersResponse{ID: a.p2p.ID().String(), Addrs: addrStrings(a.p2p.Addrs()), Peers: []peerStatus{}}
	for _, p := range a.p2p.Peers() {
		ps := peerStatus{ID: p.ID.String(), Addrs: p.Addrs, Connected: p.Connected, Static: p.Static, Office: p.Office, Class: p.Class}
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

func (a *adminAPI) status(ctx context.Context) statusResponse {
	var connected, static int
	for _, p := range a.p2p.Peers() {
		if p.Connected {
			connected++
		}
		if p.Static {
			static++
		}
	}
	st := a.blocks()
	return statusResponse{
		Version:        version(),
		ID:             a.p2p.ID().String(),
		Endpoint:       a.endpoint,
		Addrs:          addrStrings(a.p2p.Addrs()),
		DataDir:        a.dataDir,
		Started:        a.started.UTC().Truncate(time.Second),
		UptimeSeconds:  math.Round(time.Since(a.started).Seconds()*1000) / 1000,
		PeersConnected: connected,
		PeersStatic:    static,
		Blocks:         blockCounts{Count: st.Blocks, Bytes: st.Bytes},
		IPFSGateway:    a.ipfsGateway,
		Namespace:      newNSStatus(a.namespace(ctx)),
		Disk:           diskOf(a.dataDir),
		Usage:          a.usageStatus(),
	}
}

func addrStrings(as []multiaddr.Multiaddr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
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

// writeAdminError answers err as a JSON adminError with the status of its
// S3 code; an error without one is InternalError, its detail not sent.
func writeAdminError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := s3err.As(err)
	if !ok || !e.Code.Known() {
		e = &s3err.Error{Code: s3err.ErrInternalError}
	}
	writeJSON(w, r, e.Code.Status(), adminError{Code: string(e.Code), Message: e.ClientMessage()})
}

// isAdminPath reports whether a path-style request path addresses the
// admin API.
func isAdminPath(path string) bool { return strings.HasPrefix(path, adminPrefix) }

// errReservedBucket is the error for CreateBucket of a reserved name.
func errReservedBucket(name string) error {
	return s3err.New(s3err.ErrInvalidBucketName, "The bucket name "+name+" is reserved for "+reservedBuckets[name]+" of this node.")
}

// usageStatus is the status's "usage": the latest gateway.BlockUsage.
type usageStatus struct {
	OwnedBytes        int64     `json:"owned_bytes"`
	CachedBytes       int64     `json:"cached_bytes"`
	UnreferencedBytes int64     `json:"unreferenced_bytes"`
	ScannedAt         time.Time `json:"scanned_at"`
}

func (a *adminAPI) usageStatus() *usageStatus {
	if a.usage == nil {
		return nil
	}
	u := a.usage()
	if u.At.IsZero() {
		return nil
	}
	return &usageStatus{OwnedBytes: u.OwnedBytes, CachedBytes: u.CachedBytes, UnreferencedBytes: u.UnreferencedBytes, ScannedAt: u.At.UTC()}
}
