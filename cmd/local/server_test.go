package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHelp(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, &out, &out, nil)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(-h) = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage of local", "-addr", "-sync-duration", "-speed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"served and stopped", nil, 0},
		{"-h", flag.ErrHelp, 0},
		{"-h, wrapped", fmt.Errorf("parse: %w", flag.ErrHelp), 0},
		{"a failure", errors.New("listen tcp: address already in use"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestSyncDurationMustBePositive(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"-5s", "0", "0s"} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			var out lockedBuffer
			ready := make(chan string, 1)
			// Cancelled: a server that started anyway stops at once, and run returns.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := run(ctx, []string{"-addr", "127.0.0.1:0", "-sync-duration", d}, func(string) string { return "" }, &out, &out, ready)
			if err == nil || !strings.Contains(err.Error(), "-sync-duration") || !strings.Contains(err.Error(), "must be positive") {
				t.Errorf("err = %v, want a refusal of -sync-duration", err)
			}
			if len(ready) != 0 {
				t.Error("the server started")
			}
		})
	}
}

// TestOpenAPIMethods: GET and HEAD serve the contract; any other method is a 405 problem that
// says which are allowed.
func TestOpenAPIMethods(t *testing.T) {
	t.Parallel()
	base, _, stop := startLocal(t, nil)
	t.Cleanup(stop)
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"} {
		t.Run(method, func(t *testing.T) {
			req, err := http.NewRequest(method, base+"/openapi.yaml", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if method == "GET" || method == "HEAD" {
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" {
					t.Errorf("%s: %d %s", method, resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				return
			}
			var p struct {
				Status int    `json:"status"`
				Code   string `json:"code"`
			}
			if err := json.Unmarshal(data, &p); err != nil {
				t.Fatalf("not JSON: %s", data)
			}
			got := []string{fmt.Sprint(resp.StatusCode), resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), fmt.Sprint(p.Status), p.Code}
			want := []string{"405", "GET, HEAD", "application/problem+json", "405", "methodNotAllowed"}
			if strings.Join(got, " | ") != strings.Join(want, " | ") {
				t.Errorf("%s /openapi.yaml: %q, want %q", method, got, want)
			}
		})
	}
}

// slowBody opens a connection to base and sends a PATCH /status that declares 100 bytes of body
// and sends 10 of them, then nothing more.
func slowBody(t *testing.T, base string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// Bounds the test, should the server never answer: far longer than the timeouts under test.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "PATCH /status HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"syncStat", strings.TrimPrefix(base, "http://"))
	return conn
}

// TestSlowBodyTimesOut: a client that declares a body and does not send it gets an answer once
// the read timeout is over; it does not hold the request for ever.
func TestSlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	to := defaultTimeouts
	to.readHeader, to.read = 100*time.Millisecond, 100*time.Millisecond
	base, _, _, stop := startLocalWith(t, local{timeouts: to})
	t.Cleanup(stop)
	conn := slowBody(t, base)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a request whose body never came: %v", err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), `"badRequest"`) {
		t.Errorf("answer %d %s, want a 400 badRequest problem", resp.StatusCode, data)
	}
}

// TestStopDoesNotWaitForASlowClient: a stop while a client holds a request (its body not sent,
// the read timeout an hour away) ends after the shutdown grace, closing that connection. The
// stop comes once the request has reached the handler: a request whose headers the server has
// read but whose handler has not started when the stop comes is dropped at once (net/http), so
// the connection's StateActive is no sign that a graceful shutdown would wait for it.
func TestStopDoesNotWaitForASlowClient(t *testing.T) {
	t.Parallel()
	to := defaultTimeouts
	to.readHeader, to.read, to.shutdownGrace = time.Hour, time.Hour, 50*time.Millisecond
	handling := make(chan struct{})
	var once sync.Once
	base, stdout, stderr, stop := startLocalWith(t, local{timeouts: to, handling: func(*http.Request) { once.Do(func() { close(handling) }) }})
	conn := slowBody(t, base)
	<-handling // the handler waits for the body: a graceful shutdown would wait for it
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second): // a bound far below the hour the client could hold
		t.Fatal("the stop waits for the client that holds a request")
	}
	if !strings.Contains(stdout.String(), "stopped") || !strings.Contains(stderr.String(), "closed the connections still busy") {
		t.Errorf("the stop does not say so:\nstdout: %s\nstderr: %s", stdout, stderr)
	}
	if _, err := io.ReadAll(conn); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("the slow client's connection was left open")
	}
}

// TestRefusesOtherHosts: a request whose Host is not the address the server listens on (a page
// whose host name was re-pointed at 127.0.0.1: DNS rebinding) is refused before any function.
func TestRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	base, _, _, stop := startLocalWith(t, local{timeouts: defaultTimeouts})
	t.Cleanup(stop)
	port := base[strings.LastIndex(base, ":")+1:]
	for _, tt := range []struct {
		host string
		want int
	}{
		{strings.TrimPrefix(base, "http://"), http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LOCALHOST:" + port, http.StatusOK},
		{"attacker.example:" + port, http.StatusBadRequest},
		{"attacker.example", http.StatusBadRequest},
		{"127.0.0.1:1", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(http.MethodGet, base+"/status", nil)
		req.Host = tt.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("Host %q: %d (nosniff %q), want %d", tt.host, resp.StatusCode, resp.Header.Get("X-Content-Type-Options"), tt.want)
		}
	}
}
