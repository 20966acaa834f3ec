// Package gateway is the s3mesh node's storage: a [Node] implements
// [s3mesh/s3api.ObjectStore] by storing each object's content as a UnixFS
// DAG in a content-addressed block store and its record in a [Namespace].
//
// # Layout
//
// Node composes sub-packages, none of which imports gateway:
//
//   - [s3mesh/gateway/namespace]: buckets, object records, the
//     Merkle-CRDT, the local index and listings, multipart state; it owns
//     the node's local database and hands other owners a key space of
//     their own (the replicator's queue), and gives upkeep the live roots.
//   - [s3mesh/gateway/dag]: UnixFS import, chunkers, assembly of parts,
//     the one range walker.
//   - [s3mesh/gateway/fetch]: the one block fetcher, local then peers,
//     once per node, verified; GET, PUT by CID, replication, fsck repair
//     and the IPFS gateway read through it.
//   - [s3mesh/gateway/replicate]: replicated buckets, fetched in the
//     background by every node.
//   - [s3mesh/gateway/upkeep]: garbage collection, fsck, the usage scan
//     and the multipart janitor.
//
// What stays here is the object model: PUT, GET, copy and multipart over
// those packages, and the wiring (node.go).
//
// # PUT
//
// The body streams through boxo's size chunker (Config.ChunkSize, 1 MiB by
// default) into a balanced UnixFS DAG of CIDv1 nodes with raw leaves, the
// layout `ipfs add --cid-version=1 --raw-leaves --chunker=size-1048576`
// produces, so a root CID here names the same content on any IPFS node.
// A bucket (Node.SetBucketChunker) or the node (Config.Chunker) may name
// another chunker (see ParseChunker): a content-defined one cuts where the
// content says, so that a new version of a file shares the leaves its edits
// did not touch, and offices holding the old one fetch little more than
// the changes.
// The MD5 (the ETag) and the length are computed in the same pass. Blocks
// are buffered in bounded batches, written, and made durable with one
// block store sync; only then is the record committed (a synced write),
// atomically with the conditional-write check under a per-key lock. The
// import itself holds no lock but the garbage collector's, shared. A
// failed PUT commits nothing; its blocks stay until garbage collection.
//
// # GET
//
// A record names its root CID. [s3mesh/s3api.Content.Open] walks the DAG
// from the root using the UnixFS block sizes, descending only into nodes
// that overlap the requested range and fetching only the leaves inside
// it, up to Config.FetchWindow ahead of the reader: from the local block
// store, else from Config.Exchange through one Bitswap session per read,
// so wants spread over every peer that has the blocks. Every block from
// the exchange is hash-verified before it is stored (it then stays local)
// or served. A block no reachable peer provides fails the read within
// Config.FetchTimeout of no progress, as ServiceUnavailable naming it
// ([ErrBlockUnavailable], [BlockUnavailableError]); ending the read's
// context cancels its wants.
//
// # PUT by CID
//
// A PutObject with PutObjectInput.CID adopts existing content: the CID of
// a UnixFS file or a raw block, fetched whole (locally or from peers),
// kept, and committed like a PUT body, with its size and MD5 computed by
// reading it through.
//
// Package gatewaytest runs several nodes with real Bitswap over an
// in-memory libp2p network, for tests.
//
// # Multipart uploads
//
// Node implements [s3mesh/s3api.MultipartStore]. Each part is imported as
// a PUT body is, into a DAG of its own, made durable, then recorded. Upload
// and part records live in a [namespace.UploadStore], local to the node and never
// replicated (the namespace's local index, a [namespace.PebbleNamespace], keeps them
// in its database under prefixes of their own, so listing uploads by key
// and parts by number are range scans). Completion copies no content: it
// writes a UnixFS file node whose children are the part roots (a balanced
// tree of such nodes beyond 174 parts), makes it durable, publishes the
// object record through the namespace, and only then ends the upload: a
// crash in between leaves an upload for the janitor, never a half object.
// Upload IDs sort in creation order. A janitor aborts uploads older than
// Config.MultipartMaxAge.
//
// # Namespace
//
// The node's namespace is a [namespace.CRDTNamespace]: buckets and records
// replicated between offices as a Merkle-CRDT (deltas stored as blocks and
// fetched over the exchange, heads broadcast on Config.PubSub), with a
// local index in a Pebble database whose byte order is S3 key order (read
// through [namespace.PebbleNamespace]), so ListObjects is a range scan that seeks
// past each rolled-up common prefix. Without Config.PubSub it is the same
// namespace with no peers. A data directory written by a version without
// replication is migrated on first open (see package namespace).
//
// # Garbage collection and fsck
//
// [Node.GC] removes the blocks no object record, multipart part or
// namespace delta reaches (mark and sweep); writes that add or reference
// blocks hold its lock shared, so they wait while it runs. [Node.Fsck]
// reads and hash-verifies every block of every object and of the
// namespace, and can fetch good copies of missing or corrupt ones from
// peers. One of them runs at a time.
//
// # Replicated buckets
//
// A bucket marked replicated ([Node.SetBucketReplicated],
// Config.ReplicatedBuckets) is held in full by every node: a background
// replicator fetches each object's blocks as soon as its record arrives,
// each node starting on its own stripe of the object so that offices can
// serve each other, from a queue in the namespace's database that survives
// restarts. [Node.ReplicationStatus] reports how complete the copy is. No
// two reads of a node (GETs, the replicator) ask peers for the same block
// at once. See package replicate.
//
// Usage:
//
//	n, err := gateway.New(gateway.Config{DataDir: "/var/lib/s3mesh"})
//	if err != nil { ... }
//	defer n.Close()
//	var store s3api.ObjectStore = n
//
// Specifications: [UnixFS], [CID].
//
// [UnixFS]: https://specs.ipfs.tech/unixfs/
// [CID]: https://github.com/multiformats/cid
package gateway
