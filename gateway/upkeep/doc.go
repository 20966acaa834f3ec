// Package upkeep is the node's maintenance of its local blocks: garbage
// collection ([Upkeep.GC], mark and sweep from the live roots the
// namespace reports, writes held meanwhile), fsck ([Upkeep.Fsck], every
// block of every object and of the namespace read and verified, bad ones
// refetched through the fetcher), the owned/cached usage scan
// ([Upkeep.ScanUsage]) and the multipart janitor ([Upkeep.SweepUploads]).
// It reads the namespace through its methods (VersionRoots, WinningRoots, PartRoots,
// Heads), never its keys.
package upkeep
