package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	none := func(string) string { return "" }
	c1, src, err := loadCredentials(dir, none)
	if err != nil || src != generated {
		t.Fatalf("first start: %v, source %v", err, src)
	}
	if len(c1.AccessKey) != 20 || len(c1.SecretKey) != 40 {
		t.Errorf("generated pair has lengths %d/%d", len(c1.AccessKey), len(c1.SecretKey))
	}
	st, err := os.Stat(filepath.Join(dir, credentialsFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, mode %v (want 0600)", err, st.Mode())
	}
	c2, src, err := loadCredentials(dir, none)
	if err != nil || src != fromFile || c2 != c1 {
		t.Fatalf("second start: %v, source %v, same pair %v", err, src, c2 == c1)
	}
	env := map[string]string{"S3MESH_ACCESS_KEY": "AK", "S3MESH_SECRET_KEY": "SK"}
	c3, src, err := loadCredentials(dir, func(k string) string { return env[k] })
	if err != nil || src != fromEnv || c3.AccessKey != "AK" || c3.SecretKey != "SK" {
		t.Fatalf("env override: %+v, %v, %v", c3, src, err)
	}
	if _, _, err := loadCredentials(dir, func(k string) string {
		if k == "S3MESH_ACCESS_KEY" {
			return "AK"
		}
		return ""
	}); err == nil {
		t.Error("only S3MESH_ACCESS_KEY set: no error")
	}
	os.WriteFile(filepath.Join(dir, credentialsFile), []byte("{not json"), 0o600)
	if _, _, err := loadCredentials(dir, none); err == nil {
		t.Error("damaged credentials file: no error")
	}
}

func TestRandomStringAlphabet(t *testing.T) {
	s := randomString(1000, upperAlnum)
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			t.Fatalf("randomString produced %q outside the alphabet", r)
		}
	}
	if randomString(40, secretAlphabet) == randomString(40, secretAlphabet) {
		t.Error("two secrets are equal")
	}
}
