package exchange

// TCPOnly splits listen multiaddrs into those a node with a private-network
// key listens on (plain TCP) and those it drops (QUIC and other transports
// go-libp2p cannot protect with a pre-shared key), as New does.
func TCPOnly(addrs []string) (keep, dropped []string) { return tcpOnly(addrs) }
