// Package admin is the admin edge of an s3mesh node: everything its S3
// listener serves that is not S3.
//
//   - the admin API under PathPrefix (/admin/v1/): JSON for the admin verbs
//     of the command line and the status page (peers, status, buckets,
//     history, gc, fsck, replication, bucket chunkers);
//   - the status page under UIPrefix (/ui/), its assets embedded, with
//     session cookies that a presigned sign-in link hands out;
//   - a trustless IPFS gateway under IPFSPrefix (/ipfs/), reading through
//     the node's one fetch path (gateway.Node.BlockService);
//   - the probes /metrics, /health/live and /health/ready.
//
// It serves nothing by itself. Server.Mount returns an s3api.Mount: one
// route table (routes.go) whose rows name each endpoint's fixed operation
// (AdminStatus, StatusPage, IPFSGateway, …), how it is authenticated and its
// handler, which returns errors. s3api's request wrapper then gives every
// request a request ID, authentication, request metrics under the row's
// operation and one access-log line, and answers errors through the one
// error writer of this package (errors.go): JSON for the admin API, the
// sign-in page or plain text for the status page; the IPFS gateway answers
// S3 error XML, as S3 reads do. The mount also reserves the bucket names
// "admin", "ui" and "ipfs".
//
// Usage:
//
//	adm, err := admin.New(admin.Config{Credentials: creds, DataDir: dir, Metrics: promhttp.HandlerFor(reg, opts)}, node, p2p, blocks)
//	defer adm.Close()
//	h, err := s3api.New(s3api.Config{Credentials: creds, Mounts: []s3api.Mount{adm.Mount()}}, store)
//	http.Serve(ln, h)
//
// The wire types (PeersResponse, StatusResponse, …) are the admin API's
// contract with the command line's admin verbs, which are its clients.
//
// References: the trustless gateway
// (https://specs.ipfs.tech/http-gateways/trustless-gateway/).
package admin
