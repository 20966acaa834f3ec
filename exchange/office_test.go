package exchange

import (
	"strings"
	"testing"
)

func TestOfficeNames(t *testing.T) {
	tests := []struct {
		office string
		valid  bool
	}{
		{"berlin", true},
		{"HQ-2.floor_3", true},
		{strings.Repeat("a", maxOfficeLen), true},
		{"", false},
		{strings.Repeat("a", maxOfficeLen+1), false},
		{"new york", false},
		{"berlin/2", false},
		{"zürich", false},
	}
	for _, tt := range tests {
		if got := validOffice(tt.office); got != tt.valid {
			t.Errorf("validOffice(%q) = %v, want %v", tt.office, got, tt.valid)
		}
		err := Config{Office: tt.office}.Validate()
		if wantErr := !tt.valid && tt.office != ""; (err != nil) != wantErr {
			t.Errorf("Validate with office %q: %v", tt.office, err)
		}
		if tt.valid {
			if got := officeFromAgent(agentVersion(tt.office)); got != tt.office {
				t.Errorf("office through the agent version %q = %q", agentVersion(tt.office), got)
			}
		}
	}
	for agent, want := range map[string]string{
		"s3mesh":                       "",
		"s3mesh office=":               "",
		"s3mesh office=a b":            "a",
		"kubo/0.43.1 office=berlin":    "",
		"s3mesh office=bad/name":       "",
		"s3meshx office=berlin":        "",
		"s3mesh build=1 office=berlin": "berlin",
	} {
		if got := officeFromAgent(agent); got != want {
			t.Errorf("officeFromAgent(%q) = %q, want %q", agent, got, want)
		}
	}
}

// TestTrafficBySourceClass: A and B share an office, C is elsewhere. A
// block fetched by B from A counts as LAN traffic at both, the same block
// fetched by C as WAN traffic; the fetchers count the want-blocks they
// sent, and each node sees the other's office.
func TestTrafficBySourceClass(t *testing.T) {
	t.Parallel()
	a := startNode(t, Config{Office: "berlin"}, nil, nodeOptions{})
	b := startNode(t, Config{Office: "berlin"}, nil, nodeOptions{})
	c := startNode(t, Config{Office: "austin"}, nil, nodeOptions{})
	blk := putBlock(t, a, "one block, two offices")
	connect(t, b, a)
	connect(t, c, a)
	waitFor(t, "identify", func() bool {
		return a.PeerOffice(b.ID()) == "berlin" && a.PeerOffice(c.ID()) == "austin" && b.PeerOffice(a.ID()) == "berlin" && c.PeerOffice(a.ID()) == "berlin"
	})
	if a.PeerClass(b.ID()) != ClassLAN || a.PeerClass(c.ID()) != ClassWAN || c.PeerClass(a.ID()) != ClassWAN {
		t.Fatalf("classes at A: B %s, C %s; at C: A %s", a.PeerClass(b.ID()), a.PeerClass(c.ID()), c.PeerClass(a.ID()))
	}
	for _, p := range a.Peers() {
		if want := map[bool]string{true: ClassLAN, false: ClassWAN}[p.ID == b.ID()]; p.Class != want || p.Office == "" {
			t.Errorf("A lists peer %s as office %q class %q", p.ID, p.Office, p.Class)
		}
	}
	mustFetch(t, b, blk)
	mustFetch(t, c, blk)
	size := uint64(len(blk.RawData()))
	lan, wan := classIndex(ClassLAN), classIndex(ClassWAN)
	waitFor(t, "A's sent counts", func() bool {
		return a.traffic.sent.blocks[lan].Load() == 1 && a.traffic.sent.blocks[wan].Load() == 1
	})
	checks := []struct {
		name string
		got  uint64
		want uint64
	}{
		{"A sent LAN bytes", a.traffic.sent.bytes[lan].Load(), size},
		{"A sent WAN bytes", a.traffic.sent.bytes[wan].Load(), size},
		{"B received LAN blocks", b.traffic.received.blocks[lan].Load(), 1},
		{"B received LAN bytes", b.traffic.received.bytes[lan].Load(), size},
		{"B received WAN blocks", b.traffic.received.blocks[wan].Load(), 0},
		{"C received WAN blocks", c.traffic.received.blocks[wan].Load(), 1},
		{"C received LAN blocks", c.traffic.received.blocks[lan].Load(), 0},
		{"A received blocks", a.traffic.received.blocks[lan].Load() + a.traffic.received.blocks[wan].Load(), 0},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %d, want %d", ck.name, ck.got, ck.want)
		}
	}
	if b.traffic.wantBlocks.Load() == 0 && b.traffic.wantHaves.Load() == 0 {
		t.Errorf("B counted no wants sent")
	}
}
