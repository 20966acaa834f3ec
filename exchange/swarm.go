package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	bsnet "github.com/ipfs/boxo/bitswap/network"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Defaults of a Swarm's fetches (see SetRequest).
const (
	// DefaultSwarmPeerWindow is how many blocks a set fetch keeps
	// requested from one peer at once: with 1 MiB blocks, 4 MiB in flight,
	// enough to fill a 200 Mbit/s link with a 100 ms round trip while a
	// slow peer holds few requests hostage.
	DefaultSwarmPeerWindow = 4
	// DefaultSwarmWindow is how many blocks a set fetch keeps requested
	// from all peers together.
	DefaultSwarmWindow = 32
	// swarmSubscribeMax bounds the want-haves the fetches in progress keep
	// registered at one peer together, below the Bitswap server's default
	// ledger of 1,024 wants per peer (which this node's other wants share).
	swarmSubscribeMax = 512
	// swarmPeerWindowMax bounds the window a long fat link earns (see
	// Swarm.peerWindowLocked): 64 MiB of 1 MiB blocks.
	swarmPeerWindowMax = 64
	// swarmRequestTimeout is how long a block requested from a peer may
	// take before it is asked of another holder.
	swarmRequestTimeout = 15 * time.Second
	// swarmSeedPenalty weighs a peer that has every block asked of it (the
	// writer of an object, an office that finished) against the peers
	// still fetching, for a block they hold too: see Swarm.
	swarmSeedPenalty = 4
	// swarmDefaultRate is the delivery rate assumed for a peer until a
	// block from it was timed, in bytes per second.
	swarmDefaultRate = 4 << 20
)

// SetRequest is one fetch of a set of blocks by a Swarm.
type SetRequest struct {
	// Blocks are the blocks to make local, in this node's order of
	// preference (each office passes its own order, so that offices hold
	// different blocks early). No duplicates.
	Blocks []cid.Cid
	// Sizes are the blocks' sizes in bytes, for choosing peers; nil or a
	// zero entry means 1 MiB.
	Sizes []int64
	// Got, when not nil, is called with each block once it is stored, from
	// the goroutine that received it; it must not block for long.
	Got func(blocks.Block)
	// Owners, when not nil, names for each block the node whose share it
	// is: the office meant to get it from a seed (a peer holding every
	// block asked of it: the writer) and pass it on. This node asks a seed
	// for a block no one else holds only if the block is its own share, or
	// if the block's owner is not fetching (not connected, or a seed
	// itself: done); otherwise it waits for the owner to announce the
	// block, and asks a seed itself only when it has nothing else in
	// flight and its share is complete (one block at a time, picked at
	// random: the owner is slow). So every office asks the writer for its
	// own share, and the writer sends each block about once. nil: every
	// block is this node's share (a node alone).
	Owners []peer.ID
	// PeerWindow and Window override DefaultSwarmPeerWindow and
	// DefaultSwarmWindow when positive.
	PeerWindow, Window int
}

// Swarm fetches sets of blocks (the leaves of an object every office
// replicates) by asking chosen peers for chosen blocks, on Bitswap's wire
// protocol, beside the node's Bitswap client. Every peer's Bitswap server
// answers it unchanged.
//
// The Bitswap client asks every peer for every block a session wants and
// takes whichever copy comes first, so a block is often sent twice, and
// every office reading a new object asks its writer first. A set fetch
// instead:
//
//   - subscribes to the blocks at every connected peer: a want-have with
//     send-dont-have for each missing block (up to swarmSubscribeMax per
//     peer). A Bitswap server answers HAVE or DONT_HAVE at once and keeps
//     a want-have it could not satisfy, answering HAVE as soon as the block
//     arrives: each office learns which peer holds which block as it
//     happens, like BitTorrent's have messages;
//   - requests each block with one want-block from one holder: walking the
//     blocks in the caller's order, it picks the holder expected to
//     deliver first — its queue of blocks requested by this node divided
//     by its measured delivery rate — with a seed (a peer that has held
//     every block asked of it: the writer, an office that finished)
//     weighed swarmSeedPenalty times, and waits when that holder's window
//     is full. A block only seeds hold is asked of them only if it is in
//     this node's share or its owner is not fetching (SetRequest.Owners),
//     or, when nothing else is in flight, one at a time: every office asks
//     the writer for its own share, so the writer sends each block about
//     once, and for a block others hold only while it delivers more than
//     four times as fast as they do (a fast origin);
//   - keeps at most PeerWindow blocks requested per peer (more on a long
//     fat link: twice the peer's measured rate times its round trip) and
//     Window in all, cancels its want-haves as blocks arrive, and asks another
//     holder when a peer answers DONT_HAVE, disconnects, or takes longer
//     than swarmRequestTimeout.
//
// A received block is verified by construction (Bitswap's message decoder
// computes its CID from its bytes), stored, and announced to the node's
// Bitswap (Config.Notify): the server then sends HAVE to the peers
// subscribed to it, and sessions waiting for it get it.
type Swarm struct {
	net    bsnet.BitSwapNetwork
	store  blockstore.Blockstore
	notify func(context.Context, ...blocks.Block) error
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	peers map[peer.ID]*swarmPeer
	wants map[cid.Cid][]*swarmSet
	sets  map[*swarmSet]struct{}

	closeOnce sync.Once
}

// SwarmConfig configures NewSwarm.
type SwarmConfig struct {
	// Network is the Bitswap network to send on; NewSwarm returns the
	// network to build Bitswap on in its place.
	Network bsnet.BitSwapNetwork
	// Store is where fetched blocks are put.
	Store blockstore.Blockstore
	// Logger; nil discards.
	Logger *slog.Logger
}

// NewSwarm returns a Swarm sending on cfg.Network, and the network to give
// bitswap.New instead of cfg.Network: it passes every received message and
// peer event to the Swarm as well. Call SetNotify with the Bitswap built
// on it before the first FetchSet.
func NewSwarm(cfg SwarmConfig) (*Swarm, bsnet.BitSwapNetwork) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Swarm{
		net: cfg.Network, store: cfg.Store, log: log, ctx: ctx, cancel: cancel,
		peers: map[peer.ID]*swarmPeer{},
		wants: map[cid.Cid][]*swarmSet{},
		sets:  map[*swarmSet]struct{}{},
	}
	return s, swarmNetwork{BitSwapNetwork: cfg.Network, s: s}
}

// SetNotify sets the function announcing stored blocks to the node's
// Bitswap (its NotifyNewBlocks).
func (s *Swarm) SetNotify(f func(context.Context, ...blocks.Block) error) {
	s.mu.Lock()
	s.notify = f
	s.mu.Unlock()
}

// Close stops the peers' senders; fetches in progress fail.
func (s *Swarm) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		for set := range s.sets {
			set.finish(errors.New("exchange: swarm closed"))
		}
	})
}

// swarmNetwork is the Bitswap network with the Swarm as a second receiver.
type swarmNetwork struct {
	bsnet.BitSwapNetwork
	s *Swarm
}

func (n swarmNetwork) Start(r ...bsnet.Receiver) {
	n.BitSwapNetwork.Start(append(r, swarmReceiver{n.s})...)
}

// swarmReceiver is the Swarm's side of the network.
type swarmReceiver struct{ s *Swarm }

func (r swarmReceiver) ReceiveMessage(ctx context.Context, p peer.ID, m bsmsg.BitSwapMessage) {
	r.s.receive(ctx, p, m)
}
func (swarmReceiver) ReceiveError(error)           {}
func (r swarmReceiver) PeerConnected(p peer.ID)    { r.s.connected(p) }
func (r swarmReceiver) PeerDisconnected(p peer.ID) { r.s.disconnected(p) }

// swarmPeer is a connected peer: its sender and delivery rate.
type swarmPeer struct {
	id      peer.ID
	pending map[cid.Cid]swarmEntry // entries not sent yet, by CID: the last word wins
	wake    chan struct{}
	// outstanding counts the requests sent to the peer and not ended;
	// busyFrom is when the current busy stretch was last accounted; busy
	// (seconds) and bytes are what rateNow divides.
	outstanding int
	busyFrom    time.Time
	busy, bytes float64
}

type swarmEntry struct {
	cancel   bool
	wantType pb.Message_Wantlist_WantType
	priority int32
}

// FetchSet makes every block of req local, as described on Swarm. It
// returns nil once all are stored, ctx's error when it ends first, or an
// error when the swarm is closed. Blocks already local count as fetched
// (and are not passed to Got). Concurrent fetches of sets that share
// blocks each get every block.
func (s *Swarm) FetchSet(ctx context.Context, req SetRequest) error {
	set, err := s.newSet(ctx, req)
	if err != nil || set == nil {
		return err
	}
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return errors.New("exchange: swarm closed")
	}
	s.sets[set] = struct{}{}
	for i, c := range set.order {
		if !set.done[i] {
			s.wants[c] = append(s.wants[c], set)
		}
	}
	s.scheduleLocked(set)
	s.mu.Unlock()

	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-set.finished:
			s.release(set)
			return set.err
		case <-ctx.Done():
			s.mu.Lock()
			set.finish(ctx.Err())
			s.mu.Unlock()
			s.release(set)
			return ctx.Err()
		case <-s.ctx.Done():
			s.release(set)
			return errors.New("exchange: swarm closed")
		case now := <-t.C:
			s.mu.Lock()
			s.expireLocked(set, now)
			s.scheduleLocked(set)
			s.mu.Unlock()
		}
	}
}

// newSet checks which blocks of req are local and returns the set of
// those missing; nil when none is.
func (s *Swarm) newSet(ctx context.Context, req SetRequest) (*swarmSet, error) {
	set := &swarmSet{
		req: req, order: req.Blocks,
		idx:      make(map[cid.Cid]int, len(req.Blocks)),
		size:     make([]int64, len(req.Blocks)),
		done:     make([]bool, len(req.Blocks)),
		asked:    make([]peer.ID, len(req.Blocks)),
		askedAt:  make([]time.Time, len(req.Blocks)),
		holders:  make([]map[peer.ID]bool, len(req.Blocks)),
		per:      map[peer.ID]*setPeer{},
		finished: make(chan struct{}),
	}
	set.peerWindow, set.window = req.PeerWindow, req.Window
	if set.peerWindow <= 0 {
		set.peerWindow = DefaultSwarmPeerWindow
	}
	if set.window <= 0 {
		set.window = DefaultSwarmWindow
	}
	if req.Owners != nil && len(req.Owners) != len(req.Blocks) {
		return nil, fmt.Errorf("exchange: fetch set: %d owners for %d blocks", len(req.Owners), len(req.Blocks))
	}
	set.owners, set.self = req.Owners, s.net.Self()
	for i, c := range req.Blocks {
		if _, dup := set.idx[c]; dup {
			return nil, fmt.Errorf("exchange: fetch set: block %s listed twice", c)
		}
		set.idx[c] = i
		set.size[i] = 1 << 20
		if i < len(req.Sizes) && req.Sizes[i] > 0 {
			set.size[i] = req.Sizes[i]
		}
		has, err := s.store.Has(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("exchange: fetch set: %w", err)
		}
		if has {
			set.done[i] = true
		} else {
			set.remaining++
			if set.mine(i) {
				set.shareRemaining++
			}
		}
	}
	if set.remaining == 0 {
		return nil, nil
	}
	var total int64
	for _, n := range set.size {
		total += n
	}
	set.meanSize = float64(total) / float64(len(set.size))
	return set, nil
}

// release forgets a finished set and withdraws its wants from the peers.
func (s *Swarm) release(set *swarmSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sets, set)
	for i, c := range set.order {
		if set.done[i] {
			continue
		}
		s.wants[c] = deleteSet(s.wants[c], set)
		if len(s.wants[c]) == 0 {
			delete(s.wants, c)
		}
	}
	for p, sp := range set.per {
		for i := range sp.subscribed {
			s.sendLocked(p, set.order[i], swarmEntry{cancel: true})
		}
		for i := range sp.asked {
			s.sendLocked(p, set.order[i], swarmEntry{cancel: true})
		}
	}
}

func deleteSet(sets []*swarmSet, set *swarmSet) []*swarmSet {
	for i, x := range sets {
		if x == set {
			return append(sets[:i], sets[i+1:]...)
		}
	}
	return sets
}

// swarmSet is one FetchSet in progress; guarded by Swarm.mu.
type swarmSet struct {
	req            SetRequest
	order          []cid.Cid
	idx            map[cid.Cid]int
	size           []int64
	done           []bool
	asked          []peer.ID // the peer block i is requested from, "" if none
	askedAt        []time.Time
	holders        []map[peer.ID]bool
	per            map[peer.ID]*setPeer
	remaining      int
	owners         []peer.ID // SetRequest.Owners
	self           peer.ID
	shareRemaining int // blocks of this node's share not done
	inflight       int
	first          int // no block before it is missing
	peerWindow     int
	window         int
	meanSize       float64 // of the blocks, bytes
	finished       chan struct{}
	err            error
	closed         bool
}

// setPeer is what one set knows of one peer.
type setPeer struct {
	subscribed map[int]bool // want-haves registered at the peer
	next       int          // next block to subscribe to, in order
	asked      map[int]bool // want-blocks outstanding
	askedBytes int64
	haves      int // HAVEs received
	dontHaves  int // DONT_HAVEs received
}

func (set *swarmSet) finish(err error) {
	if set.closed {
		return
	}
	set.closed, set.err = true, err
	close(set.finished)
}

func (set *swarmSet) peer(p peer.ID) *setPeer {
	sp := set.per[p]
	if sp == nil {
		sp = &setPeer{subscribed: map[int]bool{}, asked: map[int]bool{}}
		set.per[p] = sp
	}
	return sp
}

// connected subscribes the sets in progress at a new peer.
func (s *Swarm) connected(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	if s.peers[p] == nil {
		sp := &swarmPeer{id: p, pending: map[cid.Cid]swarmEntry{}, wake: make(chan struct{}, 1)}
		s.peers[p] = sp
		go s.sendLoop(sp)
	}
	for set := range s.sets {
		s.scheduleLocked(set)
	}
}

// disconnected asks other holders for what a peer was asked.
func (s *Swarm) disconnected(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.peers[p]
	if sp == nil {
		return
	}
	delete(s.peers, p)
	close(sp.wake)
	for set := range s.sets {
		if st := set.per[p]; st != nil {
			for i := range st.asked {
				s.unaskLocked(set, i, 0)
			}
			delete(set.per, p)
		}
		for _, h := range set.holders {
			delete(h, p)
		}
		s.scheduleLocked(set)
	}
}

// unaskLocked returns block i, requested from a peer, to the missing
// ones, or ends its request as n bytes arrived.
func (s *Swarm) unaskLocked(set *swarmSet, i, n int) {
	p := set.asked[i]
	if p == "" {
		return
	}
	if gp := s.peers[p]; gp != nil {
		gp.end(time.Now(), n)
	}
	if sp := set.per[p]; sp != nil {
		delete(sp.asked, i)
		sp.askedBytes -= set.size[i]
	}
	set.asked[i] = ""
	set.inflight--
}

// receive takes the blocks, HAVEs and DONT_HAVEs of a message for the
// sets that want them.
func (s *Swarm) receive(ctx context.Context, p peer.ID, m bsmsg.BitSwapMessage) {
	for _, b := range m.Blocks() {
		s.receiveBlock(ctx, p, b)
	}
	haves, dontHaves := m.Haves(), m.DontHaves()
	if len(haves) == 0 && len(dontHaves) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	touched := map[*swarmSet]bool{}
	for _, c := range haves {
		for _, set := range s.wants[c] {
			i := set.idx[c]
			sp := set.peer(p)
			if sp.subscribed[i] {
				delete(sp.subscribed, i) // a HAVE ends the want-have at the peer
			}
			if set.holders[i] == nil {
				set.holders[i] = map[peer.ID]bool{}
			}
			if !set.holders[i][p] {
				set.holders[i][p] = true
				sp.haves++
			}
			touched[set] = true
		}
	}
	for _, c := range dontHaves {
		for _, set := range s.wants[c] {
			i := set.idx[c]
			sp := set.peer(p)
			sp.dontHaves++
			delete(set.holders[i], p)
			if set.asked[i] == p {
				// The want-block replaced the want-have at the peer and
				// stays there: withdraw it, and subscribe again.
				s.unaskLocked(set, i, 0)
				s.sendLocked(p, c, swarmEntry{wantType: pb.Message_Wantlist_Have, priority: set.priority(i)})
				sp.subscribed[i] = true
			}
			touched[set] = true
		}
	}
	for set := range touched {
		s.scheduleLocked(set)
	}
}

// receiveBlock stores a block some set wants and records its arrival.
func (s *Swarm) receiveBlock(ctx context.Context, p peer.ID, b blocks.Block) {
	c := b.Cid()
	s.mu.Lock()
	sets := append([]*swarmSet(nil), s.wants[c]...)
	notify := s.notify
	s.mu.Unlock()
	if len(sets) == 0 {
		return
	}
	if err := s.store.Put(ctx, b); err != nil {
		s.log.Warn("storing a fetched block failed", "cid", c.String(), "peer", p.String(), "err", err)
		return
	}
	if notify != nil {
		if err := notify(ctx, b); err != nil {
			s.log.Debug("announcing a fetched block failed", "cid", c.String(), "err", err)
		}
	}
	var (
		got       []func(blocks.Block)
		finishing []*swarmSet
	)
	s.mu.Lock()
	for _, set := range s.wants[c] {
		i := set.idx[c]
		if set.done[i] {
			continue
		}
		set.done[i] = true
		set.remaining--
		s.log.Debug("swarm block", "cid", c.String(), "peer", p.String(), "share", set.mine(i), "remaining", set.remaining)
		if set.mine(i) {
			set.shareRemaining--
		}
		if q := set.asked[i]; q == p {
			s.unaskLocked(set, i, len(b.RawData()))
		} else if q != "" {
			s.sendLocked(q, c, swarmEntry{cancel: true})
			s.unaskLocked(set, i, 0)
		}
		for q, sp := range set.per {
			if sp.subscribed[i] {
				delete(sp.subscribed, i)
				if q != p {
					s.sendLocked(q, c, swarmEntry{cancel: true})
				}
			}
		}
		set.holders[i] = nil
		if set.req.Got != nil {
			got = append(got, set.req.Got)
		}
		if set.remaining == 0 {
			finishing = append(finishing, set)
		} else {
			s.scheduleLocked(set)
		}
	}
	delete(s.wants, c)
	s.mu.Unlock()
	for _, f := range got {
		f(b)
	}
	if len(finishing) > 0 {
		// After Got: FetchSet returns once every Got call has.
		s.mu.Lock()
		for _, set := range finishing {
			set.finish(nil)
		}
		s.mu.Unlock()
	}
}

// rate returns the peer's delivery rate of the blocks this node asked of
// it, in bytes per second: the bytes received over the time at least one
// request was outstanding, over about the last swarmRateWindow of such
// time; swarmDefaultRate until it was measured.
func (sp *swarmPeer) rateNow() float64 {
	if sp.busy < 0.05 || sp.bytes == 0 {
		return swarmDefaultRate
	}
	return sp.bytes / sp.busy
}

// swarmRateWindow is the busy time, in seconds, the rate is averaged over.
const swarmRateWindow = 3.0

// start records a request sent to the peer.
func (sp *swarmPeer) start(now time.Time) {
	if sp.outstanding == 0 {
		sp.busyFrom = now
	}
	sp.outstanding++
}

// end records a request that ended with n bytes (0: cancelled).
func (sp *swarmPeer) end(now time.Time, n int) {
	if sp.outstanding == 0 {
		return
	}
	sp.busy += now.Sub(sp.busyFrom).Seconds()
	sp.busyFrom = now
	sp.outstanding--
	sp.bytes += float64(n)
	if sp.busy > swarmRateWindow {
		f := swarmRateWindow / sp.busy
		sp.busy *= f
		sp.bytes *= f
	}
}

// expireLocked asks again the blocks requested too long ago.
func (s *Swarm) expireLocked(set *swarmSet, now time.Time) {
	for i, p := range set.asked {
		if p == "" || now.Sub(set.askedAt[i]) < swarmRequestTimeout {
			continue
		}
		s.log.Debug("block request timed out", "cid", set.order[i].String(), "peer", p.String())
		s.sendLocked(p, set.order[i], swarmEntry{cancel: true})
		s.unaskLocked(set, i, 0)
		delete(set.holders[i], p)
		if sp := s.peers[p]; sp != nil {
			sp.busy += swarmRequestTimeout.Seconds() // a slow peer: its rate drops
		}
	}
}

func (set *swarmSet) priority(i int) int32 {
	return int32(len(set.order) - i)
}

// scheduleLocked subscribes the set at every peer and requests what the
// windows allow, as described on Swarm.
func (s *Swarm) scheduleLocked(set *swarmSet) {
	if set.closed {
		return
	}
	for p := range s.peers {
		sp := set.peer(p)
		if sp.next < set.first {
			sp.next = set.first
		}
		if sp.next >= len(set.order) {
			continue
		}
		used := s.subscriptionsLocked(p)
		for used < swarmSubscribeMax && sp.next < len(set.order) {
			i := sp.next
			sp.next++
			if set.done[i] || set.holders[i][p] || sp.subscribed[i] {
				continue
			}
			sp.subscribed[i] = true
			used++
			s.sendLocked(p, set.order[i], swarmEntry{wantType: pb.Message_Wantlist_Have, priority: set.priority(i)})
		}
	}
	for set.first < len(set.order) && set.done[set.first] {
		set.first++
	}
	room := 0 // peers whose window has room: none, no request can be made
	for p := range s.peers {
		if len(set.peer(p).asked) < s.peerWindowLocked(set, p) {
			room++
		}
	}
	for i := set.first; i < len(set.order) && set.inflight < set.window && room > 0; i++ {
		if set.done[i] || set.asked[i] != "" || len(set.holders[i]) == 0 {
			continue
		}
		if p, ok := s.pickLocked(set, i, s.seedMayServeLocked(set, i)); ok {
			s.askLocked(set, i, p)
			if len(set.peer(p).asked) == s.peerWindowLocked(set, p) {
				room--
			}
		}
	}
	// Helping: the share is complete and nothing else is in flight; ask a
	// seed for one block only seeds hold, picked at random (other offices
	// help too).
	if set.shareRemaining > 0 || set.inflight > 0 {
		return
	}
	var orphans []int
	for i := set.first; i < len(set.order); i++ {
		if !set.done[i] && set.asked[i] == "" && len(set.holders[i]) > 0 && !set.mine(i) {
			orphans = append(orphans, i)
		}
	}
	for len(orphans) > 0 {
		k := rand.IntN(len(orphans))
		i := orphans[k]
		orphans = slices.Delete(orphans, k, k+1)
		if p, ok := s.pickLocked(set, i, true); ok {
			s.askLocked(set, i, p)
			return
		}
	}
}

// subscriptionsLocked counts the want-haves all sets keep registered at p.
func (s *Swarm) subscriptionsLocked(p peer.ID) int {
	n := 0
	for set := range s.sets {
		if sp := set.per[p]; sp != nil {
			n += len(sp.subscribed)
		}
	}
	return n
}

// peerWindowLocked returns how many blocks this set may keep requested
// from p: the set's PeerWindow, or more on a long fat link: enough to
// keep twice the bandwidth-delay product in flight (the peer's measured
// delivery rate times its round-trip time, over the set's mean block
// size), at most swarmPeerWindowMax.
func (s *Swarm) peerWindowLocked(set *swarmSet, p peer.ID) int {
	gp := s.peers[p]
	if gp == nil || s.net == nil || set.meanSize <= 0 {
		return set.peerWindow
	}
	bdp := gp.rateNow() * s.net.Latency(p).Seconds() * 2 / set.meanSize
	return min(max(set.peerWindow, int(math.Ceil(bdp))), max(set.peerWindow, swarmPeerWindowMax))
}

// askLocked requests block i from p.
func (s *Swarm) askLocked(set *swarmSet, i int, p peer.ID) {
	sp := set.peer(p)
	set.asked[i], set.askedAt[i] = p, time.Now()
	sp.asked[i] = true
	sp.askedBytes += set.size[i]
	set.inflight++
	s.peers[p].start(time.Now())
	delete(sp.subscribed, i) // the want-block replaces it at the peer
	s.sendLocked(p, set.order[i], swarmEntry{wantType: pb.Message_Wantlist_Block, priority: set.priority(i)})
	s.log.Debug("swarm request", "cid", set.order[i].String(), "peer", p.String(), "share", set.mine(i), "seed", set.seed(p), "holders", len(set.holders[i]))
}

// connectedTo reports whether p is a connected Bitswap peer.
func (s *Swarm) connectedTo(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peers[p] != nil
}

// mine reports whether block i is this node's share.
func (set *swarmSet) mine(i int) bool {
	return set.owners == nil || set.owners[i] == set.self
}

// seedMayServeLocked reports whether a seed may be asked for block i
// while no other peer holds it: it is this node's share, or its owner is
// not fetching (gone, or done). An owner that has not answered yet counts
// as fetching.
func (s *Swarm) seedMayServeLocked(set *swarmSet, i int) bool {
	if set.mine(i) {
		return true
	}
	o := set.owners[i]
	return s.peers[o] == nil || set.seed(o)
}

// seed reports whether p has held every block this set asked of it.
func (set *swarmSet) seed(p peer.ID) bool {
	sp := set.per[p]
	return sp != nil && sp.dontHaves == 0 && sp.haves > 0
}

// pickLocked returns the holder of block i expected to deliver it first,
// and whether its window has room; seedOnly allows a block only seeds
// hold.
func (s *Swarm) pickLocked(set *swarmSet, i int, seedOnly bool) (peer.ID, bool) {
	var (
		best     peer.ID
		bestCost float64
		others   bool
	)
	for p := range set.holders[i] {
		if !set.seed(p) {
			others = true
			break
		}
	}
	if !others && !seedOnly {
		return "", false
	}
	for p := range set.holders[i] {
		gp := s.peers[p]
		if gp == nil {
			continue
		}
		sp := set.peer(p)
		cost := float64(sp.askedBytes+set.size[i]) / gp.rateNow()
		if others && set.seed(p) {
			cost *= swarmSeedPenalty
		}
		if best == "" || cost < bestCost || (cost == bestCost && p < best) {
			best, bestCost = p, cost
		}
	}
	if best == "" || len(set.peer(best).asked) >= s.peerWindowLocked(set, best) {
		return "", false
	}
	return best, true
}

// sendLocked queues an entry for a peer's next message.
func (s *Swarm) sendLocked(p peer.ID, c cid.Cid, e swarmEntry) {
	sp := s.peers[p]
	if sp == nil {
		return
	}
	sp.pending[c] = e
	select {
	case sp.wake <- struct{}{}:
	default:
	}
}

// sendLoop sends a peer's queued entries, one message at a time, until
// the peer disconnects or the swarm closes.
func (s *Swarm) sendLoop(sp *swarmPeer) {
	var sender bsnet.MessageSender
	defer func() {
		if sender != nil {
			_ = sender.Reset()
		}
	}()
	for {
		select {
		case _, ok := <-sp.wake:
			if !ok {
				return
			}
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		pending := sp.pending
		sp.pending = map[cid.Cid]swarmEntry{}
		s.mu.Unlock()
		if len(pending) == 0 {
			continue
		}
		msg := bsmsg.New(false)
		for c, e := range pending {
			if e.cancel {
				msg.Cancel(c)
			} else {
				msg.AddEntry(c, e.priority, e.wantType, true)
			}
		}
		if sender == nil {
			var err error
			sender, err = s.net.NewMessageSender(s.ctx, sp.id, &bsnet.MessageSenderOpts{MaxRetries: 3, SendTimeout: time.Minute, SendErrorBackoff: 100 * time.Millisecond})
			if err != nil {
				s.log.Debug("opening a stream to a peer failed", "peer", sp.id.String(), "err", err)
				continue // the requests time out and go to other holders
			}
		}
		if err := sender.SendMsg(s.ctx, msg); err != nil {
			s.log.Debug("sending wants to a peer failed", "peer", sp.id.String(), "err", err)
			_ = sender.Reset()
			sender = nil
		}
	}
}
