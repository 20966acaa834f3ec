package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"s3mesh/admin"
)

// adminStreamIdle bounds the wait for the next line of a maintenance
// answer; the node sends one at least every adminHeartbeat.
const adminStreamIdle = time.Minute

// progressLineEvery is how often the maintenance verbs print a progress
// line when stderr is not a terminal.
const progressLineEvery = 5 * time.Second

var errStreamIdle = errors.New("the node sent nothing for " + adminStreamIdle.String())

// streamAnswer is one line of a maintenance answer (see streamLine).
type streamAnswer struct {
	Progress json.RawMessage      `json:"progress"`
	Result   json.RawMessage      `json:"result"`
	Error    *admin.ErrorResponse `json:"error"`
}

// stream POSTs path with query, signed like get, and calls onProgress
// with each progress line of the answer; it returns the result line. An
// error line, an answer that ends without a result, or no line for
// adminStreamIdle are errors.
func (c *adminClient) stream(ctx context.Context, path string, query url.Values, onProgress func(json.RawMessage)) (json.RawMessage, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(adminStreamIdle, func() { cancel(errStreamIdle) })
	defer idle.Stop()

	u := *c.endpoint
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if err := signRequest(ctx, req, c.access, c.secret, c.region, time.Now()); err != nil {
		return nil, err
	}
	hc := *c.http
	hc.Timeout = 0 // the answer lasts as long as the operation; idle bounds it
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.streamError(ctx, fmt.Errorf("no s3mesh node answers at %s (%v); is \"s3mesh serve\" running there? name the node with --endpoint", c.endpoint, unwrapURLError(err)))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, c.answerError(http.MethodPost, path, resp, body)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 256<<20)
	for sc.Scan() {
		idle.Reset(adminStreamIdle)
		var l streamAnswer
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s: malformed answer line: %w", c.endpoint, err)
		}
		switch {
		case l.Error != nil:
			return nil, fmt.Errorf("the node at %s failed: %s: %s", c.endpoint, l.Error.Code, l.Error.Message)
		case l.Result != nil:
			return l.Result, nil
		case l.Progress != nil:
			onProgress(l.Progress)
		}
	}
	err = fmt.Errorf("the node at %s ended its answer before the result; did it stop? see its log", c.endpoint)
	if sc.Err() != nil {
		err = fmt.Errorf("%s: reading the answer: %w", c.endpoint, sc.Err())
	}
	return nil, c.streamError(ctx, err)
}

// streamError is err, unless ctx ended first: then why it did.
func (c *adminClient) streamError(ctx context.Context, err error) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errStreamIdle):
		return fmt.Errorf("%s: %w; is it still running?", c.endpoint, cause)
	case cause != nil:
		return fmt.Errorf("interrupted (%w): the node stops the operation too; what it did so far stays done", cause)
	}
	return err
}

// runMaint runs the maintenance endpoint path, showing its progress
// lines (of type P) on stderr, and decodes its result into res.
func runMaint[P any](ctx context.Context, c *adminClient, verb, path string, q url.Values, stderr io.Writer, text func(P) (string, float64), res any) error {
	pp := newProgressPrinter(stderr)
	raw, err := c.stream(ctx, path, q, func(b json.RawMessage) {
		var p P
		if json.Unmarshal(b, &p) == nil {
			pp.show(text(p))
		}
	})
	pp.clear()
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	if err := json.Unmarshal(raw, res); err != nil {
		return fmt.Errorf("%s: %s: malformed result: %w", verb, c.endpoint, err)
	}
	return nil
}

// runGC runs "s3mesh gc".
func runGC(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	endpoint, asJSON, err := adminFlags("gc", args, stderr, "Removes the blocks no object, multipart upload or namespace delta of the node needs.\nWrites wait while it runs.\n\n", nil)
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
	var res admin.GCResult
	if err := runMaint(ctx, c, "gc", admin.GCPath, nil, stderr, gcProgressText, &res); err != nil {
		return err
	}
	if asJSON {
		return printIndented(stdout, res)
	}
	_, err = fmt.Fprintf(stdout, "gc: scanned %d blocks, removed %d (%s freed) in %s\n",
		res.ScannedBlocks, res.RemovedBlocks, humanBytes(res.FreedBytes), seconds(res.DurationSeconds))
	return err
}

// runFsck runs "s3mesh fsck". It fails when problems are left.
func runFsck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var repair bool
	endpoint, asJSON, err := adminFlags("fsck", args, stderr, "Verifies that every object's blocks are stored and match their hashes, and the namespace's.\nExits with status 1 when problems are left.\n\n", func(fs *flag.FlagSet) string {
		fs.BoolVar(&repair, "repair", false, "fetch good copies of missing and corrupt blocks from peers")
		return "[--repair]"
	})
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
	q := url.Values{}
	if repair {
		q.Set("repair", "1")
	}
	var res admin.FsckResult
	if err := runMaint(ctx, c, "fsck", admin.FsckPath, q, stderr, fsckProgressText, &res); err != nil {
		return err
	}
	if asJSON {
		err = printIndented(stdout, res)
	} else {
		err = printFsck(stdout, res)
	}
	if err != nil {
		return err
	}
	switch {
	case res.Unrepaired == 0:
		return nil
	case repair:
		return fmt.Errorf("fsck: %d problems could not be repaired: no reachable peer has a good copy of those blocks, or the disk cannot read them; the objects listed are damaged (delete or upload them again)", res.Unrepaired)
	default:
		return fmt.Errorf("fsck: %d problems found; run \"s3mesh fsck --repair\" to fetch good copies from peers", res.Unrepaired)
	}
}

// printFsck writes the problems (those of objects written at other nodes
// as a count only) and a summary.
func printFsck(w io.Writer, r admin.FsckResult) error {
	var b bytes.Buffer
	for _, p := range r.Problems {
		if p.Remote && p.Kind == "missing" {
			continue
		}
		what := "namespace delta"
		if p.Bucket != "" {
			what = p.Bucket + "/" + p.Key + " block"
		}
		fmt.Fprintf(&b, "%s %s %s", p.Kind, what, p.CID)
		_, why, failed := strings.Cut(p.Detail, "; not repaired: ")
		switch {
		case p.Repaired:
			b.WriteString(" (repaired)")
		case failed:
			fmt.Fprintf(&b, " (not repaired: %s)", why)
		case p.Kind == "unreadable":
			fmt.Fprintf(&b, " (%s)", p.Detail)
		}
		b.WriteByte('\n')
	}
	if r.ProblemsTruncated {
		fmt.Fprintln(&b, "(more problems were found than the node lists; the counts below are complete)")
	}
	if r.MissingRemote > 0 {
		fmt.Fprintf(&b, "fsck: %d objects written at other nodes are stored here in part or not at all (%d blocks missing): normal for objects this node did not read\n",
			r.RemoteObjectsPartial, r.MissingRemote)
	}
	fmt.Fprintf(&b, "fsck: checked %d objects and %d namespace deltas, %d blocks (%s) in %s: %d missing, %d corrupt, %d unreadable, %d repaired\n",
		r.Objects, r.Deltas, r.Blocks, humanBytes(r.Bytes), seconds(r.DurationSeconds), r.Missing, r.Corrupt, r.Unreadable, r.Repaired)
	_, err := w.Write(b.Bytes())
	return err
}

func printIndented(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// seconds formats a duration given in seconds: "850ms", "1.2s", "3m4s".
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// gcProgressText describes a GC's progress; frac is its completed share,
// negative when unknown.
func gcProgressText(p admin.GCProgress) (text string, frac float64) {
	switch p.Phase {
	case "mark":
		return fmt.Sprintf("gc: marking: %d live blocks found from %d roots", p.MarkedBlocks, p.Roots), -1
	}
	frac = 1
	if p.TotalBlocks > 0 {
		frac = min(1, float64(p.ScannedBlocks)/float64(p.TotalBlocks))
	}
	return fmt.Sprintf("gc: sweeping: %d of %d blocks scanned, %d removed (%s)", p.ScannedBlocks, p.TotalBlocks, p.RemovedBlocks, humanBytes(p.FreedBytes)), frac
}

// fsckProgressText describes an fsck's progress, as gcProgressText.
func fsckProgressText(p admin.FsckProgress) (text string, frac float64) {
	if p.Phase == "deltas" {
		return fmt.Sprintf("fsck: namespace deltas: %d checked, %d problems", p.Deltas, p.Problems), -1
	}
	frac = -1
	if p.TotalObjects > 0 {
		frac = min(1, float64(p.Objects)/float64(p.TotalObjects))
	}
	return fmt.Sprintf("fsck: %d of %d objects, %s verified, %d problems", p.Objects, p.TotalObjects, humanBytes(p.Bytes), p.Problems), frac
}

// progressPrinter shows progress on stderr: a bar redrawn in place on a
// terminal, else a line every progressLineEvery.
type progressPrinter struct {
	w     io.Writer
	tty   bool
	start time.Time
	last  time.Time
	drawn int // width of the bar line on screen
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	p := &progressPrinter{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progressPrinter) show(text string, frac float64) {
	now := time.Now()
	if !p.tty {
		if now.Sub(p.start) < progressLineEvery || now.Sub(p.last) < progressLineEvery {
			return
		}
		p.last = now
		fmt.Fprintln(p.w, text)
		return
	}
	line := text
	if frac >= 0 {
		const width = 24
		done := int(frac * width)
		line = fmt.Sprintf("[%s%s] %3.0f%% %s", strings.Repeat("=", done), strings.Repeat(" ", width-done), frac*100, text)
	}
	pad := max(0, p.drawn-len(line))
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.drawn = len(line)
}

// clear erases the bar, so what follows starts on a clean line.
func (p *progressPrinter) clear() {
	if p.tty && p.drawn > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.drawn))
		p.drawn = 0
	}
}
