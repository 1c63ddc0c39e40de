package webhook

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
)

// The Sign functions compute what a caller sends, so tests and cmd/local can sign requests. They
// use the secret exactly as given (the Checker trims what it reads from Key Vault).

// SignGitHub returns the X-Hub-Signature-256 (or Jira X-Hub-Signature) value of body:
// "sha256=<hex>".
func SignGitHub(secret string, body []byte) string {
	return "sha256=" + hex.EncodeToString(hmacSHA256([]byte(secret), body))
}

// SignPagerDuty returns an X-PagerDuty-Signature value of body with one signature: "v1=<hex>".
func SignPagerDuty(secret string, body []byte) string {
	return "v1=" + hex.EncodeToString(hmacSHA256([]byte(secret), body))
}

// SignSlack returns the X-Slack-Signature value of body sent with X-Slack-Request-Timestamp
// timestamp: "v0=<hex>".
func SignSlack(secret, timestamp string, body []byte) string {
	return "v0=" + hex.EncodeToString(hmacSHA256([]byte(secret), slackBase(timestamp, body)))
}

// SignTeams returns the Authorization value a Teams outgoing webhook with security token
// secretBase64 sends with body: "HMAC <base64>". It fails when secretBase64 is not standard
// base64 (any length: it signs what Teams would, weak keys too); the error does not quote it.
func SignTeams(secretBase64 string, body []byte) (string, error) {
	key, ok := decodeBase64(secretBase64)
	if !ok {
		return "", errors.New("teams security token is not standard base64")
	}
	return "HMAC " + base64.StdEncoding.EncodeToString(hmacSHA256(key, body)), nil
}
