// Package blockstore is s3mesh's local persistent block store: boxo's
// [blockstore.Blockstore] over an embedded datastore, with size accounting
// and an explicit durability point.
//
// Two backends are available:
//
//   - "flatfs" (the default): one file per block under a two-character
//     shard directory, in the layout of [github.com/ipfs/go-ds-flatfs]. A
//     block is written to a temporary file, fsynced and renamed into place,
//     so a visible file is always complete; [Store.Sync] fsyncs the
//     directories that gained entries. A crash can leave temporary files,
//     which Open removes.
//   - "pebble": blocks are values in a Pebble LSM
//     ([github.com/ipfs/go-ds-pebble]). Writes go to the write-ahead log
//     without fsync; [Store.Sync] fsyncs the log once, which makes every
//     earlier write durable. After a crash Pebble replays the log up to the
//     last complete record, so a block is either whole or absent.
//
// The flatfs backend is implemented here rather than imported: go-ds-flatfs
// v0.5.1, its latest release, does not build against go-datastore v0.9
// (which boxo v0.43 requires), and its Sync does nothing, leaving
// durability to a per-write fsync of both file and directory.
//
// Usage:
//
//	st, err := blockstore.Open(blockstore.Config{Path: dir})
//	if err != nil { ... }
//	defer st.Close()
//	bs := st.Blockstore()
//	err = bs.Put(ctx, blk)
//	err = st.Sync(ctx) // blk survives a crash from here on
//
// The store keeps two gauges on Config.Registerer:
// s3mesh_blockstore_blocks and s3mesh_blockstore_bytes.
package blockstore
