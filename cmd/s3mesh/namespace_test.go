package main

import (
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"s3mesh/exchange"
	"s3mesh/gateway"
)

// TestNamespaceNetwork: an open network uses the default namespace; each
// private network gets its own, derived from its key without revealing it.
func TestNamespaceNetwork(t *testing.T) {
	open, err := namespaceNetwork(nil)
	if err != nil || open != gateway.DefaultNetwork {
		t.Fatalf("open network: %q, %v; want %q", open, err, gateway.DefaultNetwork)
	}
	k1, err := exchange.GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := exchange.GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	n1, err := namespaceNetwork(k1)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := namespaceNetwork(append([]byte(nil), k1...))
	n2, err := namespaceNetwork(k2)
	if err != nil {
		t.Fatal(err)
	}
	if n1 != again || n1 == n2 || n1 == open || n2 == open {
		t.Fatalf("networks %q, %q (same key again %q), open %q: want one stable name per key", n1, n2, again, open)
	}
	secret := strings.TrimSpace(string(k1))
	secret = secret[strings.LastIndex(secret, "\n")+1:]
	if strings.Contains(n1, secret) {
		t.Fatalf("network name %q reveals the key", n1)
	}
	if _, err := namespaceNetwork([]byte("not a key")); err == nil {
		t.Fatal("malformed key accepted")
	}
}

// TestAllowedPeers: without an allowlist every peer may send namespace
// updates; with one, only its peers, the static peers and this node.
func TestAllowedPeers(t *testing.T) {
	ids := make([]peer.ID, 4)
	for i := range ids {
		k, err := exchange.LoadOrCreateIdentity(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if ids[i], err = peer.IDFromPrivateKey(k); err != nil {
			t.Fatal(err)
		}
	}
	self, listed, static, stranger := ids[0], ids[1], ids[2], ids[3]
	peers := []string{"/ip4/127.0.0.1/tcp/4001/p2p/" + static.String()}
	if f, err := allowedPeers(self, nil, peers); err != nil || f != nil {
		t.Fatalf("no allowlist: %v, %v; want nil (everyone)", f != nil, err)
	}
	f, err := allowedPeers(self, []peer.ID{listed}, peers)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[peer.ID]bool{self: true, listed: true, static: true, stranger: false} {
		if f(p) != want {
			t.Errorf("allowed(%s) = %v, want %v", p, !want, want)
		}
	}
}
