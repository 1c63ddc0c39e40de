package awsenv

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
		if got := region(env(tt.vars)); got != tt.wantRegion {
			t.Errorf("%s: Region = %q, want %q", tt.name, got, tt.wantRegion)
		}
		if got := endpoint(env(tt.vars), "SQS"); got != tt.wantEP {
			t.Errorf("%s: Endpoint = %q, want %q", tt.name, got, tt.wantEP)
		}
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	e := Read(env(map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example-secret",
		"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:3", "AWS_ENDPOINT_URL": "http://127.0.0.1:4", "AWS_STS_SIGNING_ALGORITHM": "ES384"}))
	want := Env{Region: "eu-west-1", AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "example-secret",
		EndpointSTS: "http://127.0.0.1:3", EndpointSQS: "http://127.0.0.1:4", STSSigningAlgorithm: "ES384"}
	if e != want {
		t.Errorf("Read = %+v, want %+v", e, want)
	}
	for _, printed := range []string{fmt.Sprint(e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
		if strings.Contains(printed, "example-secret") || strings.Contains(printed, "AKIAEXAMPLE") {
			t.Errorf("printed Env shows a credential: %s", printed)
		}
	}
	c, err := e.Credentials().Retrieve(context.Background())
	if err != nil || c.SecretAccessKey != "example-secret" {
		t.Errorf("Credentials = %v", err)
	}
	if _, err := (Env{}).Credentials().Retrieve(context.Background()); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("no credentials: %v", err)
	}
}
