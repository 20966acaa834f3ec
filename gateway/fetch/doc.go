// Package fetch is the gateway's one way to a block: a [Fetcher] reads
// the local block store first, then asks peers through the exchange
// (Bitswap), each block fetched once per node whichever reads want it,
// hash-verified against its CID before it is stored or served, stored,
// and counted (s3mesh_gateway_block_* metrics).
//
// A [Read] is one reader's view (a GET, a PUT by CID, one replication
// attempt): one Bitswap session, and a progress timeout: a block fails
// once Config.Timeout has passed both since it was asked for and since
// any block of the same read last arrived, as an [Unavailable] error
// (ServiceUnavailable naming the block, matching [ErrBlockUnavailable]).
// The replicator's swarm fetch claims the blocks it fetches itself
// ([Fetcher.Claim], [Fetcher.Land]) so that reads wait for them instead
// of asking peers again. [Fetcher.BlockService] offers the same path to
// readers that need boxo's interfaces (the IPFS gateway, DAG services).
package fetch
