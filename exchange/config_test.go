package exchange

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	c := Config{}.withDefaults()
	if !reflect.DeepEqual(c.ListenAddrs, []string{DefaultListenTCP, DefaultListenQUIC}) {
		t.Errorf("ListenAddrs = %v", c.ListenAddrs)
	}
	if c.ConnMgrLow != DefaultConnMgrLow || c.ConnMgrHigh != DefaultConnMgrHigh ||
		c.ReconnectMin != DefaultReconnectMin || c.ReconnectMax != DefaultReconnectMax ||
		c.MaxOutstandingBytesPerPeer != DefaultMaxOutstandingBytesPerPeer ||
		c.ProviderSearchDelay != DefaultProviderSearchDelay || c.Logger == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
	// A low watermark above the default high one raises the high one.
	if c := (Config{ConnMgrLow: 500}).withDefaults(); c.ConnMgrHigh != 500 {
		t.Errorf("ConnMgrHigh = %d, want 500", c.ConnMgrHigh)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	id := mustPeerID(t)
	good := "/ip4/192.0.2.1/tcp/4001/p2p/" + id.String()
	key, err := GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" means valid
	}{
		{"full", Config{Peers: []string{good, "/ip4/192.0.2.1/udp/4001/quic-v1/p2p/" + id.String()}, SwarmKey: key, AllowPeers: []peer.ID{id}}, ""},
		{"bad listen", Config{ListenAddrs: []string{"0.0.0.0:4001"}}, "listen address"},
		{"peer without id", Config{Peers: []string{"/ip4/192.0.2.1/tcp/4001"}}, "/p2p/"},
		{"bad peer", Config{Peers: []string{"not a multiaddr"}}, "peer address"},
		{"bad swarm key", Config{SwarmKey: []byte("nope")}, "swarm key"},
		{"empty allowed peer", Config{AllowPeers: []peer.ID{""}}, "allowed peer"},
		{"watermarks", Config{ConnMgrLow: 10, ConnMgrHigh: 5}, "watermarks"},
		{"negative low", Config{ConnMgrLow: -1}, "watermarks"},
		{"backoff", Config{ReconnectMin: time.Minute, ReconnectMax: time.Second}, "backoff"},
		{"negative duration", Config{DialTimeout: -time.Second}, "negative"},
		{"negative bitswap", Config{TaskWorkerCount: -1}, "bitswap"},
		{"negative resources", Config{ResourceMemoryBytes: -1}, "resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParsePeersGroupsByID(t *testing.T) {
	t.Parallel()
	id := mustPeerID(t)
	infos, err := parsePeers([]string{
		"/ip4/192.0.2.1/tcp/4001/p2p/" + id.String(),
		"/ip4/192.0.2.1/udp/4001/quic-v1/p2p/" + id.String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].ID != id || len(infos[0].Addrs) != 2 {
		t.Fatalf("parsePeers = %+v, want one peer with two addresses", infos)
	}
}

func TestTCPOnly(t *testing.T) {
	t.Parallel()
	keep, dropped := tcpOnly([]string{
		"/ip4/0.0.0.0/tcp/4001",
		"/ip6/::/tcp/4001",
		"/dns4/example.com/tcp/4001",
		"/ip4/0.0.0.0/udp/4001/quic-v1",
		"/ip4/0.0.0.0/tcp/4002/ws",
	})
	if !reflect.DeepEqual(keep, []string{"/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001", "/dns4/example.com/tcp/4001"}) {
		t.Errorf("kept %v", keep)
	}
	if !reflect.DeepEqual(dropped, []string{"/ip4/0.0.0.0/udp/4001/quic-v1", "/ip4/0.0.0.0/tcp/4002/ws"}) {
		t.Errorf("dropped %v", dropped)
	}
}

func TestMDNSServiceName(t *testing.T) {
	t.Parallel()
	k1, _ := GenerateSwarmKey()
	k2, _ := GenerateSwarmKey()
	names := map[string]bool{}
	for _, k := range [][]byte{nil, k1, k2} {
		n := mdnsServiceName(k)
		// RFC 6763 §7.2: at most 15 characters between "_" and "._udp".
		if label := strings.TrimSuffix(strings.TrimPrefix(n, "_"), "._udp"); len(label) > 15 {
			t.Errorf("service name %q too long", n)
		}
		names[n] = true
	}
	if len(names) != 3 {
		t.Errorf("service names collide: %v", names)
	}
	if mdnsServiceName(k1) != mdnsServiceName(append([]byte(nil), k1...)) {
		t.Error("service name is not a function of the key")
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	for range 1000 {
		if d := jitter(time.Second); d < 750*time.Millisecond || d > 1250*time.Millisecond {
			t.Fatalf("jitter(1s) = %s, want within ±25%%", d)
		}
	}
	if jitter(0) != 0 {
		t.Error("jitter(0) != 0")
	}
}
