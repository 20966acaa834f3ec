package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"s3mesh/s3api"
)

// credentialsFile is the name, in the data directory, of the generated root
// credentials.
const credentialsFile = "credentials.json"

// rootCredentials are the node's root access key pair.
type rootCredentials struct {
	AccessKey string       `json:"access_key"`
	SecretKey s3api.Secret `json:"secret_key"`
}

// credentialSource says where the root credentials came from.
type credentialSource int

const (
	fromEnv credentialSource = iota
	fromFile
	generated
)

// loadCredentials returns the root credentials: from S3MESH_ACCESS_KEY and
// S3MESH_SECRET_KEY when both are set, else from the data directory, else a
// new pair that it saves there (mode 0600).
func loadCredentials(dataDir string, getenv func(string) string) (rootCredentials, credentialSource, error) {
	ak, sk := getenv("S3MESH_ACCESS_KEY"), getenv("S3MESH_SECRET_KEY")
	switch {
	case ak != "" && sk != "":
		return rootCredentials{AccessKey: ak, SecretKey: s3api.Secret(sk)}, fromEnv, nil
	case ak != "" || sk != "":
		return rootCredentials{}, 0, errors.New("credentials: set both S3MESH_ACCESS_KEY and S3MESH_SECRET_KEY, or neither")
	}
	path := filepath.Join(dataDir, credentialsFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var c rootCredentials
		if err := json.Unmarshal(b, &c); err != nil || c.AccessKey == "" || c.SecretKey == "" {
			return rootCredentials{}, 0, fmt.Errorf("credentials: %s is damaged; remove it to generate a new pair, or set S3MESH_ACCESS_KEY and S3MESH_SECRET_KEY", path)
		}
		return c, fromFile, nil
	case !errors.Is(err, fs.ErrNotExist):
		return rootCredentials{}, 0, fmt.Errorf("credentials: %w", err)
	}
	c := rootCredentials{AccessKey: randomString(20, upperAlnum), SecretKey: s3api.Secret(randomString(40, secretAlphabet))}
	b, err = json.MarshalIndent(struct {
		AccessKey string `json:"access_key"`
		SecretKey string `json:"secret_key"`
	}{c.AccessKey, string(c.SecretKey)}, "", "  ")
	if err != nil {
		return rootCredentials{}, 0, fmt.Errorf("credentials: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return rootCredentials{}, 0, fmt.Errorf("credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return rootCredentials{}, 0, fmt.Errorf("credentials: %w", err)
	}
	return c, generated, nil
}

const (
	upperAlnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randomString returns n characters drawn uniformly from alphabet.
func randomString(n int, alphabet string) string {
	out := make([]byte, n)
	var buf [1]byte
	limit := 256 - 256%len(alphabet)
	for i := 0; i < n; {
		if _, err := rand.Read(buf[:]); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		if int(buf[0]) >= limit {
			continue
		}
		out[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(out)
}
