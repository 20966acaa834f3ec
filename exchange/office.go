package exchange

import (
	"context"
	"strings"
	"sync/atomic"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	bsnet "github.com/ipfs/boxo/bitswap/network"
	"github.com/ipfs/boxo/bitswap/tracer"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Source classes: where a block came from, or went to, as metric labels.
// A peer announcing the same office as this node (Config.Office) is on the
// LAN; every other peer, including one announcing no office, is a WAN
// peer, the traffic that costs.
const (
	ClassLAN = "lan"
	ClassWAN = "wan"
)

// agentPrefix starts the libp2p agent version of every s3mesh node; the
// office follows it (see agentVersion).
const agentPrefix = "s3mesh"

// maxOfficeLen bounds an office name.
const maxOfficeLen = 64

// validOffice reports whether s is a valid office name: 1 to 64 letters,
// digits, '.', '_' or '-'.
func validOffice(s string) bool {
	if s == "" || len(s) > maxOfficeLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// agentVersion is the libp2p agent version this node announces through
// identify: "s3mesh", then " office=NAME" when it has an office. Peers read
// the office from it; no other configuration is needed.
func agentVersion(office string) string {
	if office == "" {
		return agentPrefix
	}
	return agentPrefix + " office=" + office
}

// officeFromAgent returns the office announced in an agent version, or ""
// when it names none (or is not an s3mesh node's).
func officeFromAgent(agent string) string {
	rest, ok := strings.CutPrefix(agent, agentPrefix+" ")
	if !ok {
		return ""
	}
	for f := range strings.FieldsSeq(rest) {
		if o, ok := strings.CutPrefix(f, "office="); ok && validOffice(o) {
			return o
		}
	}
	return ""
}

// Office returns this node's office name (Config.Office).
func (n *Node) Office() string { return n.cfg.Office }

// PeerOffice returns the office peer p announced, or "" when it announced
// none or identify has not completed yet.
func (n *Node) PeerOffice(p peer.ID) string {
	v, err := n.host.Peerstore().Get(p, "AgentVersion")
	if err != nil {
		return ""
	}
	s, _ := v.(string)
	return officeFromAgent(s)
}

// PeerClass returns ClassLAN for a peer in this node's office, ClassWAN
// otherwise.
func (n *Node) PeerClass(p peer.ID) string {
	if n.cfg.Office != "" && n.PeerOffice(p) == n.cfg.Office {
		return ClassLAN
	}
	return ClassWAN
}

// classCounts are block counts and bytes per source class.
type classCounts struct {
	blocks, bytes [2]atomic.Uint64 // indexed by classIndex
}

func classIndex(class string) int {
	if class == ClassLAN {
		return 0
	}
	return 1
}

func (c *classCounts) add(class string, blocks, bytes int) {
	i := classIndex(class)
	c.blocks[i].Add(uint64(blocks))
	c.bytes[i].Add(uint64(bytes))
}

// trafficTracer counts Bitswap traffic by the class of the peer: blocks
// received (duplicates included) and sent, and the wants this node sends.
type trafficTracer struct {
	class    func(peer.ID) string
	received classCounts
	sent     classCounts
	// wantBlocks and wantHaves count want-block and want-have entries
	// sent (cancels excluded).
	wantBlocks, wantHaves atomic.Uint64
}

var _ tracer.Tracer = (*trafficTracer)(nil)

func blocksSize(msg bsmsg.BitSwapMessage) (n, size int) {
	for _, b := range msg.Blocks() {
		n++
		size += len(b.RawData())
	}
	return n, size
}

// MessageReceived implements tracer.Tracer (as the client's tracer, which
// sees every incoming message).
func (t *trafficTracer) MessageReceived(p peer.ID, msg bsmsg.BitSwapMessage) {
	if n, size := blocksSize(msg); n > 0 {
		t.received.add(t.class(p), n, size)
	}
}

// MessageSent implements tracer.Tracer (as the server's tracer: the
// blocks it sends).
func (t *trafficTracer) MessageSent(p peer.ID, msg bsmsg.BitSwapMessage) {
	if n, size := blocksSize(msg); n > 0 {
		t.sent.add(t.class(p), n, size)
	}
}

// countWants counts the wants of a message the client sends. (The client
// has no tracer for what it sends; countingNetwork calls this.)
func (t *trafficTracer) countWants(msg bsmsg.BitSwapMessage) {
	for _, e := range msg.Wantlist() {
		switch {
		case e.Cancel:
		case e.WantType == pb.Message_Wantlist_Block:
			t.wantBlocks.Add(1)
		default:
			t.wantHaves.Add(1)
		}
	}
}

// sentOnly passes only MessageSent on: the server's tracer, whose incoming
// messages the client's tracer already counts.
type sentOnly struct{ tracer.Tracer }

func (sentOnly) MessageReceived(peer.ID, bsmsg.BitSwapMessage) {}

// tracers calls each of its tracers in turn.
type tracers []tracer.Tracer

func (ts tracers) MessageReceived(p peer.ID, msg bsmsg.BitSwapMessage) {
	for _, t := range ts {
		t.MessageReceived(p, msg)
	}
}

func (ts tracers) MessageSent(p peer.ID, msg bsmsg.BitSwapMessage) {
	for _, t := range ts {
		t.MessageSent(p, msg)
	}
}

// countingNetwork is Bitswap's network with the wants of every message
// sent counted by traffic.
type countingNetwork struct {
	bsnet.BitSwapNetwork
	traffic *trafficTracer
}

func (c countingNetwork) SendMessage(ctx context.Context, p peer.ID, msg bsmsg.BitSwapMessage) error {
	c.traffic.countWants(msg)
	return c.BitSwapNetwork.SendMessage(ctx, p, msg)
}

func (c countingNetwork) NewMessageSender(ctx context.Context, p peer.ID, opts *bsnet.MessageSenderOpts) (bsnet.MessageSender, error) {
	ms, err := c.BitSwapNetwork.NewMessageSender(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	return countingSender{MessageSender: ms, traffic: c.traffic}, nil
}

type countingSender struct {
	bsnet.MessageSender
	traffic *trafficTracer
}

func (c countingSender) SendMsg(ctx context.Context, msg bsmsg.BitSwapMessage) error {
	c.traffic.countWants(msg)
	return c.MessageSender.SendMsg(ctx, msg)
}
