package exchange

import (
	"runtime"
	"testing"
	"time"
)

// TestCloseStopsGoroutines starts and closes nodes that dial each other
// and an unreachable static peer, then checks the goroutine count falls
// back to where it was (libp2p starts a few process-wide goroutines on
// first use, hence the warm-up round). Close is idempotent, so the
// cleanup startNode registers is harmless.
func TestCloseStopsGoroutines(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	warm := func() {
		a := startNode(t, Config{}, nil, nodeOptions{})
		b := startNode(t, Config{
			Peers:        []string{addr(t, a.Node), "/ip4/127.0.0.1/tcp/9/p2p/" + mustPeerID(t).String()},
			ReconnectMin: 10 * time.Millisecond,
		}, nil, nodeOptions{})
		waitFor(t, "static peering to connect", func() bool { return connected(b, a) })
		mustFetch(t, b, putBlock(t, a, "leak check"))
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	warm()
	before := settledGoroutines(0)
	warm()
	after := settledGoroutines(before)
	if after > before {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines: %d before, %d after start+close\n%s", before, after, buf[:n])
	}
}

// settledGoroutines waits (bounded) until the goroutine count is at most
// target, or stops changing, and returns it.
func settledGoroutines(target int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		m := runtime.NumGoroutine()
		if (target > 0 && m <= target) || (target == 0 && m == n) {
			return m
		}
		n = m
	}
	return n
}
