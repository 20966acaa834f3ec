package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testUIServer returns a uiServer for access key AKUITEST and secret whose
// clock reads *now.
func testUIServer(t *testing.T, secret string, now *time.Time) *uiServer {
	t.Helper()
	u, err := newUIServer("AKUITEST", secret)
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
	valid := u.newSession(now.Add(UISessionTTL))
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
		{"beyond the session lifetime", u.newSession(now.Add(UISessionTTL + time.Hour)), false},
		{"forged expiry", "v1." + strconv.FormatInt(now.Add(UISessionTTL).Unix()+60, 10) + "." + sig, false},
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
	now = now.Add(UISessionTTL)
	if u.validSession(valid) {
		t.Error("a session cookie is still valid at its expiry")
	}
}

// uiEdge serves the status page u through s3api's wrapper, whose
// signatures are the test credentials'.
func uiEdge(t *testing.T, u *uiServer) *edge {
	t.Helper()
	return newEdge(t, &Server{cfg: Config{}.withDefaults(), api: &api{}, ui: u}, nil)
}

// noRedirect is a client that returns redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// uiGet sends one request to the edge and returns the response and body.
// Targets starting with "http" are complete URLs (presigned links).
func uiGet(t *testing.T, e *edge, method, target string, mod func(*http.Request)) (*http.Response, string) {
	t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = e.url + target
	}
	r, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(r)
	}
	resp, err := noRedirect.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, b.String()
}

// signedWith signs a request with secret (and the test access key).
func signedWith(t *testing.T, secret string) func(*http.Request) {
	return func(r *http.Request) { sign(t, r, testAccess, secret) }
}

func withCookie(v string) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: UICookieName, Value: v}) }
}

func TestUIServerAssetsAndSignIn(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	u := testUIServer(t, "secret", &now)
	e := uiEdge(t, u)
	session := withCookie(u.newSession(now.Add(time.Hour)))

	// Signing in: a signed GET of the login path sets the cookie.
	w, _ := uiGet(t, e, "GET", presign(t, e.url+UILoginPath, testAccess, testSecret), nil)
	if w.StatusCode != http.StatusSeeOther || w.Header.Get("Location") != UIPrefix {
		t.Fatalf("login = %d to %q, want 303 to %s", w.StatusCode, w.Header.Get("Location"), UIPrefix)
	}
	cs := w.Cookies()
	if len(cs) != 1 || cs[0].Name != UICookieName || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode ||
		cs[0].Path != "/" || cs[0].MaxAge != int(UISessionTTL/time.Second) || cs[0].Secure || !u.validSession(cs[0].Value) {
		t.Errorf("login cookies = %+v; want one HttpOnly, SameSite=Strict, Path=/ session cookie", cs)
	}
	if w.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("login Referrer-Policy = %q: the link's signature could leak", w.Header.Get("Referrer-Policy"))
	}

	// S3 answers what is not the status page's: S3 error XML.
	const s3 = "application/xml"
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
		{"signed", "GET", "/ui/", signedWith(t, testSecret), 200, "text/html; charset=utf-8", "<table"},
		{"unknown asset", "GET", "/ui/nope.js", session, 404, "text/plain; charset=utf-8", "no such page"},
		{"no cookie", "GET", "/ui/", nil, 403, "text/html; charset=utf-8", "s3mesh ui --endpoint " + e.url},
		{"no cookie, asset", "GET", "/ui/app.js", nil, 403, "text/html; charset=utf-8", "s3mesh ui"},
		{"no cookie, unknown", "GET", "/ui/nope.js", nil, 403, "text/html; charset=utf-8", "s3mesh ui"},
		{"expired cookie", "GET", "/ui/", withCookie(u.newSession(now.Add(-time.Minute))), 403, "text/html; charset=utf-8", "s3mesh ui"},
		{"bad signature", "GET", "/ui/", signedWith(t, "not-the-secret"), 403, "text/html; charset=utf-8", "SignatureDoesNotMatch"},
		{"login unsigned", "GET", UILoginPath, nil, 403, "text/html; charset=utf-8", "s3mesh ui"},
		{"login with a cookie only", "GET", UILoginPath, session, 403, "text/html; charset=utf-8", "s3mesh ui"},
		{"login refused", "GET", presign(t, e.url+UILoginPath, testAccess, "not-the-secret"), nil, 403, "text/html; charset=utf-8", "The sign-in link was refused (SignatureDoesNotMatch)"},
		{"POST", "POST", "/ui/", session, 405, "text/plain; charset=utf-8", "GET and HEAD only"},
		{"redirect", "GET", "/ui", nil, 302, "", ""},
		{"signed /ui is S3", "GET", "/ui", signedWith(t, testSecret), 400, s3, "<Code>InvalidBucketName</Code>"},
		{"PUT /ui is S3", "PUT", "/ui", nil, 403, s3, "<Code>AccessDenied</Code>"},
		{"other path is S3", "GET", "/uix/", session, 403, s3, "<Code>AccessDenied</Code>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, body := uiGet(t, e, tt.method, tt.target, tt.mod)
			if w.StatusCode != tt.status {
				t.Fatalf("%s %s = %d, want %d\n%s", tt.method, tt.target, w.StatusCode, tt.status, body)
			}
			if w.Header.Get("x-amz-request-id") == "" {
				t.Error("no x-amz-request-id")
			}
			if tt.ctype != "" && w.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", w.Header.Get("Content-Type"), tt.ctype)
			}
			if !strings.Contains(body, tt.body) {
				t.Errorf("body lacks %q:\n%s", tt.body, body)
			}
			if tt.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD has a body")
			}
			if tt.status == 200 && (w.Header.Get("Content-Security-Policy") != uiCSP || w.Header.Get("X-Content-Type-Options") != "nosniff") {
				t.Errorf("asset headers CSP %q nosniff %q", w.Header.Get("Content-Security-Policy"), w.Header.Get("X-Content-Type-Options"))
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
	w, _ = uiGet(t, e, "GET", "/ui/app.js", func(r *http.Request) {
		session(r)
		r.Header.Set("If-None-Match", u.assets["app.js"].etag)
	})
	if w.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match of the current ETag = %d, want 304", w.StatusCode)
	}

	// Signing out clears the cookie.
	w, _ = uiGet(t, e, "GET", UILogoutPath, session)
	if cs := w.Cookies(); w.StatusCode != 200 || len(cs) != 1 || cs[0].Name != UICookieName || cs[0].MaxAge >= 0 || cs[0].Value != "" {
		t.Errorf("logout = %d, cookies %+v; want the session cookie deleted", w.StatusCode, cs)
	}
}

func TestUISessionAuthorisesOnlyUnsignedReads(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	u := testUIServer(t, "secret", &now)
	cookie := withCookie(u.newSession(now.Add(time.Hour)))
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
		r := httptest.NewRequest(tt.method, StatusPath, nil)
		if tt.mod != nil {
			tt.mod(r)
		}
		if got := u.session(r); got != tt.ok {
			t.Errorf("%s %s with %v: session = %v, want %v", tt.method, StatusPath, r.Header, got, tt.ok)
		}
	}
	var none *uiServer
	r := httptest.NewRequest("GET", StatusPath, nil)
	cookie(r)
	if none.session(r) {
		t.Error("a nil uiServer accepted a cookie")
	}
}
