package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"s3mesh/admin"
	"s3mesh/blockstore"
)

// TestUINode signs in to a running node's status page as a browser does
// and reads the admin API with the cookie.
func TestUINode(t *testing.T) {
	n := startNode(t, nil)
	ctx := context.Background()
	c, err := minio.New(strings.TrimPrefix(n.endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(adminTestAccess, adminTestSecret, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(ctx, "photos", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{"a.jpg": "12345", "b/c.jpg": "1234567"} {
		if _, err := c.PutObject(ctx, "photos", key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// (S3 clients refuse a 2-letter name themselves; the node does too.)
	if resp, body := do(t, "PUT", n.endpoint+"/ui", adminTestAccess, adminTestSecret, nil); resp.StatusCode != 400 || !strings.Contains(string(body), "<Code>InvalidBucketName</Code>") {
		t.Errorf("CreateBucket ui = %d %s, want InvalidBucketName", resp.StatusCode, body)
	}

	// Unauthenticated: the page explains how to sign in; the API refuses.
	resp, body := do(t, "GET", n.endpoint+"/ui/", "", "", nil)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "s3mesh ui --endpoint "+n.endpoint) {
		t.Errorf("unauthenticated /ui/ = %d\n%s", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", n.endpoint+admin.BucketsPath, "", "", nil)
	if resp.StatusCode != 403 || adminErrorCode(t, resp, body) != "AccessDenied" {
		t.Errorf("unauthenticated buckets = %d %s", resp.StatusCode, body)
	}

	// "s3mesh ui" prints a presigned link to the login path.
	out, err := runCLI(nodeEnv(nil), "ui", "--endpoint", n.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	link := strings.TrimSpace(out)
	lu, err := url.Parse(link)
	if err != nil || strings.Count(out, "\n") != 1 || !strings.HasPrefix(link, n.endpoint+admin.UILoginPath+"?") ||
		lu.Query().Get("X-Amz-Expires") != "43200" || lu.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("s3mesh ui printed %q, want one presigned link to %s valid 12h", out, admin.UILoginPath)
	}

	// A browser: follows the redirect with the cookie it was given.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		u := path
		if !strings.HasPrefix(path, "http") {
			u = n.endpoint + path
		}
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	resp, body = get(link)
	if resp.StatusCode != 200 || resp.Request.URL.Path != admin.UIPrefix || !strings.Contains(string(body), `id="buckets-body"`) {
		t.Fatalf("opening the link ended at %s with %d:\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	for path, ctype := range map[string]string{"/ui/app.js": "text/javascript; charset=utf-8", "/ui/style.css": "text/css; charset=utf-8"} {
		if resp, _ := get(path); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype {
			t.Errorf("GET %s = %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}

	resp, body = get(admin.BucketsPath)
	var bs admin.BucketsResponse
	if resp.StatusCode != 200 || json.Unmarshal(body, &bs) != nil {
		t.Fatalf("buckets with the cookie = %d %s", resp.StatusCode, body)
	}
	if len(bs.Buckets) != 1 || bs.Buckets[0].Name != "photos" || bs.Buckets[0].Objects != 2 || bs.Buckets[0].Bytes != 12 || bs.TotalBytes != 12 {
		t.Errorf("buckets = %+v, want photos with 2 objects, 12 bytes", bs)
	}
	resp, body = get(admin.StatusPath)
	var st admin.StatusResponse
	if resp.StatusCode != 200 || json.Unmarshal(body, &st) != nil || st.ID != n.id {
		t.Fatalf("status with the cookie = %d %s", resp.StatusCode, body)
	}
	if _, _, err := blockstore.Disk(n.dir); err == nil && (st.Disk == nil || st.Disk.TotalBytes == 0) {
		t.Errorf("status disk = %+v, want the data directory's file system", st.Disk)
	}
	// The sampler takes its first point as the node starts, in the
	// background: wait for it.
	waitFor(t, "the history's first point", func() error {
		resp, body := get(admin.HistoryPath)
		var h admin.HistoryResponse
		if resp.StatusCode != 200 || json.Unmarshal(body, &h) != nil || h.Capacity != admin.HistoryPoints || len(h.Times) < 1 || len(h.StoredBytes) != len(h.Times) {
			return fmt.Errorf("history with the cookie = %d %s", resp.StatusCode, body)
		}
		return nil
	})

	// The cookie reads, it does not write.
	u, _ := url.Parse(n.endpoint)
	var session string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == admin.UICookieName {
			session = ck.Value
		}
	}
	resp, body = do(t, "POST", n.endpoint+admin.PeersPath, "", "", withCookie(session))
	if resp.StatusCode != 403 || adminErrorCode(t, resp, body) != "AccessDenied" {
		t.Errorf("POST with the cookie = %d %s, want 403 AccessDenied", resp.StatusCode, body)
	}
	// A cookie made with another secret is refused.
	// (The form of a session, v1.EXPIRY.MAC, with a MAC of another key.)
	forged := "v1." + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	resp, body = do(t, "GET", n.endpoint+admin.StatusPath, "", "", withCookie(forged))
	if resp.StatusCode != 403 {
		t.Errorf("forged cookie = %d %s, want 403", resp.StatusCode, body)
	}
	// A signed call still works, cookie or not.
	resp, body = do(t, "GET", n.endpoint+admin.BucketsPath, adminTestAccess, adminTestSecret, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"photos"`) {
		t.Errorf("signed buckets = %d %s", resp.StatusCode, body)
	}
	// A tampered link does not sign in.
	q := lu.Query()
	q.Set("X-Amz-Expires", "43201")
	lu.RawQuery = q.Encode()
	resp, body = do(t, "GET", lu.String(), "", "", nil)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "refused") || len(resp.Cookies()) != 0 {
		t.Errorf("tampered link = %d %v\n%s", resp.StatusCode, resp.Cookies(), body)
	}
}

func TestUICLIErrors(t *testing.T) {
	n := startNode(t, nil)
	_, err := runCLI(nodeEnv(map[string]string{"S3MESH_SECRET_KEY": "wrong"}), "ui", "--endpoint", n.endpoint)
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") {
		t.Errorf("wrong secret: %v", err)
	}
	_, err = runCLI(func(string) string { return "" }, "ui", "--endpoint", n.endpoint)
	if !errors.Is(err, errNoCredentials) {
		t.Errorf("no credentials: %v", err)
	}
	for _, args := range [][]string{{"ui", "extra"}, {"ui", "--expires", "200h"}, {"ui", "--expires", "0s"}, {"ui", "--endpoint", "localhost:9000"}} {
		if _, err := runCLI(nodeEnv(nil), args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	out, err := runCLI(nodeEnv(nil), "ui", "--endpoint", n.endpoint+"/", "--expires", "90m")
	if err != nil || !strings.Contains(out, n.endpoint+admin.UILoginPath+"?") || !strings.Contains(out, "X-Amz-Expires=5400") {
		t.Errorf("ui --expires 90m = %q, %v", out, err)
	}
}

// withCookie adds the status page's session cookie v to a request.
func withCookie(v string) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: admin.UICookieName, Value: v}) }
}
