// Command s3mesh runs an s3mesh node: an S3-compatible gateway over a
// content-addressed block store.
//
// Usage:
//
//	s3mesh serve [--data DIR] [--listen HOST:PORT] [--config FILE] ...
//	s3mesh init [--config FILE] [--force]
//	s3mesh peers [--endpoint URL] [--json]
//	s3mesh status [--endpoint URL] [--json]
//	s3mesh ui [--endpoint URL] [--expires DURATION]
//	s3mesh gc [--endpoint URL] [--json]
//	s3mesh fsck [--repair] [--endpoint URL] [--json]
//	s3mesh bucket replicate NAME [--off] [--endpoint URL] [--json]
//	s3mesh bucket status [--endpoint URL] [--json]
//	s3mesh bucket chunker NAME [SPEC] [--endpoint URL] [--json]
//	s3mesh version
//
// Run "s3mesh help" for the full list of flags; README.md has the table of
// every flag and config-file key.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "s3mesh:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errUsage marks a command-line mistake whose message was already printed.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// run executes one s3mesh command. It is main without the process globals,
// so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "init":
		return runInit(rest, stdout, stderr)
	case "id":
		return runID(rest, getenv, stdout, stderr)
	case "swarm-key":
		return runSwarmKey(rest, stdout, stderr)
	case "peers", "status":
		return runAdmin(ctx, cmd, rest, getenv, stdout, stderr)
	case "ui":
		return runUI(ctx, rest, getenv, stdout, stderr)
	case "gc":
		return runGC(ctx, rest, getenv, stdout, stderr)
	case "fsck":
		return runFsck(ctx, rest, getenv, stdout, stderr)
	case "bucket":
		return runBucket(ctx, rest, getenv, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "s3mesh", version())
		return nil
	case "help", "-h", "--help":
		printUsage(stdout)
		return nil
	default:
		fmt.Fprintf(stderr, "s3mesh: unknown command %q\n\n", cmd)
		printUsage(stderr)
		return errUsage
	}
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `s3mesh: an S3 gateway over a content-addressed block store, one node per office.

Commands:
  serve      run a node (S3 API, /metrics and /health/ready on one listener)
  init       write a commented config file with every setting at its default
  id         print this node's peer ID and its multiaddrs for other offices
  swarm-key  print a new private-network key (s3mesh swarm-key > swarm.key)
  peers      list a running node's peers: connected, static, RTT, address
  status     show a running node's status: peer ID, uptime, peers, blocks
  ui         print a link that opens a running node's status page in a browser
  gc         remove the blocks a running node no longer needs (writes go on meanwhile)
  fsck       verify a running node's objects block by block; --repair fetches
             good copies of missing or corrupt blocks from peers
  bucket     bucket settings: "bucket replicate NAME [--off]" makes every office
             fetch and keep a bucket's objects, "bucket status" shows progress,
             "bucket chunker NAME [SPEC]" shows or sets how new objects are cut
  version    print the version

Run "s3mesh serve -h" for the flags of serve. peers, status, ui, gc, fsck and bucket talk
to the node at --endpoint (default http://127.0.0.1:9000) with the root credentials
from S3MESH_ACCESS_KEY and S3MESH_SECRET_KEY; --json prints the raw answer.
`)
}
