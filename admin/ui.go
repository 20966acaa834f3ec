package admin

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// The status page lives on the S3 listener under UIPrefix, beside the
// admin API whose JSON it draws. Its assets are embedded in the binary; it
// loads nothing from elsewhere.
//
// Authentication. A browser cannot sign requests, so the page runs on a
// session cookie that a signed request hands out:
//
//  1. "s3mesh ui" presigns (SigV4, with the root credentials) a GET of
//     UILoginPath and prints that link;
//  2. GET UILoginPath verifies the signature exactly as for S3 or the admin
//     API (s3api's request wrapper does, as the route table says), sets
//     the cookie UICookieName and redirects to UIPrefix;
//  3. a GET or HEAD of /ui/* or /admin/v1/* that carries no signature but a
//     valid cookie is served as if it were signed. Any other method still
//     needs a signature, so the cookie never authorises a change.
//
// The cookie holds its expiry and an HMAC-SHA256 over it (and the access
// key), keyed by a key derived from the secret key: the node keeps no
// session state, every node with the same credentials accepts it, and
// changing the secret key ends every session. It is HttpOnly (scripts
// cannot read it) and SameSite=Strict (another site cannot make the
// browser send it).
const (
	UIPrefix     = "/ui/"
	UILoginPath  = UIPrefix + "login"
	UILogoutPath = UIPrefix + "logout"
	UICookieName = "s3mesh_ui"
	// UISessionTTL is how long a session cookie is valid after sign-in.
	UISessionTTL = 12 * time.Hour
)

// uiCSP confines the page to its own assets and to this node's API.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed ui
var uiFiles embed.FS

// uiServer serves /ui and /ui/* (see the route table for which requests
// need a signature or a session).
type uiServer struct {
	access string
	key    []byte // session MAC key, derived from the secret key
	now    func() time.Time
	assets map[string]uiAsset // by path under UIPrefix; "" is the page
}

type uiAsset struct {
	body  []byte
	ctype string
	etag  string
}

// uiContentTypes are the types of the embedded assets, fixed rather than
// taken from the system's MIME table.
var uiContentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// newUIServer returns the status page of a node with root credentials
// access and secret.
func newUIServer(access, secret string) (*uiServer, error) {
	u := &uiServer{access: access, key: uiSessionKey(secret), now: time.Now, assets: map[string]uiAsset{}}
	err := fs.WalkDir(uiFiles, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := uiContentTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		b, err := uiFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "ui/")
		if name == "index.html" {
			name = ""
		}
		u.assets[name] = uiAsset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// uiSessionKey derives the session MAC key from the secret key, so the
// secret itself never keys anything but SigV4.
func uiSessionKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("s3mesh ui session key v1"))
	return m.Sum(nil)
}

// isUIPath reports whether a path-style request is the status page's:
// everything under UIPrefix, and an unsigned GET or HEAD of "/ui"
// (redirected). A signed request for "/ui" is S3 (bucket "ui").
func isUIPath(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, UIPrefix) {
		return true
	}
	return r.URL.Path == "/ui" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !s3api.Signed(r)
}

// newSession returns a cookie value valid until exp.
func (u *uiServer) newSession(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return "v1." + e + "." + base64.RawURLEncoding.EncodeToString(u.mac(e))
}

func (u *uiServer) mac(exp string) []byte {
	m := hmac.New(sha256.New, u.key)
	m.Write([]byte("s3mesh ui session\x00"))
	m.Write([]byte(u.access))
	m.Write([]byte{0})
	m.Write([]byte(exp))
	return m.Sum(nil)
}

// validSession reports whether v is a cookie value this node issued and
// that has not expired. A value expiring further ahead than UISessionTTL
// is refused too.
func (u *uiServer) validSession(v string) bool {
	ver, rest, ok := strings.Cut(v, ".")
	if !ok || ver != "v1" {
		return false
	}
	e, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, u.mac(e)) {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || strconv.FormatInt(exp, 10) != e {
		return false
	}
	now := u.now()
	return now.Unix() < exp && time.Unix(exp, 0).Sub(now) <= UISessionTTL+time.Minute
}

// session reports whether r may be served on its session cookie alone: an
// unsigned GET or HEAD with a valid cookie. A nil uiServer accepts none.
// It is the s3api.Route.Session of the admin API and the page's assets.
func (u *uiServer) session(r *http.Request) bool {
	if u == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) || s3api.Signed(r) {
		return false
	}
	c, err := r.Cookie(UICookieName)
	return err == nil && u.validSession(c.Value)
}

// setUIHeaders sets the headers every answer of the status page carries.
func setUIHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// serveUIRedirect answers an unsigned GET of "/ui": the page is at
// UIPrefix.
func (s *Server) serveUIRedirect(w http.ResponseWriter, r *http.Request) error {
	setUIHeaders(w)
	http.Redirect(w, r, UIPrefix, http.StatusFound)
	return nil
}

// serveUILogin answers a GET of UILoginPath, whose signature (normally
// presigned) the wrapper verified: it sets the session cookie and
// redirects to the page, dropping the signature from the address bar.
func (s *Server) serveUILogin(w http.ResponseWriter, r *http.Request) error {
	u := s.ui
	setUIHeaders(w)
	http.SetCookie(w, u.cookie(r, u.newSession(u.now().Add(UISessionTTL)), int(UISessionTTL/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, UIPrefix, http.StatusSeeOther)
	return nil
}

// serveUILogout deletes the session cookie.
func (s *Server) serveUILogout(w http.ResponseWriter, r *http.Request) error {
	setUIHeaders(w)
	http.SetCookie(w, s.ui.cookie(r, "", -1))
	signInPage(w, r, http.StatusOK, "You are signed out of this node's status page.")
	return nil
}

// serveUIAsset answers the page (UIPrefix) and its assets, to a request
// the wrapper authenticated by signature or session cookie.
func (s *Server) serveUIAsset(w http.ResponseWriter, r *http.Request) error {
	a, ok := s.ui.assets[strings.TrimPrefix(r.URL.Path, UIPrefix)]
	if !ok {
		return s3err.New(s3err.ErrNoSuchKey, "no such page; the status page is at "+UIPrefix)
	}
	setUIHeaders(w)
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	return nil
}

// writeUIError answers an error of the status page: a refused or missing
// signature (403) with the sign-in page, noting why a signature was
// refused; anything else as plain text.
func writeUIError(w http.ResponseWriter, r *http.Request, e *s3err.Error) {
	setUIHeaders(w)
	status := e.Code.Status()
	if status != http.StatusForbidden {
		http.Error(w, e.ClientMessage(), status)
		return
	}
	note := ""
	if s3api.Signed(r) {
		note = refusal(e)
	}
	signInPage(w, r, status, note)
}

// cookie returns the session cookie with value v; maxAge < 0 deletes it.
// Its path is "/": the page's API calls go to /admin/v1/.
func (u *uiServer) cookie(r *http.Request, v string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: UICookieName, Value: v, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	}
}

// refusal is the client-safe reason a signature was refused.
func refusal(e *s3err.Error) string {
	return "The sign-in link was refused (" + string(e.Code) + "): " + e.ClientMessage()
}

var signInTmpl = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>s3mesh: sign in</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1f2933}
code,pre{font:14px ui-monospace,monospace;background:#f0f2f5;border-radius:4px}pre{padding:.75rem 1rem;overflow-x:auto}
.note{border-left:4px solid #c0392b;padding:.25rem .75rem;background:#fdf0ee}</style></head>
<body><h1>s3mesh status page</h1>
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
<p>This page shows this node's peers, buckets and replication, and needs the node's root credentials.
On a machine that has them (<code>S3MESH_ACCESS_KEY</code> and <code>S3MESH_SECRET_KEY</code>), run:</p>
<pre>s3mesh ui --endpoint {{.Endpoint}}</pre>
<p>and open the link it prints in this browser. The link is valid for 12 hours and signs the browser in
with a cookie for as long; anyone holding the link can do the same, so do not share it.</p>
</body></html>
`))

// signInPage answers a small HTML page that explains how to sign in.
func signInPage(w http.ResponseWriter, r *http.Request, status int, note string) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	var b bytes.Buffer
	if err := signInTmpl.Execute(&b, struct{ Note, Endpoint string }{note, scheme + "://" + r.Host}); err != nil {
		http.Error(w, "sign in with: s3mesh ui", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}
