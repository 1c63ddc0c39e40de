package awsenv

import (
	"context"
	"errors"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestRegionAndEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		vars               map[string]string
		wantRegion, wantEP string
	}{
		{"nothing", nil, "", ""},
		{"region", map[string]string{"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}, "eu-west-1", ""},
		{"default region", map[string]string{"AWS_DEFAULT_REGION": " us-east-1 "}, "us-east-1", ""},
		{"service endpoint wins", map[string]string{"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:1", "AWS_ENDPOINT_URL": "http://x"}, "", "http://127.0.0.1:1"},
		{"global endpoint", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:2"}, "", "http://127.0.0.1:2"},
		{"ignored", map[string]string{"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "", ""},
	}
	for _, tt := range tests {
		if got := Region(env(tt.vars)); got != tt.wantRegion {
			t.Errorf("%s: Region = %q, want %q", tt.name, got, tt.wantRegion)
		}
		if got := Endpoint(env(tt.vars), "SQS"); got != tt.wantEP {
			t.Errorf("%s: Endpoint = %q, want %q", tt.name, got, tt.wantEP)
		}
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	c, err := Credentials(env(map[string]string{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example-secret", "AWS_SESSION_TOKEN": "tok"})).Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIAEXAMPLE" || c.SessionToken != "tok" {
		t.Errorf("Retrieve = %+v, %v", c, err)
	}
	if _, err := Credentials(env(map[string]string{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"})).Retrieve(context.Background()); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("without a secret key: %v", err)
	}
}
