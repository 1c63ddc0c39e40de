package testca_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator/internal/testca"
)

func TestServerCertificateNames(t *testing.T) {
	t.Parallel()
	ca, err := testca.New("test CA", "graph.microsoft.us")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(ca.Leaf.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want bool
	}{
		{"127.0.0.1", true},
		{"::1", true},
		{"localhost", true},
		{"graph.microsoft.us", true},
		{"graph.microsoft.com", false},
		{"10.0.0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: tc.name, Roots: ca.Pool})
			if got := err == nil; got != tc.want {
				t.Errorf("verifies for %s: %v (%v), want %v", tc.name, got, err, tc.want)
			}
		})
	}
	blk, _ := pem.Decode(ca.PEM)
	if blk == nil {
		t.Fatal("PEM holds no block")
	}
	root, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !root.IsCA || root.Subject.CommonName != "test CA" {
		t.Errorf("PEM: IsCA %v, CN %q; want a CA named \"test CA\"", root.IsCA, root.Subject.CommonName)
	}
	if got := ca.ClientConfig().RootCAs; !got.Equal(ca.Pool) {
		t.Error("ClientConfig trusts another pool")
	}
	if got := ca.ServerConfig().Certificates; len(got) != 1 {
		t.Errorf("ServerConfig serves %d certificates", len(got))
	}
}

func TestEachCAIsNew(t *testing.T) {
	t.Parallel()
	a, errA := testca.New("a")
	b, errB := testca.New("a")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	leaf, _ := x509.ParseCertificate(a.Leaf.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: b.Pool}); err == nil {
		t.Error("a certificate of one CA verifies with another")
	}
}
