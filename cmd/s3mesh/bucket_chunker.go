package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"s3mesh/admin"
)

// runBucketChunker runs "s3mesh bucket chunker NAME [SPEC]": with SPEC it
// sets how new objects of bucket NAME are cut, without it prints it.
func runBucketChunker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	pos, c, asJSON, err := bucketVerb("chunker NAME [SPEC]", `Prints, or with SPEC sets, how new objects of bucket NAME are cut into blocks,
on every office. SPEC is one of:
  size-N                 fixed N-byte blocks (1 KiB to 2 MiB; KiB and MiB suffixes allowed)
  buzhash                content-defined, 128 KiB to 512 KiB (as ipfs add --chunker=buzhash)
  fastcdc[-MIN-AVG-MAX]  content-defined, FastCDC: 256 KiB to 2 MiB, 1 MiB on average
  rabin[-MIN-AVG-MAX]    content-defined, Rabin fingerprints (a quarter of the others' speed)
  cdc                    the recommended content-defined chunker (now buzhash)
  default                the node's chunker (--chunker, else --chunk-size blocks)
Content-defined chunking lets a new version of a large file (a build, an image)
share the blocks its edits did not touch, so offices that hold the old version
fetch little more than the changes. Objects already stored keep their blocks.
`, 1, 2, args, getenv, stderr, nil)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	q := url.Values{"bucket": {pos[0]}}
	method := http.MethodGet
	if len(pos) == 2 {
		method = http.MethodPost
		q.Set("spec", pos[1])
	}
	var res admin.ChunkerResponse
	if decoded, err := c.fetch(ctx, method, admin.ChunkerPath, q, asJSON, stdout, &res); !decoded || err != nil {
		return err
	}
	how := res.Effective + " (the node's default)"
	if res.Chunker != "" {
		how = res.Chunker
	}
	verb := "are cut with"
	if method == http.MethodPost {
		verb = "will be cut with"
	}
	_, err = fmt.Fprintf(stdout, "bucket %s: new objects %s %s\n", res.Bucket, verb, how)
	return err
}

// fetch calls the endpoint (see call). With asJSON it copies the answer
// to stdout and returns false; otherwise it decodes the answer into out
// and returns true.
func (c *adminClient) fetch(ctx context.Context, method, path string, query url.Values, asJSON bool, stdout io.Writer, out any) (bool, error) {
	body, err := c.call(ctx, method, path, query)
	if err != nil {
		return false, err
	}
	if asJSON {
		_, err := stdout.Write(body)
		return false, err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return false, fmt.Errorf("%s: malformed answer: %w", c.endpoint, err)
	}
	return true, nil
}

// call signs a request of path with query and no body (SigV4, service s3)
// and returns the body of a 200 JSON answer, at most 16 MiB; other answers
// become errors an operator can act on.
func (c *adminClient) call(ctx context.Context, method, path string, query url.Values) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, adminRequestTimeout)
	defer cancel()
	u := *c.endpoint
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if err := signRequest(ctx, req, c.access, c.secret, c.region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("no s3mesh node answers at %s (%v); start one with \"s3mesh serve\" or name it with --endpoint", c.endpoint, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", c.endpoint, err)
	}
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return body, nil
	}
	return nil, c.answerError(method, path, resp, body)
}
