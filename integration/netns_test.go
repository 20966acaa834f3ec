package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/sys/unix"
)

// Network-namespace lab for process tests that need real links.
//
// Layout: a "switch" namespace holding a bridge (br0), and one namespace
// per office joined to it by a veth pair: s3m0 in the office namespace
// (10.78.S.N/24) and p-<office> in the switch namespace, enslaved to br0.
// Taking p-<office> down cuts that office off (its s3m0 loses carrier),
// like pulling its uplink. Nothing is created in the host's own network
// namespace: the veth pairs are created directly in their namespaces, and
// the addresses exist only there.
//
// Every s3mesh process runs inside its office namespace ("ip netns exec",
// which execs the binary, so the PID we hold is the s3mesh process), with
// its S3 listener on 127.0.0.1 of that namespace: cutting the office's
// link never touches the path between the test and its node. The test
// (in the root namespace) reaches that listener with netnsDialContext: a
// dial runs on a goroutine locked to its OS thread, which joins the
// office's namespace (setns), creates and connects the socket, and returns
// to the root namespace. A socket belongs to the namespace it was created
// in for its whole life, so the connection keeps working from any thread
// afterwards, and the HTTP transport reuses it like any other.

// netnsRunDir is where "ip netns" binds named namespaces.
const netnsRunDir = "/var/run/netns"

// netnsPrefix starts every namespace name this file creates; the name
// continues with the creating test process's PID (see sweepStaleNetns).
const netnsPrefix = "s3mpt-"

type netnsLab struct {
	t      *testing.T
	id     string // s3mpt-<pid>-<random>
	sw     string // switch namespace
	subnet string // "10.78.S"
	nss    []string
}

type nsOffice struct {
	name string // "a"
	ns   string // namespace name
	addr string // IPv4 address on the bridge
	port string // its veth end in the switch namespace
}

// newNetnsLab creates the switch namespace and its bridge, or skips the
// test when this machine cannot (not root, no iproute2, no namespaces, no
// bridge or veth support). Cleanup removes every namespace it made.
func newNetnsLab(t *testing.T) *netnsLab {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("network namespaces need Linux")
	}
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) is not installed")
	}
	sweepStaleNetns(t)
	l := &netnsLab{
		t:      t,
		id:     fmt.Sprintf("%s%d-%06x", netnsPrefix, os.Getpid(), rand.Uint32()&0xffffff),
		subnet: fmt.Sprintf("10.78.%d", 1+rand.IntN(250)),
	}
	l.sw = l.id + "-sw"
	if out, err := exec.Command("ip", "netns", "add", l.sw).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace (ip netns add): %v: %s", err, bytes.TrimSpace(out))
	}
	l.nss = append(l.nss, l.sw)
	t.Cleanup(l.close)
	if err := l.ipErr("-n", l.sw, "link", "set", "lo", "up"); err != nil {
		t.Skipf("network namespaces unusable: %v", err)
	}
	if err := l.ipErr("-n", l.sw, "link", "add", "br0", "type", "bridge"); err != nil {
		t.Skipf("cannot create a bridge in a network namespace: %v", err)
	}
	l.ip("-n", l.sw, "link", "set", "br0", "up")
	return l
}

// addOffice creates office name's namespace, joined to the bridge, with
// address 10.78.S.host.
func (l *netnsLab) addOffice(name string, host int) *nsOffice {
	l.t.Helper()
	o := &nsOffice{name: name, ns: l.id + "-" + name, addr: fmt.Sprintf("%s.%d", l.subnet, host), port: "p-" + name}
	l.ip("netns", "add", o.ns)
	l.nss = append(l.nss, o.ns)
	if err := l.ipErr("link", "add", "s3m0", "netns", o.ns, "type", "veth", "peer", "name", o.port, "netns", l.sw); err != nil {
		l.t.Skipf("cannot create a veth pair between network namespaces: %v", err)
	}
	l.ip("-n", l.sw, "link", "set", o.port, "master", "br0")
	l.ip("-n", l.sw, "link", "set", o.port, "up")
	l.ip("-n", o.ns, "link", "set", "lo", "up")
	l.ip("-n", o.ns, "addr", "add", o.addr+"/24", "dev", "s3m0")
	l.ip("-n", o.ns, "link", "set", "s3m0", "up")
	return o
}

// setLink takes office o's link (its port on the switch) down or up.
func (l *netnsLab) setLink(o *nsOffice, up bool) {
	l.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	l.ip("-n", l.sw, "link", "set", o.port, state)
}

// ping reports whether from reaches addr within about a second; ok is
// false when there is no ping command to tell.
func (l *netnsLab) ping(from *nsOffice, addr string) (reached, ok bool) {
	if _, err := exec.LookPath("ping"); err != nil {
		return false, false
	}
	return exec.Command("ip", "netns", "exec", from.ns, "ping", "-c", "1", "-W", "1", addr).Run() == nil, true
}

func (l *netnsLab) ip(args ...string) {
	l.t.Helper()
	if err := l.ipErr(args...); err != nil {
		l.t.Fatal(err)
	}
}

func (l *netnsLab) ipErr(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// close deletes the namespaces (office ones first). It runs after the
// processes' own cleanups, registered later, have killed them; deleting a
// namespace destroys its veth end, which takes the peer end with it.
func (l *netnsLab) close() {
	for i := len(l.nss) - 1; i >= 0; i-- {
		if err := l.ipErr("netns", "del", l.nss[i]); err != nil {
			l.t.Errorf("cleanup: %v", err)
		}
	}
}

// sweepStaleNetns deletes namespaces this file created in test processes
// that no longer exist (a run killed by a timeout never runs its
// cleanups). A namespace whose creator PID is alive, or was reused, is
// left alone.
func sweepStaleNetns(t *testing.T) {
	entries, _ := os.ReadDir(netnsRunDir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), netnsPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if out, err := exec.Command("ip", "netns", "del", e.Name()).CombinedOutput(); err != nil {
			t.Logf("removing stale namespace %s: %v: %s", e.Name(), err, bytes.TrimSpace(out))
		} else {
			t.Logf("removed stale namespace %s (its test process %d is gone)", e.Name(), pid)
		}
	}
}

// netnsDialContext returns a DialContext that creates its sockets inside
// the named network namespace. See the comment at the top of this file.
func netnsDialContext(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	path := filepath.Join(netnsRunDir, ns)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		// A goroutine of its own: if the thread cannot be switched back,
		// it ends still locked, and the runtime then retires the thread
		// instead of reusing it in the wrong namespace.
		ch := make(chan result, 1)
		go func() {
			c, err := dialInNetns(ctx, path, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

func dialInNetns(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	target, err := os.Open(nsPath)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer target.Close()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("setns %s: %w", nsPath, err)
	}
	// The socket is created synchronously on this (locked) thread, so in
	// the target namespace; a new OS thread the runtime may need meanwhile
	// is never cloned from a locked one.
	var d net.Dialer
	c, dialErr := d.DialContext(ctx, network, addr)
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("setns back to the original namespace: %w", err) // thread stays locked
	}
	runtime.UnlockOSThread()
	return c, dialErr
}

// nsNode is an s3mesh process running inside an office namespace.
type nsNode struct {
	*proc
	office *nsOffice
	id     string // peer ID
	hc     *http.Client
	tr     *http.Transport
}

// peerIDOf creates dataDir's identity if needed and returns its peer ID
// ("s3mesh id" prints it on its first line).
func peerIDOf(t *testing.T, dataDir string) string {
	t.Helper()
	out, err := exec.Command(s3meshBinary(t), "id", "--data", dataDir).Output()
	if err != nil {
		t.Fatalf("s3mesh id: %v", err)
	}
	id, _, _ := strings.Cut(string(out), "\n")
	if id == "" {
		t.Fatalf("s3mesh id printed nothing")
	}
	return strings.TrimSpace(id)
}

// p2pAddr is the multiaddr other offices dial to reach a node in office o
// with peer ID id (nodes listen on TCP 4001 of their bridge address).
func p2pAddr(o *nsOffice, id string) string {
	return fmt.Sprintf("/ip4/%s/tcp/4001/p2p/%s", o.addr, id)
}

// startNodeIn runs "s3mesh serve" in office o's namespace over dataDir
// (whose identity has peer ID id), its S3 listener on a free port of the
// namespace's 127.0.0.1 and libp2p on TCP 4001 of the bridge address, and
// waits until /health/ready answers 200.
func startNodeIn(t *testing.T, o *nsOffice, dataDir, id string, extra ...string) *nsNode {
	t.Helper()
	bin := s3meshBinary(t)
	args := append([]string{"netns", "exec", o.ns, bin, "serve", "--data", dataDir,
		"--listen", "127.0.0.1:0", "--p2p-listen", "/ip4/" + o.addr + "/tcp/4001"}, extra...)
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), "S3MESH_ACCESS_KEY="+procAccessKey, "S3MESH_SECRET_KEY="+procSecretKey)
	// If the test binary dies (a go test timeout runs no cleanups), take
	// the node with it rather than leave it running in its namespace.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p, found := launch(t, cmd)
	stderr := cmd.Stderr.(*syncWriter)
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			s := stderr.String()
			if len(s) > 4000 {
				s = "..." + s[len(s)-4000:]
			}
			t.Logf("office %s (%s) stderr:\n%s", o.name, o.ns, s)
		}
	})
	select {
	case p.endpoint = <-found:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("s3mesh in %s exited before serving: %v\n%s", o.ns, err, stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("s3mesh in %s printed no endpoint in 60s\n%s", o.ns, stderr)
	}
	// The PID we kill in cleanup must be s3mesh itself, not a wrapper.
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid))
	if want, _ := filepath.EvalSymlinks(bin); err != nil || (exe != bin && exe != want) {
		t.Fatalf("process %d runs %q (%v), want %s: ip netns exec did not exec the node", cmd.Process.Pid, exe, err, bin)
	}
	tr := &http.Transport{DialContext: netnsDialContext(o.ns), MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	n := &nsNode{proc: p, office: o, id: id, tr: tr, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := n.hc.Get("http://" + p.endpoint + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health/ready of the node in %s not 200 within 30s: %v", o.ns, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// client is a minio-go client that reaches the node inside its namespace.
func (n *nsNode) client(t *testing.T) *minio.Client {
	t.Helper()
	c, err := minio.New(n.endpoint, &minio.Options{Creds: credentials.NewStaticV4(procAccessKey, procSecretKey, ""), Secure: false, Region: "us-east-1", Transport: n.tr})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// connectedPeers returns how many peers the node is connected to, from
// its admin API (GET /admin/v1/status, presigned with the root key).
func (n *nsNode) connectedPeers(ctx context.Context, c *minio.Client) (int, error) {
	u, err := c.Presign(ctx, http.MethodGet, "admin", "v1/status", time.Minute, nil)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	resp, err := n.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /admin/v1/status: %s: %s", resp.Status, body)
	}
	var st struct {
		PeersConnected int `json:"peers_connected"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return 0, err
	}
	return st.PeersConnected, nil
}
