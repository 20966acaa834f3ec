package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"s3mesh/exchange"
)

// swarmKeyFile is the private-network key a data directory may hold.
const swarmKeyFile = "swarm.key"

// runID prints the node's peer ID, then one full multiaddr per listen
// address. It creates the identity when the data directory has none, so
// offices can exchange addresses before the first start, and it works while
// the node runs.
func runID(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("id", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w (choose another with --data)", err)
	}
	key, err := exchange.LoadOrCreateIdentity(cfg.Data)
	if err != nil {
		return err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	fmt.Fprintln(stdout, id)
	listen := cfg.P2PListen
	swarmKey, _, err := loadSwarmKey(cfg)
	if err != nil {
		return err
	}
	if swarmKey != nil {
		var dropped []string
		if listen, dropped = exchange.TCPOnly(listen); len(dropped) > 0 {
			fmt.Fprintf(stderr, "s3mesh id: private network: only TCP is used, not %v\n", dropped)
		}
	}
	addrs, err := expandListenAddrs(listen)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		fmt.Fprintf(stdout, "%s/p2p/%s\n", a, id)
	}
	return nil
}

// expandListenAddrs turns each listen multiaddr into the addresses others
// can dial: an unspecified IP (0.0.0.0, ::) becomes every address of this
// host's interfaces of that family.
func expandListenAddrs(listen []string) ([]multiaddr.Multiaddr, error) {
	var ifaces []multiaddr.Multiaddr
	var out []multiaddr.Multiaddr
	for _, s := range listen {
		a, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("p2p_listen %q: %w", s, err)
		}
		if !manet.IsIPUnspecified(a) {
			out = append(out, a)
			continue
		}
		if ifaces == nil {
			if ifaces, err = manet.InterfaceMultiaddrs(); err != nil {
				return nil, fmt.Errorf("list interface addresses: %w", err)
			}
		}
		resolved, err := manet.ResolveUnspecifiedAddress(a, ifaces)
		if err != nil {
			return nil, fmt.Errorf("p2p_listen %q: %w", s, err)
		}
		out = append(out, resolved...)
	}
	return out, nil
}

// runSwarmKey prints a new private-network key: save it as swarm.key in
// every office's data directory (or pass it with --swarm-key).
func runSwarmKey(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: s3mesh swarm-key > swarm.key")
		return errUsage
	}
	k, err := exchange.GenerateSwarmKey()
	if err != nil {
		return err
	}
	_, err = stdout.Write(k)
	return err
}

// loadSwarmKey reads the private-network key: the configured file, else
// DATA/swarm.key when present. It returns nil for an open network.
func loadSwarmKey(cfg Config) ([]byte, string, error) {
	path := cfg.SwarmKey
	if path == "" {
		path = filepath.Join(cfg.Data, swarmKeyFile)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, "", nil
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("swarm key: %w", err)
	}
	if err := exchange.ParseSwarmKey(b); err != nil {
		return nil, "", fmt.Errorf("swarm key %s: %w (make one with: s3mesh swarm-key > swarm.key)", path, err)
	}
	return b, path, nil
}

// parseAllowPeers parses the allowlist of peer IDs.
func parseAllowPeers(ids []string) ([]peer.ID, error) {
	var out []peer.ID
	for _, s := range ids {
		id, err := peer.Decode(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("allow_peers %q: not a peer ID (s3mesh id prints one): %w", s, err)
		}
		out = append(out, id)
	}
	return out, nil
}
