// Package lambdahttp lets one http.Handler serve AWS Lambda HTTP invocations as well as a local
// server. It recognises three event shapes — API Gateway HTTP API (payload 2.0), API Gateway REST
// API (payload 1.0) and buffered Lambda Function URLs — turns the event into an *http.Request
// shaped like one net/http's server would build, runs the handler, and encodes what the handler
// wrote as the response type of that event source (from github.com/aws/aws-lambda-go/events).
//
// It only translates shapes. It never decides anything about a request: it does not route,
// authenticate, check methods or content types, limit body sizes or interpret the path; the
// handler does all of that, the same way on Lambda and locally. Events that are not HTTP
// (schedules, SQS batches, direct invocations) are left to the caller: [Detect] reports "" for them.
package lambdahttp
