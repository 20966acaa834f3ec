package s3apitest

import (
	"reflect"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// testBucketCors: the CORSStore MUSTs.
func testBucketCors(t *testing.T, s s3api.ObjectStore) {
	cs, ok := s.(s3api.CORSStore)
	if !ok {
		t.Skip("store does not implement s3api.CORSStore")
	}
	ctx := t.Context()
	createBucket(t, s, "cors")
	_, err := cs.GetBucketCors(ctx, "cors")
	wantCode(t, "GetBucketCors of a new bucket", err, s3err.ErrNoSuchCORSConfiguration)
	rules := []s3api.CORSRule{
		{ID: "web", AllowedOrigins: []string{"https://*.example.com"}, AllowedMethods: []string{"GET", "PUT"},
			AllowedHeaders: []string{"*"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: 600},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}},
	}
	if err := cs.PutBucketCors(ctx, "cors", rules); err != nil {
		t.Fatal(err)
	}
	got, err := cs.GetBucketCors(ctx, "cors")
	if err != nil || !reflect.DeepEqual(got, rules) {
		t.Errorf("GetBucketCors: %+v, %v; want %+v", got, err, rules)
	}
	if err := cs.DeleteBucketCors(ctx, "cors"); err != nil {
		t.Fatal(err)
	}
	_, err = cs.GetBucketCors(ctx, "cors")
	wantCode(t, "GetBucketCors after DeleteBucketCors", err, s3err.ErrNoSuchCORSConfiguration)
	wantCode(t, "PutBucketCors(no bucket)", cs.PutBucketCors(ctx, "nobucket", rules), s3err.ErrNoSuchBucket)
	_, err = cs.GetBucketCors(ctx, "nobucket")
	wantCode(t, "GetBucketCors(no bucket)", err, s3err.ErrNoSuchBucket)
}
