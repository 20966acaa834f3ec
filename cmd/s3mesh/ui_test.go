package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"s3mesh/s3api/s3err"
)

// testUIServer returns a uiServer for access/secret whose clock reads
// *now and whose signature check accepts "Authorization: good" and a
// presigned query with X-Amz-Signature=good.
func testUIServer(t *testing.T, secret string, now *time.Time) *uiServer {
	t.Helper()
	u, err := newUIServer("AKUITEST", secret, func(r *http.Request) error {
		if r.Header.Get("Authorization") == "good" || r.URL.Query().Get("X-Amz-Signature") == "good" {
			return nil
		}
		return s3err.New(s3err.ErrSignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided.")
	})
	if err != nil {
		t.Fatal(err)
	}
	u.now = func() time.Time { return *now }
	return u
}

func TestUISessionCookie(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	u := testUIServer(t, "secret-one", &now)
	other := testUIServer(t, "secret-two", &now)
	valid := u.newSession(now.Add(uiSessionTTL))
	exp, sig, _ := strings.Cut(strings.TrimPrefix(valid, "v1."), ".")
	flipped := []byte(sig)
	flipped[3] ^= 'A' ^ 'B'
	if flipped[3] == sig[3] {
		flipped[3] = 'C'
	}
	otherAccess := *u
	otherAccess.access = "AKOTHER"
	for _, tt := range []struct {
		name  string
		value string
		ok    bool
	}{
		{"valid", valid, true},
		{"valid, short", u.newSession(now.Add(time.Second)), true},
		{"expired", u.newSession(now.Add(-time.Second)), false},
		{"expires now", u.newSession(now), false},
		{"beyond the session lifetime", u.newSession(now.Add(uiSessionTTL + time.Hour)), false},
		{"forged expiry", "v1." + strconv.FormatInt(now.Add(uiSessionTTL).Unix()+60, 10) + "." + sig, false},
		{"forged signature", "v1." + exp + "." + string(flipped), false},
		{"wrong key", other.newSession(now.Add(time.Hour)), false},
		{"other access key", otherAccess.newSession(now.Add(time.Hour)), false},
		{"no signature", "v1." + exp, false},
		{"empty signature", "v1." + exp + ".", false},
		{"other version", "v2." + exp + "." + sig, false},
		{"padded expiry", "v1.0" + exp + "." + sig, false},
		{"empty", "", false},
		{"garbage", "not a cookie", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := u.validSession(tt.value); got != tt.ok {
				t.Errorf("validSession(%q) = %v, want %v", tt.value, got, tt.ok)
			}
		})
	}
	// A valid cookie stops being valid when its time comes.
	now = now.Add(uiSessionTTL)
	if u.validSession(valid) {
		t.Error("a session cookie is still valid at its expiry")
	}
}

// uiGet serves one request to u and returns the recorder.
func uiGet(u *uiServer, method, target string, mod func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	if mod != nil {
		mod(r)
	}
	w := httptest.NewRecorder()
	if isUIPath(r) {
		u.ServeHTTP(w, r)
	} else {
		w.WriteHeader(http.StatusTeapot) // rootHandler would send it to S3
	}
	return w
}

func withCookie(v string) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: uiCookieName, Value: v}) }
}

func TestUIServerAssetsAndSignIn(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	u := testUIServer(t, "secret", &now)
	session := withCookie(u.newSession(now.Add(time.Hour)))

	// Signing in: a signed GET of the login path sets the cookie.
	w := uiGet(u, "GET", "http://node.test"+uiLoginPath+"?X-Amz-Signature=good", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != uiPrefix {
		t.Fatalf("login = %d to %q, want 303 to %s", w.Code, w.Header().Get("Location"), uiPrefix)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != uiCookieName || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode ||
		cs[0].Path != "/" || cs[0].MaxAge != int(uiSessionTTL/time.Second) || cs[0].Secure || !u.validSession(cs[0].Value) {
		t.Errorf("login cookies = %+v; want one HttpOnly, SameSite=Strict, Path=/ session cookie", cs)
	}
	if w.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("login Referrer-Policy = %q: the link's signature could leak", w.Header().Get("Referrer-Policy"))
	}

	for _, tt := range []struct {
		name, method, target string
		mod                  func(*http.Request)
		status               int
		ctype, body          string
	}{
		{"page", "GET", "/ui/", session, 200, "text/html; charset=utf-8", `<script src="app.js" defer>`},
		{"index.html", "GET", "/ui/index.html", session, 404, "", ""},
		{"script", "GET", "/ui/app.js", session, 200, "text/javascript; charset=utf-8", "getJSON"},
		{"style", "GET", "/ui/style.css", session, 200, "text/css; charset=utf-8", ":root"},
		{"HEAD", "HEAD", "/ui/app.js", session, 200, "text/javascript; charset=utf-8", ""},
		{"signed", "GET", "/ui/", func(r *http.Request) { r.Header.Set("Authorization", "good") }, 200, "text/html; charset=utf-8", "<table"},
		{"unknown asset", "GET", "/ui/nope.js", session, 404, "text/plain; charset=utf-8", "no such page"},
		{"no cookie", "GET", "/ui/", nil, 403, "text/html; charset=utf-8", "s3mesh ui --endpoint http://example.com"},
		{"no cookie, asset", "GET", "/ui/app.js", nil, 403, "text/html; charset=utf-8", "s3mesh ui"},
		{"no cookie, unknown", "GET", "/ui/nope.js", nil, 403, "text/html; charset=utf-8", "s3mesh ui"},
		{"expired cookie", "GET", "/ui/", withCookie(u.newSession(now.Add(-time.Minute))), 403, "text/html; charset=utf-8", "s3mesh ui"},
		{"bad signature", "GET", "/ui/", func(r *http.Request) { r.Header.Set("Authorization", "bad") }, 403, "text/html; charset=utf-8", "SignatureDoesNotMatch"},
		{"login unsigned", "GET", uiLoginPath, nil, 403, "text/html; charset=utf-8", "s3mesh ui"},
		{"login with a cookie only", "GET", uiLoginPath, session, 403, "text/html; charset=utf-8", "s3mesh ui"},
		{"login refused", "GET", uiLoginPath + "?X-Amz-Signature=bad", nil, 403, "text/html; charset=utf-8", "The sign-in link was refused (SignatureDoesNotMatch)"},
		{"POST", "POST", "/ui/", session, 405, "text/plain; charset=utf-8", "GET and HEAD only"},
		{"redirect", "GET", "/ui", nil, 302, "", ""},
		{"signed /ui is S3", "GET", "/ui", func(r *http.Request) { r.Header.Set("Authorization", "good") }, http.StatusTeapot, "", ""},
		{"PUT /ui is S3", "PUT", "/ui", nil, http.StatusTeapot, "", ""},
		{"other path is S3", "GET", "/uix/", session, http.StatusTeapot, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := uiGet(u, tt.method, tt.target, tt.mod)
			if w.Code != tt.status {
				t.Fatalf("%s %s = %d, want %d\n%s", tt.method, tt.target, w.Code, tt.status, w.Body)
			}
			if tt.ctype != "" && w.Header().Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", w.Header().Get("Content-Type"), tt.ctype)
			}
			if !strings.Contains(w.Body.String(), tt.body) {
				t.Errorf("body lacks %q:\n%s", tt.body, w.Body)
			}
			if tt.method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("HEAD has a body")
			}
			if tt.status == 200 && (w.Header().Get("Content-Security-Policy") != uiCSP || w.Header().Get("X-Content-Type-Options") != "nosniff") {
				t.Errorf("asset headers CSP %q nosniff %q", w.Header().Get("Content-Security-Policy"), w.Header().Get("X-Content-Type-Options"))
			}
		})
	}

	// The page asks for nothing outside the node.
	for _, name := range []string{"", "app.js", "style.css"} {
		body := strings.ReplaceAll(string(u.assets[name].body), "'http://www.w3.org/2000/svg'", "") // a name, not a fetch
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(body, bad) {
				t.Errorf("asset %q refers to %q", name, bad)
			}
		}
	}

	// Unchanged assets revalidate.
	w = uiGet(u, "GET", "/ui/app.js", func(r *http.Request) {
		session(r)
		r.Header.Set("If-None-Match", u.assets["app.js"].etag)
	})
	if w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match of the current ETag = %d, want 304", w.Code)
	}

	// Signing out clears the cookie.
	w = uiGet(u, "GET", uiLogoutPath, session)
	if cs := w.Result().Cookies(); w.Code != 200 || len(cs) != 1 || cs[0].Name != uiCookieName || cs[0].MaxAge >= 0 || cs[0].Value != "" {
		t.Errorf("logout = %d, cookies %+v; want the session cookie deleted", w.Code, cs)
	}
}

func TestUISessionAuthorisesOnlyUnsignedReads(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	u := testUIServer(t, "secret", &now)
	cookie := withCookie(u.newSession(now.Add(time.Hour)))
	refuse := func(*http.Request) error { return s3err.New(s3err.ErrAccessDenied, "signature needed") }
	for _, tt := range []struct {
		method string
		mod    func(*http.Request)
		ok     bool
	}{
		{"GET", cookie, true},
		{"HEAD", cookie, true},
		{"GET", nil, false},
		{"POST", cookie, false},
		{"PUT", cookie, false},
		{"DELETE", cookie, false},
		{"GET", func(r *http.Request) { cookie(r); r.Header.Set("Authorization", "AWS4-HMAC-SHA256 forged") }, false},
	} {
		r := httptest.NewRequest(tt.method, adminStatusPath, nil)
		if tt.mod != nil {
			tt.mod(r)
		}
		if err := u.sessionOr(refuse, r); (err == nil) != tt.ok {
			t.Errorf("%s %s with %v: sessionOr = %v, want ok=%v", tt.method, adminStatusPath, r.Header, err, tt.ok)
		}
	}
	var none *uiServer
	r := httptest.NewRequest("GET", adminStatusPath, nil)
	cookie(r)
	if err := none.sessionOr(refuse, r); err == nil {
		t.Error("a nil uiServer accepted a cookie")
	}
}

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
	resp, body = do(t, "GET", n.endpoint+adminBucketsPath, "", "", nil)
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
	if err != nil || strings.Count(out, "\n") != 1 || !strings.HasPrefix(link, n.endpoint+uiLoginPath+"?") ||
		lu.Query().Get("X-Amz-Expires") != "43200" || lu.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("s3mesh ui printed %q, want one presigned link to %s valid 12h", out, uiLoginPath)
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
	if resp.StatusCode != 200 || resp.Request.URL.Path != uiPrefix || !strings.Contains(string(body), `id="buckets-body"`) {
		t.Fatalf("opening the link ended at %s with %d:\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	for path, ctype := range map[string]string{"/ui/app.js": "text/javascript; charset=utf-8", "/ui/style.css": "text/css; charset=utf-8"} {
		if resp, _ := get(path); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype {
			t.Errorf("GET %s = %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}

	resp, body = get(adminBucketsPath)
	var bs bucketsResponse
	if resp.StatusCode != 200 || json.Unmarshal(body, &bs) != nil {
		t.Fatalf("buckets with the cookie = %d %s", resp.StatusCode, body)
	}
	if len(bs.Buckets) != 1 || bs.Buckets[0].Name != "photos" || bs.Buckets[0].Objects != 2 || bs.Buckets[0].Bytes != 12 || bs.TotalBytes != 12 {
		t.Errorf("buckets = %+v, want photos with 2 objects, 12 bytes", bs)
	}
	resp, body = get(adminStatusPath)
	var st statusResponse
	if resp.StatusCode != 200 || json.Unmarshal(body, &st) != nil || st.ID != n.id {
		t.Fatalf("status with the cookie = %d %s", resp.StatusCode, body)
	}
	if d := diskOf(n.dir); d != nil && (st.Disk == nil || st.Disk.TotalBytes == 0) {
		t.Errorf("status disk = %+v, want the data directory's file system", st.Disk)
	}
	// The sampler takes its first point as the node starts.
	var h historyResponse
	for range 200 {
		resp, body = get(adminHistoryPath)
		h = historyResponse{}
		if resp.StatusCode != 200 || json.Unmarshal(body, &h) != nil || len(h.Times) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &h) != nil || h.Capacity != historyPoints || len(h.Times) < 1 || len(h.StoredBytes) != len(h.Times) {
		t.Errorf("history with the cookie = %d %s", resp.StatusCode, body)
	}

	// The cookie reads, it does not write.
	u, _ := url.Parse(n.endpoint)
	var session string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == uiCookieName {
			session = ck.Value
		}
	}
	resp, body = do(t, "POST", n.endpoint+adminPeersPath, "", "", withCookie(session))
	if resp.StatusCode != 403 || adminErrorCode(t, resp, body) != "AccessDenied" {
		t.Errorf("POST with the cookie = %d %s, want 403 AccessDenied", resp.StatusCode, body)
	}
	// A cookie made with another secret is refused.
	clock := time.Now()
	forged := testUIServer(t, "not-the-secret", &clock).newSession(clock.Add(time.Hour))
	resp, body = do(t, "GET", n.endpoint+adminStatusPath, "", "", withCookie(forged))
	if resp.StatusCode != 403 {
		t.Errorf("forged cookie = %d %s, want 403", resp.StatusCode, body)
	}
	// A signed call still works, cookie or not.
	resp, body = do(t, "GET", n.endpoint+adminBucketsPath, adminTestAccess, adminTestSecret, nil)
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
	if err != nil || !strings.Contains(out, n.endpoint+uiLoginPath+"?") || !strings.Contains(out, "X-Amz-Expires=5400") {
		t.Errorf("ui --expires 90m = %q, %v", out, err)
	}
}
