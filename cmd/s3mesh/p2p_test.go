package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"s3mesh/exchange"
)

func TestIDStableAndFull(t *testing.T) {
	dir := t.TempDir()
	var out1, out2 bytes.Buffer
	args := []string{"id", "--data", dir, "--p2p-listen", "/ip4/127.0.0.1/tcp/4101", "--p2p-listen", "/ip4/127.0.0.1/udp/4101/quic-v1"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out1, &out1); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), args, func(string) string { return "" }, &out2, &out2); err != nil {
		t.Fatal(err)
	}
	if out1.String() != out2.String() {
		t.Fatalf("two runs disagree:\n%s\n%s", &out1, &out2)
	}
	lines := strings.Split(strings.TrimSpace(out1.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want the peer ID and two addresses, got:\n%s", &out1)
	}
	id, err := exchange.PeerIDFromDataDir(dir)
	if err != nil || lines[0] != id.String() {
		t.Fatalf("first line %q, identity in the data dir %v (%v)", lines[0], id, err)
	}
	want := []string{"/ip4/127.0.0.1/tcp/4101/p2p/" + id.String(), "/ip4/127.0.0.1/udp/4101/quic-v1/p2p/" + id.String()}
	for i, w := range want {
		if lines[i+1] != w {
			t.Errorf("address %d = %q, want %q", i, lines[i+1], w)
		}
	}
}

func TestSwarmKeyCommand(t *testing.T) {
	var a, b bytes.Buffer
	if err := run(context.Background(), []string{"swarm-key"}, nil, &a, &a); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"swarm-key"}, nil, &b, &b); err != nil {
		t.Fatal(err)
	}
	if err := exchange.ParseSwarmKey(a.Bytes()); err != nil {
		t.Fatalf("printed key does not parse: %v\n%s", err, &a)
	}
	if a.String() == b.String() {
		t.Error("two keys are equal")
	}
}

func TestParseAllowPeers(t *testing.T) {
	if _, err := parseAllowPeers([]string{"not-a-peer"}); err == nil {
		t.Error("a malformed peer ID was accepted")
	}
	dir := t.TempDir()
	if _, err := exchange.LoadOrCreateIdentity(dir); err != nil {
		t.Fatal(err)
	}
	id, _ := exchange.PeerIDFromDataDir(dir)
	got, err := parseAllowPeers([]string{id.String()})
	if err != nil || len(got) != 1 || got[0] != id {
		t.Errorf("parseAllowPeers(%s) = %v, %v", id, got, err)
	}
}

func TestIDWithSwarmKeyListsTCPOnly(t *testing.T) {
	dir := t.TempDir()
	key, err := exchange.GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, swarmKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args := []string{"id", "--data", dir, "--p2p-listen", "/ip4/127.0.0.1/tcp/4101", "--p2p-listen", "/ip4/127.0.0.1/udp/4101/quic-v1"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "quic") || !strings.Contains(out.String(), "/tcp/4101/p2p/") {
		t.Errorf("with a swarm key, id printed:\n%s\nwant the TCP address only", &out)
	}
	if !strings.Contains(errOut.String(), "only TCP") {
		t.Errorf("id did not say QUIC is dropped: %q", &errOut)
	}
}
