package admin

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ipfs/boxo/blockservice"
	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/s3api/s3err"
)

// Modes of the IPFS gateway (Config.IPFSGateway).
const (
	IPFSGatewayOff  = "off"
	IPFSGatewayAuth = "auth"
	IPFSGatewayOpen = "open"
)

// IPFSPrefix is the path under which the gateway answers.
const IPFSPrefix = "/ipfs/"

// newIPFSGateway returns a trustless IPFS gateway (GET/HEAD
// /ipfs/{cid}[/path] answered as application/vnd.ipld.raw or
// application/vnd.ipld.car, per ?format= or Accept) over the node's block
// service, its one fetch path: local blocks first, then peers, each block
// fetched once per node, hash-verified, stored and counted as for an S3
// read. A block that no peer provides within retrievalTimeout (time between
// writes) ends the request with 504. Deserialized responses, DNSLink and
// /ipns/ are off: the gateway only hands out verifiable bytes of content
// addressed by CID. Its metrics (boxo's ipfs_http_gw_*) go to reg.
func newIPFSGateway(bserv blockservice.BlockService, retrievalTimeout time.Duration, reg prometheus.Registerer) (http.Handler, error) {
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
// gateway: IPFSPrefix followed by something ("/ipfs/" alone is
// CreateBucket's path for a bucket named ipfs).
func isIPFSPath(path string) bool {
	return len(path) > len(IPFSPrefix) && strings.HasPrefix(path, IPFSPrefix)
}

// errIPFSGatewayOff answers IPFSPrefix requests when the gateway is off.
var errIPFSGatewayOff = s3err.New(s3err.ErrNotImplemented, "The IPFS gateway of this node is off; the operator can turn it on with --ipfs-gateway auth or open.")

// serveIPFS answers a request under IPFSPrefix, authenticated as the mode
// asks (see match).
func (s *Server) serveIPFS(w http.ResponseWriter, r *http.Request) error {
	if s.ipfs == nil {
		return errIPFSGatewayOff
	}
	s.ipfs.ServeHTTP(w, r)
	return nil
}
