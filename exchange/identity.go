package exchange

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
)

// IdentityFile is the name of the node's private key file inside its data
// directory. It holds an Ed25519 key in libp2p's marshalled private-key
// (protobuf) format, mode 0600.
const IdentityFile = "identity.key"

// swarmKeyHeader is the first line of a libp2p private-network key file.
const swarmKeyHeader = "/key/swarm/psk/1.0.0/"

// swarmKeyLen is the length of a private-network key, in bytes.
const swarmKeyLen = 32

// ErrInvalidSwarmKey marks a private-network key that is not in the
// "/key/swarm/psk/1.0.0/" format or does not hold exactly 32 bytes.
var ErrInvalidSwarmKey = errors.New("invalid swarm key")

// LoadOrCreateIdentity returns the node's private key from
// dataDir/[IdentityFile], creating dataDir and a new Ed25519 key on first
// use. Creation is atomic: the key is written to a temporary file, synced
// and linked into place without replacing an existing file, so concurrent
// callers (a starting node and `s3mesh id`) end up with the same key.
func LoadOrCreateIdentity(dataDir string) (crypto.PrivKey, error) {
	key, err := ReadIdentity(dataDir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create identity: %w", err)
	}
	key, _, err = crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create identity: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("create identity: %w", err)
	}
	path := filepath.Join(dataDir, IdentityFile)
	if err := writeNoClobber(path, raw); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use theirs.
			return ReadIdentity(dataDir)
		}
		return nil, fmt.Errorf("create identity: %w", err)
	}
	return key, nil
}

// ReadIdentity reads the private key in dataDir/[IdentityFile] without
// creating it; a missing file yields an error wrapping [fs.ErrNotExist].
// It is safe to call while a node using that key runs.
func ReadIdentity(dataDir string) (crypto.PrivKey, error) {
	path := filepath.Join(dataDir, IdentityFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	key, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("read identity %s: %w", path, err)
	}
	return key, nil
}

// PeerIDFromDataDir returns the peer ID of the identity stored in dataDir,
// without creating one (see [ReadIdentity]).
func PeerIDFromDataDir(dataDir string) (peer.ID, error) {
	key, err := ReadIdentity(dataDir)
	if err != nil {
		return "", err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("read identity: %w", err)
	}
	return id, nil
}

// writeNoClobber writes data to path with mode 0600 through a synced
// temporary file linked into place; it fails with [fs.ErrExist] when path
// already exists.
func writeNoClobber(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmpName, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// GenerateSwarmKey returns a new random private-network key in the
// standard file format:
//
//	/key/swarm/psk/1.0.0/
//	/base16/
//	<64 hex digits>
func GenerateSwarmKey() ([]byte, error) {
	k := make([]byte, swarmKeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate swarm key: %w", err)
	}
	return []byte(swarmKeyHeader + "\n/base16/\n" + hex.EncodeToString(k) + "\n"), nil
}

// ParseSwarmKey reports whether b is a valid private-network key file:
// the "/key/swarm/psk/1.0.0/" header, an encoding line ("/base16/",
// "/base64/" or "/bin/") and exactly 32 key bytes in that encoding. The
// error wraps [ErrInvalidSwarmKey] and says what is wrong; it never
// contains key material.
func ParseSwarmKey(b []byte) error {
	_, err := decodeSwarmKey(b)
	return err
}

// decodeSwarmKey validates b strictly (see [ParseSwarmKey]) and returns the
// key as go-libp2p decodes it.
func decodeSwarmKey(b []byte) (pnet.PSK, error) {
	header, rest, ok := bytes.Cut(b, []byte("\n"))
	if !ok || string(bytes.TrimRight(header, "\r")) != swarmKeyHeader {
		return nil, fmt.Errorf("%w: first line must be %s", ErrInvalidSwarmKey, swarmKeyHeader)
	}
	enc, body, ok := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("%w: missing encoding line", ErrInvalidSwarmKey)
	}
	var key []byte
	switch e := string(bytes.TrimRight(enc, "\r")); e {
	case "/base16/":
		s := bytes.TrimSpace(body)
		key = make([]byte, hex.DecodedLen(len(s)))
		n, err := hex.Decode(key, s)
		if err != nil {
			return nil, fmt.Errorf("%w: key is not valid base16", ErrInvalidSwarmKey)
		}
		key = key[:n]
	case "/base64/":
		s := bytes.TrimSpace(body)
		key = make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		n, err := base64.StdEncoding.Decode(key, s)
		if err != nil {
			return nil, fmt.Errorf("%w: key is not valid base64", ErrInvalidSwarmKey)
		}
		key = key[:n]
	case "/bin/":
		key = body
		if len(key) == swarmKeyLen+1 && key[swarmKeyLen] == '\n' {
			key = key[:swarmKeyLen]
		}
	default:
		return nil, fmt.Errorf("%w: unknown encoding line %q (want /base16/, /base64/ or /bin/)", ErrInvalidSwarmKey, e)
	}
	if len(key) != swarmKeyLen {
		return nil, fmt.Errorf("%w: key has %d bytes, want %d", ErrInvalidSwarmKey, len(key), swarmKeyLen)
	}
	psk, err := pnet.DecodeV1PSK(bytes.NewReader(b))
	if err != nil || !bytes.Equal(psk, key) {
		return nil, fmt.Errorf("%w: not decodable by libp2p", ErrInvalidSwarmKey)
	}
	return psk, nil
}
