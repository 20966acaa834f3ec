package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"s3mesh/admin"
)

// DefaultUILinkExpiry is how long a link printed by "s3mesh ui" signs in.
const DefaultUILinkExpiry = 12 * time.Hour

// maxPresignExpiry is the longest validity SigV4 allows a presigned URL.
const maxPresignExpiry = 7 * 24 * time.Hour

// runUI runs "s3mesh ui": it checks that the node at --endpoint answers and
// accepts the credentials, then prints a presigned link to its status page.
func runUI(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", DefaultEndpoint, "URL of the running node")
	expires := fs.Duration("expires", DefaultUILinkExpiry, "how long the link signs in (at most 168h)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: s3mesh ui [--endpoint URL] [--expires DURATION]\n\n"+
			"Prints a link that opens the node's status page in a browser; opening it signs the browser\n"+
			"in for %d hours. --endpoint is the URL the browser will use: the link signs its host.\n"+
			"Credentials: S3MESH_ACCESS_KEY and S3MESH_SECRET_KEY (or AWS_ACCESS_KEY_ID and\n"+
			"AWS_SECRET_ACCESS_KEY).\n\n", int(admin.UISessionTTL/time.Hour))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "s3mesh ui: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if *expires < time.Second || *expires > maxPresignExpiry {
		fmt.Fprintf(stderr, "s3mesh ui: --expires %s: want between 1s and 168h\n", *expires)
		return errUsage
	}
	c, err := newAdminClient(*endpoint, getenv)
	if err != nil {
		return err
	}
	// A link that the node would refuse is worse than an error now.
	body, err := c.get(ctx, admin.StatusPath)
	if err != nil {
		return err
	}
	var st admin.StatusResponse
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("%s: malformed answer: %w", *endpoint, err)
	}
	link, err := c.presign(ctx, admin.UILoginPath, *expires, time.Now())
	if err != nil {
		return fmt.Errorf("sign the link: %w", err)
	}
	fmt.Fprintln(stdout, link)
	fmt.Fprintf(stderr, "Open the link above in a browser within %s to see the status page of %s.\n"+
		"It signs that browser in for %d hours; anyone holding the link can do the same, so keep it private.\n", *expires, st.ID, int(admin.UISessionTTL/time.Hour))
	return nil
}

// presign returns a SigV4 presigned URL for a GET of path on the node,
// valid for expires from now.
func (c *adminClient) presign(ctx context.Context, path string, expires time.Duration, now time.Time) (string, error) {
	u := *c.endpoint
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = "X-Amz-Expires=" + strconv.FormatInt(int64(expires/time.Second), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	signed, _, err := v4.NewSigner().PresignHTTP(ctx, aws.Credentials{AccessKeyID: c.access, SecretAccessKey: c.secret}, req, "UNSIGNED-PAYLOAD", "s3", c.region, now)
	return signed, err
}
