package integration

import (
	"bytes"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// auth: header-signed requests, each mutated so that it must be refused.
func (g *batteryGen) auth() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	replaceAuth := func(w *wire, old, new string) *wire {
		return w.set("Authorization", strings.Replace(w.get("Authorization"), old, new, 1))
	}
	for _, o := range g.ops() {
		now := signTimeNow()
		date := now.Format("20060102")
		muts := []struct {
			name string
			w    func() *wire
			want []string
		}{
			{"anonymous", func() *wire { return tg.unsigned(o.s) }, []string{"AccessDenied"}},
			{"bad signature", func() *wire {
				w := tg.v4(t, o.s)
				a := w.get("Authorization")
				return w.set("Authorization", a[:len(a)-4]+"0000")
			}, []string{"SignatureDoesNotMatch"}},
			{"wrong secret", func() *wire { return tg.signV4(t, o.s, tg.region, "wrong-secret", now) }, []string{"SignatureDoesNotMatch"}},
			{"unknown key", func() *wire { return replaceAuth(tg.v4(t, o.s), "Credential="+tg.ak, "Credential=NOSUCHKEY") }, []string{"InvalidAccessKeyId"}},
			{"other region", func() *wire { return tg.signV4(t, o.s, "eu-west-3", tg.sk, now) }, []string{"AuthorizationHeaderMalformed"}},
			{"other service", func() *wire { return replaceAuth(tg.v4(t, o.s), "/s3/", "/ec2/") }, []string{"AuthorizationHeaderMalformed"}},
			{"credential date", func() *wire { return replaceAuth(tg.v4(t, o.s), "/"+date+"/", "/20200101/") }, []string{"AuthorizationHeaderMalformed"}},
			{"skewed past", func() *wire { return tg.signV4(t, o.s, tg.region, tg.sk, now.Add(-time.Hour)) }, []string{"RequestTimeTooSkewed"}},
			{"skewed future", func() *wire { return tg.signV4(t, o.s, tg.region, tg.sk, now.Add(time.Hour)) }, []string{"RequestTimeTooSkewed"}},
			{"no date", func() *wire { return tg.v4(t, o.s).del("X-Amz-Date") }, []string{"AccessDenied"}},
			{"bad date", func() *wire { return tg.v4(t, o.s).set("X-Amz-Date", "yesterday") }, []string{"AccessDenied"}},
			{"unsigned meta", func() *wire { return tg.v4(t, o.s).add("X-Amz-Meta-Evil", "1") }, []string{"AccessDenied"}},
			// (A signed copy source with a second value: the signed value
			// changed.)
			{"unsigned copy source", func() *wire { return tg.v4(t, o.s).add("x-amz-copy-source", "/ref/b") }, []string{"AccessDenied", "SignatureDoesNotMatch"}},
			{"unsigned acl", func() *wire { return tg.v4(t, o.s).add("X-Amz-Acl", "private") }, []string{"AccessDenied"}},
			{"unsigned storage class", func() *wire { return tg.v4(t, o.s).add("X-AMZ-STORAGE-CLASS", "STANDARD") }, []string{"AccessDenied"}},
			{"host unsigned", func() *wire {
				w := tg.v4(t, o.s)
				a := regexp.MustCompile(`SignedHeaders=[^,]*`).ReplaceAllStringFunc(w.get("Authorization"), func(sh string) string {
					names := strings.Split(strings.TrimPrefix(sh, "SignedHeaders="), ";")
					names = slices.DeleteFunc(names, func(n string) bool { return n == "host" })
					return "SignedHeaders=" + strings.Join(names, ";")
				})
				return w.set("Authorization", a)
			}, []string{"AccessDenied"}},
			{"host changed", func() *wire { return tg.v4(t, o.s).set("Host", "evil.example:80") }, []string{"SignatureDoesNotMatch"}},
			{"path changed", func() *wire {
				w := tg.v4(t, o.s)
				w.target = "/zz" + w.target
				return w
			}, []string{"SignatureDoesNotMatch", "NotImplemented"}},
			{"repeated authorization", func() *wire { w := tg.v4(t, o.s); return w.add("Authorization", w.get("Authorization")) }, []string{"AuthorizationHeaderMalformed"}},
			{"malformed authorization", func() *wire {
				return tg.v4(t, o.s).set("Authorization", "AWS4-HMAC-SHA256 Credential="+tg.ak+"/"+date+"/"+tg.region+"/s3/aws4_request")
			}, []string{"AuthorizationHeaderMalformed"}},
			{"sigv4a", func() *wire {
				return tg.v4(t, o.s).set("Authorization", "AWS4-ECDSA-P256-SHA256 Credential=x, SignedHeaders=host, Signature=00")
			}, []string{"UnsupportedSignature"}},
			{"bearer", func() *wire { return tg.v4(t, o.s).set("Authorization", "Bearer abc") }, []string{"InvalidArgument"}},
			{"content sha invalid", func() *wire { return tg.v4(t, o.s).set("X-Amz-Content-Sha256", "nope") }, []string{"InvalidArgument"}},
			{"content sha other", func() *wire { return tg.v4(t, o.s).set("X-Amz-Content-Sha256", sha256hex([]byte("other"))) }, []string{"SignatureDoesNotMatch"}},
			{"header and query auth", func() *wire {
				w := tg.v4(t, o.s)
				sep := "?"
				if strings.Contains(w.target, "?") {
					sep = "&"
				}
				w.target += sep + "X-Amz-Signature=00"
				return w
			}, []string{"InvalidArgument"}},
		}
		if len(o.s.body) > 0 {
			muts = append(muts, struct {
				name string
				w    func() *wire
				want []string
			}{"body tampered", func() *wire {
				w := tg.v4(t, o.s)
				w.body = bytes.Clone(w.body)
				w.body[0] ^= 1
				return w
			}, []string{"XAmzContentSHA256Mismatch", "BadDigest"}})
		}
		for _, m := range muts {
			out = append(out, g.caseFor(o, m.name, m.w(), m.want...))
		}
	}
	return out
}

// presign: presigned URLs, mutated.
func (g *batteryGen) presign() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	for _, o := range g.ops() {
		now := signTimeNow()
		ps := func(s spec) *wire { return tg.presign(t, s, tg.region, now, 300) }
		muts := []struct {
			name string
			w    func() *wire
			want []string
		}{
			{"expired", func() *wire { return tg.presign(t, o.s, tg.region, now.Add(-2*time.Hour), 60) }, []string{"AccessDenied"}},
			{"not yet valid", func() *wire { return tg.presign(t, o.s, tg.region, now.Add(2*time.Hour), 60) }, []string{"AccessDenied"}},
			{"expires too long", func() *wire { return tg.presign(t, o.s, tg.region, now, 604801) }, []string{"AuthorizationQueryParametersError"}},
			{"other region", func() *wire { return tg.presign(t, o.s, "ap-south-1", now, 300) }, []string{"AuthorizationQueryParametersError"}},
			{"bad signature", func() *wire {
				w := ps(o.s)
				i := strings.Index(w.target, "X-Amz-Signature=") + len("X-Amz-Signature=")
				w.target = w.target[:i] + "0000" + w.target[i+4:]
				return w
			}, []string{"SignatureDoesNotMatch"}},
			{"query added", func() *wire { w := ps(o.s); w.target += "&prefix=x"; return w }, []string{"SignatureDoesNotMatch"}},
			{"param dropped", func() *wire {
				w := ps(o.s)
				w.target = regexp.MustCompile(`X-Amz-Date=[^&]*&?`).ReplaceAllString(w.target, "")
				return w
			}, []string{"AuthorizationQueryParametersError"}},
			{"param repeated", func() *wire { w := ps(o.s); w.target += "&X-Amz-Expires=5"; return w }, []string{"AuthorizationQueryParametersError"}},
			{"unsigned copy source", func() *wire { return ps(o.s).add("X-Amz-Copy-Source", "/ref/b") }, []string{"AccessDenied", "SignatureDoesNotMatch"}},
			{"unsigned meta", func() *wire { return ps(o.s).add("x-amz-meta-evil", "1") }, []string{"AccessDenied"}},
			{"unsigned sse", func() *wire { return ps(o.s).add("X-Amz-Server-Side-Encryption", "AES256") }, []string{"AccessDenied"}},
			{"unsigned content sha", func() *wire { return ps(o.s).add("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") }, []string{"AccessDenied"}},
			{"unsigned tagging", func() *wire { return ps(o.s).add("X-Amz-Tagging", "a=b") }, []string{"AccessDenied"}},
			{"with authorization", func() *wire {
				return ps(o.s).add("Authorization", "AWS4-HMAC-SHA256 Credential=x/20200101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
			}, []string{"InvalidArgument"}},
			{"streaming payload", func() *wire {
				w := ps(o.s)
				w.target += "&X-Amz-Content-Sha256=STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
				return w
			}, []string{"AuthorizationQueryParametersError", "SignatureDoesNotMatch", "InvalidArgument"}},
		}
		for _, m := range muts {
			out = append(out, g.caseFor(o, m.name, m.w(), m.want...))
		}
	}
	return out
}

// sigv2: Signature Version 2 requests, mutated after signing.
func (g *batteryGen) sigv2() []bcase {
	tg := g.tg
	var out []bcase
	for _, o := range g.ops() {
		if o.s.query != "" && o.s.query != "uploads=" && o.s.query != "delete=" && o.s.query != "tagging=" && o.s.query != "location=" {
			continue
		}
		now := signTimeNow()
		s := o.s
		if s.query != "" {
			s.query = strings.TrimSuffix(s.query, "=")
		}
		muts := []struct {
			name string
			w    func() *wire
			want []string
		}{
			{"bad signature", func() *wire {
				return tg.signV2(s, now).set("Authorization", "AWS "+tg.ak+":AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
			}, []string{"SignatureDoesNotMatch"}},
			{"added x-amz header", func() *wire { return tg.signV2(s, now).add("X-Amz-Meta-Evil", "1") }, []string{"SignatureDoesNotMatch"}},
			{"added copy source", func() *wire { return tg.signV2(s, now).add("X-Amz-Copy-Source", "/ref/b") }, []string{"SignatureDoesNotMatch"}},
			{"content-md5 changed", func() *wire { return tg.signV2(s, now).set("Content-MD5", md5b64([]byte("x"))) }, []string{"SignatureDoesNotMatch", "BadDigest"}},
			{"skewed", func() *wire { return tg.signV2(s, now.Add(-time.Hour)) }, []string{"RequestTimeTooSkewed"}},
			{"unknown key", func() *wire {
				w := tg.signV2(s, now)
				return w.set("Authorization", strings.Replace(w.get("Authorization"), tg.ak, "NOSUCHKEY", 1))
			}, []string{"InvalidAccessKeyId"}},
			{"no colon", func() *wire { return tg.signV2(s, now).set("Authorization", "AWS "+tg.ak) }, []string{"InvalidArgument"}},
			{"s3mesh header", func() *wire { return tg.signV2(s, now).add("X-S3mesh-Cid", "bafkqaaa") }, []string{"AccessDenied"}},
			{"presigned expired", func() *wire {
				w := tg.unsigned(s)
				sep := "?"
				if strings.Contains(w.target, "?") {
					sep = "&"
				}
				w.target += sep + "AWSAccessKeyId=" + tg.ak + "&Expires=1000&Signature=AAAA"
				return w
			}, []string{"AccessDenied"}},
			{"presigned bad signature", func() *wire {
				w := tg.unsigned(s)
				sep := "?"
				if strings.Contains(w.target, "?") {
					sep = "&"
				}
				w.target += sep + "AWSAccessKeyId=" + tg.ak + "&Expires=" + strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + "&Signature=AAAA"
				return w
			}, []string{"SignatureDoesNotMatch"}},
		}
		for _, m := range muts {
			out = append(out, g.caseFor(o, m.name, m.w(), m.want...))
		}
	}
	// Controls: the signer is right, so the mutations above test the
	// server.
	out = append(out,
		bcase{name: "control GET", w: tg.signV2(spec{method: "GET", path: "/ref/a"}, signTimeNow()), ok: true},
		bcase{name: "control HEAD", w: tg.signV2(spec{method: "HEAD", path: "/ref/b"}, signTimeNow()), ok: true},
	)
	return out
}

// cid: x-s3mesh-cid, which adopts stored content, misused or unsigned.
func (g *batteryGen) cid() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	for _, c := range []struct {
		name string
		hdr  [][2]string
		body []byte
		want []string
	}{
		{"not a cid", [][2]string{{"X-S3mesh-Cid", "not-a-cid"}}, nil, []string{"InvalidArgument"}},
		{"empty", [][2]string{{"X-S3mesh-Cid", ""}}, nil, []string{"InvalidArgument"}},
		{"with body", [][2]string{{"X-S3mesh-Cid", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}}, []byte("x"), []string{"InvalidRequest"}},
		{"unknown content", [][2]string{{"X-S3mesh-Cid", "bafkreie7ohywtosou76tasm7j63yigtzxe7d5zqus4zu3j6oltvgtibeom"}}, nil, []string{"InvalidRequest", "NoSuchKey", "InvalidArgument", "ServiceUnavailable"}},
		{"twice", [][2]string{{"X-S3mesh-Cid", "bafkqaaa"}, {"X-S3mesh-Cid", "bafkqaaa"}}, nil, []string{"InvalidArgument"}},
	} {
		s := spec{method: "PUT", path: "/ref/a", hdr: c.hdr, body: c.body}
		out = append(out, bcase{name: c.name, w: tg.v4(t, s), want: c.want})
		// Added after signing: never obeyed.
		out = append(out, bcase{name: c.name + "/unsigned", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: c.body}).add("X-S3mesh-Cid", "bafkqaaa"), want: []string{"AccessDenied"}})
		out = append(out, bcase{name: c.name + "/presigned unsigned", w: tg.presign(t, spec{method: "PUT", path: "/ref/a", body: c.body}, tg.region, signTimeNow(), 300).add("X-S3mesh-Cid", "bafkqaaa"), want: []string{"AccessDenied"}})
	}
	return out
}

// adminIPFS: the admin API and the IPFS gateway paths without valid
// credentials. In-process (no admin API), they are S3 paths.
func (g *batteryGen) adminIPFS() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	paths := []string{"/admin/v1/status", "/admin/v1/gc", "/admin/v1/peers", "/admin/v1/buckets/ref/replicate", "/ipfs/bafkqaaa", "/ipfs/notacid", "/ipfs/bafkqaaa/x", "/ui/api"}
	for _, p := range paths {
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			want := []string{"AccessDenied", "NotImplemented", "MethodNotAllowed"}
			out = append(out,
				bcase{name: m + " " + p + " anonymous", w: tg.unsigned(spec{method: m, path: p}), want: want},
				bcase{name: m + " " + p + " bad signature", w: func() *wire {
					w := tg.v4(t, spec{method: m, path: p})
					a := w.get("Authorization")
					return w.set("Authorization", a[:len(a)-4]+"0000")
				}(), want: append(want, "SignatureDoesNotMatch")},
				bcase{name: m + " " + p + " other region", w: tg.signV4(t, spec{method: m, path: p}, "eu-west-3", tg.sk, signTimeNow()), want: append(want, "AuthorizationHeaderMalformed")},
			)
		}
	}
	if tg.process {
		// The admin API and the status page answer JSON errors: only the
		// status is checked.
		for i := range out {
			if strings.Contains(out[i].name, " /admin") || strings.Contains(out[i].name, " /ui") {
				out[i].anyError = true
			}
		}
	}
	return out
}
