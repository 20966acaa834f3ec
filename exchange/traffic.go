package exchange

import "github.com/libp2p/go-libp2p/core/peer"

// Traffic is the number of bytes exchanged with one peer since the node
// started, counted on libp2p streams (Bitswap, pubsub, ping, identify) after
// decryption and multiplexing, so transport overhead is not included.
type Traffic struct {
	// In is the number of bytes received from the peer.
	In int64
	// Out is the number of bytes sent to the peer.
	Out int64
}

// PeerTraffic returns the bytes exchanged with every peer the node has
// opened a stream with since it started, connected now or not. Counters
// only grow; a caller wanting a rate samples twice and divides by the time
// in between. The totals are updated about once a second, so bytes just
// sent may not show yet. It returns a new map on each call; it is safe for
// concurrent use.
func (n *Node) PeerTraffic() map[peer.ID]Traffic {
	byPeer := n.bw.GetBandwidthByPeer()
	out := make(map[peer.ID]Traffic, len(byPeer))
	for p, st := range byPeer {
		out[p] = Traffic{In: st.TotalIn, Out: st.TotalOut}
	}
	return out
}
