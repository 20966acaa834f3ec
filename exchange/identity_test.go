package exchange

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
)

func TestIdentityPersists(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := ReadIdentity(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadIdentity of an empty dir: %v, want fs.ErrNotExist", err)
	}
	k1, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k1.Type() != crypto.Ed25519 {
		t.Errorf("key type %v, want Ed25519", k1.Type())
	}
	k2, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equals(k2) {
		t.Fatal("second LoadOrCreateIdentity returned a different key")
	}
	fi, err := os.Stat(filepath.Join(dir, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("identity file mode %v, want 0600", fi.Mode().Perm())
	}
	id, err := PeerIDFromDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := peer.IDFromPrivateKey(k1)
	if id != want {
		t.Errorf("PeerIDFromDataDir = %s, want %s", id, want)
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only %s", len(entries), IdentityFile)
	}
}

func TestIdentityConcurrentCreate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 8
	keys := make([]crypto.PrivKey, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateIdentity(dir) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !keys[i].Equals(keys[0]) {
			t.Fatalf("caller %d got a different key", i)
		}
	}
}

func TestIdentityCorrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, IdentityFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateIdentity(dir); err == nil {
		t.Fatal("corrupt identity accepted")
	}
}

func TestSwarmKeyRoundTrip(t *testing.T) {
	t.Parallel()
	k1, err := GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(k1, k2) {
		t.Fatal("two generated swarm keys are equal")
	}
	if !strings.HasPrefix(string(k1), "/key/swarm/psk/1.0.0/\n/base16/\n") {
		t.Errorf("generated key %q lacks the standard header", k1)
	}
	if err := ParseSwarmKey(k1); err != nil {
		t.Fatalf("ParseSwarmKey(generated): %v", err)
	}
	psk, err := pnet.DecodeV1PSK(bytes.NewReader(k1))
	if err != nil {
		t.Fatalf("libp2p cannot decode the generated key: %v", err)
	}
	mine, err := decodeSwarmKey(k1)
	if err != nil || !bytes.Equal(mine, psk) {
		t.Fatalf("decodeSwarmKey = %x, %v; libp2p decodes %x", mine, err, psk)
	}
}

func TestParseSwarmKey(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{0xab}, 32)
	h := hex.EncodeToString(raw)
	const hdr = "/key/swarm/psk/1.0.0/\n"
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"base16", hdr + "/base16/\n" + h + "\n", true},
		{"base16 no newline", hdr + "/base16/\n" + h, true},
		{"base16 crlf", "/key/swarm/psk/1.0.0/\r\n/base16/\r\n" + h + "\r\n", true},
		{"base64", hdr + "/base64/\n" + base64.StdEncoding.EncodeToString(raw) + "\n", true},
		{"bin", hdr + "/bin/\n" + string(raw), true},
		{"empty", "", false},
		{"header only", hdr, false},
		{"wrong header", "/key/swarm/psk/2.0.0/\n/base16/\n" + h + "\n", false},
		{"unknown encoding", hdr + "/base32/\n" + h + "\n", false},
		{"short", hdr + "/base16/\n" + h[:62] + "\n", false},
		{"long", hdr + "/base16/\n" + h + "ab\n", false},
		{"odd digits", hdr + "/base16/\n" + h[:63] + "\n", false},
		{"not hex", hdr + "/base16/\n" + strings.Repeat("zz", 32) + "\n", false},
		{"bad base64", hdr + "/base64/\n" + "!!!!" + "\n", false},
		{"short bin", hdr + "/bin/\n" + string(raw[:31]), false},
		{"raw hex without header", h + "\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ParseSwarmKey([]byte(tt.in))
			if tt.ok && err != nil {
				t.Fatalf("ParseSwarmKey: %v, want nil", err)
			}
			if !tt.ok {
				if !errors.Is(err, ErrInvalidSwarmKey) {
					t.Fatalf("ParseSwarmKey: %v, want ErrInvalidSwarmKey", err)
				}
				if strings.Contains(err.Error(), h) {
					t.Fatalf("error %q leaks key material", err)
				}
			}
		})
	}
}
