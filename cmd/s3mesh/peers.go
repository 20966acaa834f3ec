package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"s3mesh/admin"
)

// DefaultEndpoint is the node the admin verbs talk to without --endpoint.
const DefaultEndpoint = "http://127.0.0.1:9000"

// adminRequestTimeout bounds one admin request (the node pings its peers
// for /admin/v1/peers, at most adminPingTimeout).
const adminRequestTimeout = 30 * time.Second

// errNoCredentials is returned by the admin verbs without credentials.
var errNoCredentials = errors.New("no credentials: set S3MESH_ACCESS_KEY and S3MESH_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) to the node's root key pair")

// adminClient calls a running node's admin API with the root credentials.
type adminClient struct {
	endpoint *url.URL
	access   string
	secret   string
	region   string
	http     *http.Client
}

// newAdminClient reads the credentials from the environment:
// S3MESH_ACCESS_KEY and S3MESH_SECRET_KEY, else AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY. The region signed for is S3MESH_REGION, else
// AWS_REGION, default us-east-1; it must be the node's region (the node
// refuses other scopes with AuthorizationHeaderMalformed).
func newAdminClient(endpoint string, getenv func(string) string) (*adminClient, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--endpoint %q: want a URL such as %s", endpoint, DefaultEndpoint)
	}
	ak, sk := getenv("S3MESH_ACCESS_KEY"), getenv("S3MESH_SECRET_KEY")
	if ak == "" && sk == "" {
		ak, sk = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	}
	if ak == "" || sk == "" {
		return nil, errNoCredentials
	}
	region := getenv("S3MESH_REGION")
	if region == "" {
		region = getenv("AWS_REGION")
	}
	if region == "" {
		region = DefaultRegion
	}
	return &adminClient{endpoint: u, access: ak, secret: sk, region: region, http: &http.Client{Timeout: adminRequestTimeout}}, nil
}

// get signs a GET of path (SigV4, service s3) and returns the body of a
// 200 answer. Other answers become errors an operator can act on.
func (c *adminClient) get(ctx context.Context, path string) ([]byte, error) {
	return c.call(ctx, http.MethodGet, path, nil)
}

// answerError turns an admin API answer that is not a success into an
// error an operator can act on.
func (c *adminClient) answerError(method, path string, resp *http.Response, body []byte) error {
	var e admin.ErrorResponse
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || json.Unmarshal(body, &e) != nil || e.Code == "" {
		return fmt.Errorf("%s does not serve the s3mesh admin API (%s %s: %s); is it an s3mesh node of this version?", c.endpoint, method, path, resp.Status)
	}
	switch e.Code {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return fmt.Errorf("the node at %s refused the credentials (%s: %s); set S3MESH_ACCESS_KEY and S3MESH_SECRET_KEY to the node's root key pair (printed at its first start, kept in DATA/%s)", c.endpoint, e.Code, e.Message, credentialsFile)
	case "RequestTimeTooSkewed":
		return fmt.Errorf("the node at %s refused the request: this machine's clock is too far from the node's (%s)", c.endpoint, e.Message)
	}
	return fmt.Errorf("the node at %s answered %s: %s: %s", c.endpoint, resp.Status, e.Code, e.Message)
}

// unwrapURLError drops the "Get URL:" prefix of a client error.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// signRequest signs req, which has no body, with SigV4 for service s3.
func signRequest(ctx context.Context, req *http.Request, access, secret, region string, now time.Time) error {
	sum := sha256.Sum256(nil)
	payload := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", payload)
	return v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: access, SecretAccessKey: secret}, req, payload, "s3", region, now)
}

// adminFlags parses the flags every admin verb has, --endpoint and
// --json; about describes the verb in its usage (after the usage line),
// and extra, when not nil, adds the verb's own flags and returns the
// flags part of the usage line.
func adminFlags(verb string, args []string, stderr io.Writer, about string, extra func(*flag.FlagSet) string) (endpoint string, asJSON bool, err error) {
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&endpoint, "endpoint", DefaultEndpoint, "URL of the running node")
	fs.BoolVar(&asJSON, "json", false, "print the node's JSON answer")
	own := ""
	if extra != nil {
		own = extra(fs) + " "
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: s3mesh %s %s[--endpoint URL] [--json]\n\n%sCredentials: S3MESH_ACCESS_KEY and S3MESH_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).\n\n", verb, own, about)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", false, err
		}
		return "", false, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "s3mesh %s: unexpected argument %q\n", verb, fs.Arg(0))
		return "", false, errUsage
	}
	return endpoint, asJSON, nil
}

// runAdmin runs "s3mesh peers" or "s3mesh status".
func runAdmin(ctx context.Context, verb string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	endpoint, asJSON, err := adminFlags(verb, args, stderr, "", nil)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := newAdminClient(endpoint, getenv)
	if err != nil {
		return err
	}
	path := map[string]string{"peers": admin.PeersPath, "status": admin.StatusPath}[verb]
	body, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	if asJSON {
		_, err := stdout.Write(body)
		return err
	}
	switch verb {
	case "peers":
		var p admin.PeersResponse
		if err := json.Unmarshal(body, &p); err != nil {
			return fmt.Errorf("%s: malformed answer: %w", endpoint, err)
		}
		return printPeers(stdout, p)
	default:
		var s admin.StatusResponse
		if err := json.Unmarshal(body, &s); err != nil {
			return fmt.Errorf("%s: malformed answer: %w", endpoint, err)
		}
		return printStatus(stdout, s)
	}
}

// printPeers writes the peer table: one line per peer with its ID, whether
// it is connected and static, its RTT and its first address.
func printPeers(w io.Writer, p admin.PeersResponse) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "This node: %s\n", p.ID)
	if len(p.Peers) == 0 {
		fmt.Fprintln(&b, "No peers: add other offices with --peer (see s3mesh id).")
		_, err := w.Write(b.Bytes())
		return err
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tCONNECTED\tSTATIC\tRTT\tADDRESS")
	for _, ps := range p.Peers {
		rtt := "-"
		if ps.RTTMillis != nil {
			rtt = fmt.Sprintf("%.1fms", *ps.RTTMillis)
		}
		addr := "-"
		if len(ps.Addrs) > 0 {
			addr = ps.Addrs[0]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ps.ID, yesNo(ps.Connected), yesNo(ps.Static), rtt, addr)
	}
	tw.Flush()
	_, err := w.Write(b.Bytes())
	return err
}

// printStatus writes the status as aligned "name value" lines.
func printStatus(w io.Writer, s admin.StatusResponse) error {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Version\t%s\n", s.Version)
	fmt.Fprintf(tw, "Peer ID\t%s\n", s.ID)
	fmt.Fprintf(tw, "S3 endpoint\t%s\n", s.Endpoint)
	fmt.Fprintf(tw, "Data\t%s\n", s.DataDir)
	fmt.Fprintf(tw, "Uptime\t%s (since %s)\n", (time.Duration(s.UptimeSeconds) * time.Second).String(), s.Started.Format(time.RFC3339))
	fmt.Fprintf(tw, "Peers\t%d connected, %d static\n", s.PeersConnected, s.PeersStatic)
	fmt.Fprintf(tw, "Blocks\t%d (%s)\n", s.Blocks.Count, humanBytes(s.Blocks.Bytes))
	if s.Disk != nil {
		fmt.Fprintf(tw, "Disk\t%s free of %s\n", humanBytes(int64(s.Disk.FreeBytes)), humanBytes(int64(s.Disk.TotalBytes)))
	}
	if c := s.Cache; c != nil {
		budget := "no budget"
		if c.BudgetBytes > 0 {
			budget = "budget " + humanBytes(c.BudgetBytes)
		}
		fmt.Fprintf(tw, "Cache\t%s used, %s; %d hits, %d misses; %d blocks (%s) evicted\n", humanBytes(c.UsedBytes), budget, c.Hits, c.Misses, c.EvictedBlocks, humanBytes(c.EvictedBytes))
		if c.WritesRefused {
			fmt.Fprintf(tw, "Writes\tREFUSED: the disk is below the %s kept free\n", humanBytes(c.MinFreeBytes))
		}
	}
	fmt.Fprintf(tw, "IPFS gateway\t%s\n", s.IPFSGateway)
	ns := s.Namespace
	fmt.Fprintf(tw, "Namespace\t%s: %d topic peers, %d heads, height %d, %d queued", ns.Network, ns.TopicPeers, ns.Heads, ns.MaxHeight, ns.QueuedJobs)
	if ns.Dirty {
		fmt.Fprint(tw, ", repair due")
	}
	fmt.Fprintln(tw)
	if ns.Epoch > 0 {
		fmt.Fprintf(tw, "Snapshot	epoch %d from %s (%d items); %d delta levels since\n", ns.Epoch, ns.Snapshot, ns.SnapshotItems, ns.Backlog)
	} else {
		fmt.Fprintf(tw, "Snapshot	none yet (epoch 0); %d delta levels\n", ns.Backlog)
	}
	if j := ns.Join; j != nil {
		fmt.Fprintf(tw, "Join	%s: %d/%d leaves, %d/%d items, %s", j.State, j.LeavesDone, j.Leaves, j.ItemsDone, j.Items, humanBytes(j.Bytes))
		if j.Error != "" {
			fmt.Fprintf(tw, " (%s)", j.Error)
		}
		fmt.Fprintln(tw)
	}
	if ns.LagSamples > 0 && ns.LagP50Ms != nil && ns.LagP99Ms != nil {
		fmt.Fprintf(tw, "Replication lag\tp50 %.1fms, p99 %.1fms over the last %d updates from other offices\n", *ns.LagP50Ms, *ns.LagP99Ms, ns.LagSamples)
	} else {
		fmt.Fprintln(tw, "Replication lag\t- (no update from another office yet)")
	}
	for i, a := range s.Addrs {
		name := ""
		if i == 0 {
			name = "P2P addresses"
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, a)
	}
	tw.Flush()
	_, err := w.Write(b.Bytes())
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// humanBytes formats n in binary units: "512 B", "1.5 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
