// Package moto runs moto_server, a local emulation of AWS services (SQS here), for the tests of
// the fleet's queue, and stops it when the test ends. moto_server listens on 127.0.0.1:0 and
// Start reads the address it got from the line it prints (" * Running on http://127.0.0.1:PORT"),
// so no port is picked free and used later. It is test support only: no function binary imports
// it.
package moto

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Region is the region tests use with moto_server.
const Region = "us-east-1"

// startTimeout bounds moto_server's start (Python imports included) on a loaded machine.
const startTimeout = 60 * time.Second

// running is werkzeug's line that names the address it listens on, the port it bound included.
var running = regexp.MustCompile(`Running on (http://127\.0\.0\.1:[0-9]+)`)

// Start starts moto_server (a local SQS, among others) on a loopback port of the kernel's
// choosing, waits until it says where it listens and returns that endpoint
// ("http://127.0.0.1:PORT"). It stops the server when the test ends. Without moto_server it
// skips, except in CI.
func Start(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("moto_server is not on PATH (pip install 'moto[server]'); CI requires it")
		}
		t.Skip("moto_server is not on PATH (pip install 'moto[server]'): skipping the tests against a local SQS")
	}
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", "0")
	out := &lockedBuffer{}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = io.MultiWriter(out, pw), io.MultiWriter(out, pw)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the pyenv shim starts python as a child
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})

	endpoint := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		found := false
		for sc.Scan() {
			if m := running.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				endpoint <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, pr) // a line too long for the scanner must not block the server
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case e := <-endpoint:
		return e
	case <-exited:
		t.Fatalf("moto_server exited before it listened:\n%s", out)
	case <-timer.C:
		t.Fatalf("moto_server did not say where it listens within %v:\n%s", startTimeout, out)
	}
	return ""
}

// lockedBuffer is moto_server's output, kept for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SQSClient is an SQS client of the moto_server at endpoint.
func SQSClient(endpoint string) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
	})
}

// ReceiveAll drains the queue and returns the message bodies, sorted.
func ReceiveAll(t testing.TB, c *sqs.Client, queueURL string, want int) []string {
	t.Helper()
	var bodies []string
	for empty := 0; empty < 3; {
		out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 60})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
		if len(bodies) > want+10 {
			break
		}
	}
	slices.Sort(bodies)
	return bodies
}
