package integration

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProcessSlowClientFlood opens floodConns connections that each send
// part of a header section and stall, against a node with --max-conns and
// against one whose limit is above the flood, and reports the node's
// descriptors and resident memory. With the limit, the node holds at most
// max-conns client connections, whatever the flood; the rest wait in the
// kernel's listen backlog.
func TestProcessSlowClientFlood(t *testing.T) {
	needIntegration(t)
	const floodConns, limit = 3000, 256
	for _, tc := range []struct {
		name     string
		maxConns int
	}{{"limited", limit}, {"above the flood", 20000}} {
		t.Run(tc.name, func(t *testing.T) {
			p := startNode(t, t.TempDir(), "--max-conns", strconv.Itoa(tc.maxConns), "--read-header-timeout", "5m")
			pid := p.cmd.Process.Pid
			base, baseRSS := procFDs(t, pid), procRSS(t, pid)
			conns := make([]net.Conn, 0, floodConns)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for range floodConns {
				c, err := net.Dial("tcp", p.endpoint)
				if err != nil {
					t.Fatalf("dial %d: %v", len(conns), err)
				}
				conns = append(conns, c)
				if _, err := fmt.Fprintf(c, "GET /ref/a HTTP/1.1\r\nHost: %s\r\nX-Slow: ", p.endpoint); err != nil {
					t.Fatal(err)
				}
			}
			// Wait for the state measured: the node holds as many client
			// connections as it will (all, or the limit).
			want := base + min(floodConns, tc.maxConns)
			deadline := time.Now().Add(2 * time.Minute)
			fds := procFDs(t, pid)
			for fds < want-5 {
				if time.Now().After(deadline) {
					t.Fatalf("node holds %d descriptors, waited for %d", fds, want)
				}
				time.Sleep(100 * time.Millisecond)
				fds = procFDs(t, pid)
			}
			rss := procRSS(t, pid)
			t.Logf("max-conns %d, %d stalled clients: node descriptors %d (idle %d), RSS %d KiB (idle %d KiB, +%d KiB)",
				tc.maxConns, floodConns, fds, base, rss, baseRSS, rss-baseRSS)
			if tc.maxConns == limit && fds > base+limit+16 {
				t.Errorf("node holds %d descriptors with --max-conns %d (idle %d)", fds, limit, base)
			}
		})
	}
}

func procFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return len(ents)
}

func procRSS(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	return 0
}
