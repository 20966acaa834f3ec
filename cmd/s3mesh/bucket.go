package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"s3mesh/admin"
)

// bucketVerbsUsage lists the bucket verbs.
const bucketVerbsUsage = `usage: s3mesh bucket VERB ...

  replicate NAME [--off]   mark bucket NAME replicated: every office fetches and keeps
                           its objects in the background (--off: stop fetching new ones)
  status                   how complete this node's copy of each replicated bucket is
  chunker NAME [SPEC]      print, or set, how new objects of bucket NAME are cut into blocks

Each takes --endpoint URL (default ` + DefaultEndpoint + `) and --json.
Credentials: S3MESH_ACCESS_KEY and S3MESH_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
`

// runBucket runs "s3mesh bucket VERB ...".
func runBucket(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, bucketVerbsUsage)
		return errUsage
	}
	switch verb, rest := args[0], args[1:]; verb {
	case "replicate":
		return runBucketReplicate(ctx, rest, getenv, stdout, stderr)
	case "status":
		return runBucketStatus(ctx, rest, getenv, stdout, stderr)
	case "chunker":
		return runBucketChunker(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, bucketVerbsUsage)
		return nil
	default:
		fmt.Fprintf(stderr, "s3mesh bucket: unknown verb %q\n\n%s", verb, bucketVerbsUsage)
		return errUsage
	}
}

// parseInterspersed parses fs from args, with flags before, between or
// after the positional arguments, and returns those.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for range len(args) + 1 { // each round consumes at least one argument
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	return pos, nil
}

// bucketVerb parses a bucket verb's command line: --endpoint and --json,
// the verb's own flags (added by own when not nil), and minArgs to maxArgs
// positional arguments anywhere among the flags. synopsis follows
// "s3mesh bucket " in the usage, about explains the verb. It returns the
// positional arguments and a client for the node; flag.ErrHelp after -h.
func bucketVerb(synopsis, about string, minArgs, maxArgs int, args []string, getenv func(string) string, stderr io.Writer, own func(*flag.FlagSet)) (pos []string, c *adminClient, asJSON bool, err error) {
	name, _, _ := strings.Cut(synopsis, " ")
	fs := flag.NewFlagSet("bucket "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", DefaultEndpoint, "URL of the running node")
	fs.BoolVar(&asJSON, "json", false, "print the node's JSON answer")
	if own != nil {
		own(fs)
	}
	usage := "usage: s3mesh bucket " + synopsis + " [--endpoint URL] [--json]"
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\n%s\nCredentials: S3MESH_ACCESS_KEY and S3MESH_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).\n\n", usage, about)
		fs.PrintDefaults()
	}
	if pos, err = parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, false, err
		}
		return nil, nil, false, errUsage
	}
	if len(pos) < minArgs || len(pos) > maxArgs {
		fmt.Fprintln(stderr, usage)
		return nil, nil, false, errUsage
	}
	c, err = newAdminClient(*endpoint, getenv)
	return pos, c, asJSON, err
}

// runBucketReplicate runs "s3mesh bucket replicate NAME [--off]".
func runBucketReplicate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var off bool
	pos, c, asJSON, err := bucketVerb("replicate NAME [--off]", `Marks bucket NAME replicated, on every office: each node then fetches every object
of the bucket in the background as soon as its record arrives, and keeps it; objects
already in the bucket are fetched too. "s3mesh bucket status" shows the progress.
`, 1, 1, args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&off, "off", false, "stop replicating the bucket: offices fetch none of its new objects (blocks already fetched stay)")
	})
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	var res admin.BucketReplicateResponse
	q := url.Values{"bucket": {pos[0]}, "on": {strconv.FormatBool(!off)}}
	if decoded, err := c.fetch(ctx, http.MethodPost, admin.BucketReplicatePath, q, asJSON, stdout, &res); !decoded || err != nil {
		return err
	}
	if res.Replicated {
		_, err = fmt.Fprintf(stdout, "bucket %s: replicated; every office fetches and keeps its objects\n", res.Bucket)
	} else {
		_, err = fmt.Fprintf(stdout, "bucket %s: not replicated; offices fetch none of its new objects (blocks already fetched stay)\n", res.Bucket)
	}
	return err
}

// runBucketStatus runs "s3mesh bucket status".
func runBucketStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	_, c, asJSON, err := bucketVerb("status", `Shows, for each replicated bucket, how many of its objects and bytes the node holds,
and the objects it is fetching.
`, 0, 0, args, getenv, stderr, nil)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	var res admin.ReplicationResponse
	if decoded, err := c.fetch(ctx, http.MethodGet, admin.ReplicationPath, nil, asJSON, stdout, &res); !decoded || err != nil {
		return err
	}
	return printReplication(stdout, res)
}

// printReplication prints the replication status as tables.
func printReplication(w io.Writer, res admin.ReplicationResponse) error {
	if len(res.Buckets) == 0 {
		_, err := fmt.Fprintln(w, `no replicated bucket (mark one with "s3mesh bucket replicate NAME")`)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BUCKET\tOBJECTS\tCOMPLETE\tLOCAL\tSIZE\tDONE")
	for _, b := range res.Buckets {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%.1f%%\n", b.Name, b.Objects, b.ObjectsComplete,
			humanBytes(b.BytesLocal), humanBytes(b.LogicalBytes), b.CompletePercent)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nqueued: %d objects, %s to fetch\n", res.QueuedObjects, humanBytes(res.PendingBytes))
	if len(res.InProgress) == 0 {
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nOBJECT\tLEAVES\tLOCAL\tSIZE\tSTATE")
	for _, o := range res.InProgress {
		leaves := "?"
		if o.LeavesTotal > 0 {
			leaves = fmt.Sprintf("%d/%d", o.LeavesLocal, o.LeavesTotal)
		}
		state := "waiting"
		switch {
		case o.Active:
			state = "fetching"
		case o.NextAttempt != nil:
			state = fmt.Sprintf("retry at %s after %d failed attempts: %s", o.NextAttempt.Local().Format("15:04:05"), o.Attempts, o.LastError)
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\n", o.Bucket, o.Key, leaves, humanBytes(o.BytesLocal), humanBytes(o.BytesTotal), state)
	}
	if res.InProgressTruncated {
		fmt.Fprintln(tw, "…\t\t\t\t")
	}
	return tw.Flush()
}
