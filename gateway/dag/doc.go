// Package dag is the gateway's UnixFS layer: how object content becomes
// a DAG of blocks and how a DAG is read back, with no knowledge of where
// blocks live.
//
//   - [ParseChunker] and [ChunkerSpec]: how a body is cut into leaves
//     (fixed size, or content-defined: FastCDC, buzhash, rabin).
//   - [Import]: a body cut into a balanced UnixFS file DAG (CIDv1, raw
//     leaves: the layout `ipfs add --cid-version=1 --raw-leaves` makes),
//     its MD5 and size computed in the same pass.
//   - [FileTree]: a file node over existing DAGs (multipart completion:
//     the part roots become the object's children, no byte copied).
//   - [NewRangeReader]: the one range walker: a byte range of a file read
//     through a [Getter], descending only into the nodes that overlap it,
//     its leaves fetched a window ahead.
//   - [DecodeNode] and [Verify]: a block decoded, a block checked against
//     its CID.
//
// Specifications: [UnixFS], [CID].
//
// [UnixFS]: https://specs.ipfs.tech/unixfs/
// [CID]: https://github.com/multiformats/cid
package dag
