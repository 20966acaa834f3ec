package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ipfs/boxo/blockservice"
	boxoexchange "github.com/ipfs/boxo/exchange"
	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/blockstore"
	"s3mesh/s3api/s3err"
)

// Modes of the IPFS gateway (Config.IPFSGateway).
const (
	ipfsGatewayOff  = "off"
	ipfsGatewayAuth = "auth"
	ipfsGatewayOpen = "open"
)

// ipfsPrefix is the path under which the gateway answers.
const ipfsPrefix = "/ipfs/"

// newIPFSGateway returns a trustless IPFS gateway (GET/HEAD
// /ipfs/{cid}[/path] answered as application/vnd.ipld.raw or
// application/vnd.ipld.car, per ?format= or Accept) over the node's blocks:
// local blocks first, then Bitswap from connected peers. A block that no
// peer provides within retrievalTimeout (time between writes) ends the
// request with 504. Deserialized responses, DNSLink and /ipns/ are off: the
// gateway only hands out verifiable bytes of content addressed by CID.
// Its metrics (boxo's ipfs_http_gw_*) go to reg.
func newIPFSGateway(blocks *blockstore.Store, exch boxoexchange.Interface, retrievalTimeout time.Duration, reg prometheus.Registerer) (http.Handler, error) {
	// The same blocks the S3 API serves: a block fetched from a peer is
	// stored locally, as for an S3 read. Bitswap builds each received
	// block's CID from its bytes, so only verified blocks arrive.
	bserv := blockservice.New(blocks.Blockstore(), exch)
	backend, err := boxogw.NewBlocksBackend(bserv)
	if err != nil {
		return nil, fmt.Errorf("ipfs gateway: %w", err)
	}
	return boxogw.NewHandler(boxogw.Config{
		DeserializedResponses: false,
		NoDNSLink:             true,
		DisableHTMLErrors:     true,
		RetrievalTimeout:      retrievalTimeout,
		MetricsRegistry:       reg,
	}, backend), nil
}

// isIPFSPath reports whether a path-style request path addresses the IPFS
// gateway: /ipfs/ followed by something ("/ipfs/" alone is CreateBucket's
// path for a bucket named ipfs).
func isIPFSPath(path string) bool {
	return len(path) > len(ipfsPrefix) && strings.HasPrefix(path, ipfsPrefix)
}

// errIPFSGatewayOff answers /ipfs/ requests when the gateway is off.
var errIPFSGatewayOff = s3err.New(s3err.ErrNotImplemented, "The IPFS gateway of this node is off; the operator can turn it on with --ipfs-gateway auth or open.")
