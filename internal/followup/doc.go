// Package followup follows a sync that Graph accepted to its end (SPEC §13), with no state but
// the follow-up queue's messages. It is pure: it never reads the clock (every function takes
// now), never talks to Graph, SQS or any target, and never logs. Its callers do those things
// in this order:
//
//	after Graph's 204:  m := followup.New(followup.NewID(), tenant, requestedAt, targets)
//	                    body, _ := m.Encode(); send(body, schedule.FirstDelay())
//	on a queue record:  m, err := followup.Decode(body, now)   // err: log and drop the record
//	                    if m.NeedsCheck() { reading = read the settings once }
//	                    plan := followup.Decide(m, reading, now, schedule)
//	                    plan.Retry: list the record in batchItemFailures, nothing else
//	                    deliver each of plan.Notices; collect the targets to try again
//	                    s := plan.Settle(again); if s.Next != nil { send(s.Next.Encode(), s.Delay) }
//	                    log plan.Outcome (nil: "pending"), plan.GaveUp and s.GaveUp
//
// A sync has finished when syncStatus is completed or failed and lastSyncDateTime is no older
// than the request (5 s of clock skew allowed). Until then the checks come after FirstCheck,
// then 60, 120, 240, 480 and every 900 s (SQS's longest delay), never past MaxAge since the
// request, when the outcome is timedOut. A Slack response_url works for 30 minutes: a sync not
// finished after 29 is told to Slack once as still running, and Slack leaves the message.
// Each outcome is reported once to each target; a target whose delivery failed transiently is
// tried again with the same backoff, in a message that names only the targets still owed, for
// up to an hour after the outcome.
//
// Delivery is at least once: SQS may deliver a message twice, and Decide answers a duplicate
// exactly as it answered the first, so a target may rarely hear the same outcome twice, always
// under the same follow-up id (the callbacks' webhook-id).
package followup
