package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// TestMessagingPubSubWildcards: over WebSocket subscribers, `*` matches one
// level (alerts.* does not match alerts.a.b), `#` zero or more (system.#
// matches system), a session whose patterns overlap gets a message once,
// and subscribers_notified counts the sessions that got it.
func TestMessagingPubSubWildcards(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	subs := map[string][]string{
		"A": {"alerts.*", "end"},
		"B": {"system.#", "end"},
		"C": {"alerts.#", "alerts.*", "end"},
		"D": {"#"},
	}
	clients := map[string]*wsClient{}
	for _, name := range []string{"A", "B", "C", "D"} {
		c := s.dialWS("", nil)
		var r struct {
			Success           bool     `json:"success"`
			SubscriberID      string   `json:"subscriber_id"`
			Topics            []string `json:"topics"`
			SubscriptionCount int      `json:"subscription_count"`
		}
		c.ok("pubsub.subscribe", map[string]any{"topics": subs[name]}, &r)
		if !r.Success || r.SubscriberID == "" || !slices.Equal(r.Topics, subs[name]) || r.SubscriptionCount != len(subs[name]) {
			t.Fatalf("subscribe %s: %+v", name, r)
		}
		clients[name] = c
	}
	publishes := []struct {
		topic    string
		notified int
	}{
		{"alerts.a.b", 2}, // C, D: not alerts.*
		{"system", 2},     // B (system.# matches system), D
		{"alerts.a", 3},   // A, C (once, though two of its patterns match), D
		{"system.x.y", 2}, // B, D
		{"alerts", 2},     // C (alerts.#), D
		{"other", 1},      // D
		{"end", 4},        // everyone
	}
	for i, p := range publishes {
		var r struct {
			SubscribersNotified int `json:"subscribers_notified"`
		}
		s.ok("pubsub.publish", map[string]any{"topic": p.topic, "message": map[string]int{"n": i}}, &r)
		if r.SubscribersNotified != p.notified {
			t.Errorf("publish to %s: subscribers_notified %d, want %d", p.topic, r.SubscribersNotified, p.notified)
		}
	}
	want := map[string][]string{
		"A": {"alerts.a", "end"},
		"B": {"system", "system.x.y", "end"},
		"C": {"alerts.a.b", "alerts.a", "alerts", "end"},
		"D": {"alerts.a.b", "system", "alerts.a", "system.x.y", "alerts", "other", "end"},
	}
	// One router sends in publish order, so once "end" is in, everything
	// before it is.
	for name, c := range clients {
		var got []string
		for {
			f := c.next()
			if f.Type != "message" || string(f.Metadata) != "null" {
				t.Fatalf("%s got %+v", name, f)
			}
			i := slices.IndexFunc(publishes, func(p struct {
				topic    string
				notified int
			}) bool {
				return p.topic == f.Topic
			})
			if string(f.Message) != fmt.Sprintf(`{"n":%d}`, i) {
				t.Fatalf("%s: message %s on %s", name, f.Message, f.Topic)
			}
			got = append(got, f.Topic)
			if f.Topic == "end" {
				break
			}
		}
		if !slices.Equal(got, want[name]) {
			t.Errorf("subscriber %s %v got %v, want %v", name, subs[name], got, want[name])
		}
	}

	var stats struct {
		TotalTopics       int `json:"total_topics"`
		TotalSubscribers  int `json:"total_subscribers"`
		MessagesPublished int `json:"messages_published"`
	}
	s.ok("pubsub.stats", map[string]any{}, &stats)
	if stats.TotalSubscribers != 4 || stats.MessagesPublished != len(publishes) || stats.TotalTopics != 5 {
		t.Errorf("pubsub.stats: %+v, want 4 subscribers, %d messages, 5 patterns", stats, len(publishes))
	}
	var topics struct {
		Topics []string `json:"topics"`
		Count  int      `json:"count"`
	}
	s.ok("pubsub.topics", map[string]any{}, &topics)
	slices.Sort(topics.Topics)
	if !slices.Equal(topics.Topics, []string{"#", "alerts.#", "alerts.*", "end", "system.#"}) || topics.Count != 5 {
		t.Errorf("pubsub.topics: %+v", topics)
	}

	// Unsubscribing a pattern: A no longer gets alerts.a.
	var un struct {
		SubscriptionCount int `json:"subscription_count"`
	}
	clients["A"].ok("pubsub.unsubscribe", map[string]any{"topics": []string{"alerts.*"}}, &un)
	if un.SubscriptionCount != 1 {
		t.Fatalf("unsubscribe: %+v", un)
	}
	var r struct {
		SubscribersNotified int `json:"subscribers_notified"`
	}
	s.ok("pubsub.publish", map[string]any{"topic": "alerts.a", "message": 1}, &r)
	if r.SubscribersNotified != 2 {
		t.Fatalf("alerts.a after A unsubscribed: notified %d, want 2", r.SubscribersNotified)
	}
	s.ok("pubsub.publish", map[string]any{"topic": "end", "message": 2}, &r)
	if f := clients["A"].next(); f.Topic != "end" {
		t.Fatalf("A after unsubscribing alerts.*: got %+v", f)
	}
	// A closed session's subscriptions go with it.
	clients["D"].conn.Close(websocket.StatusNormalClosure, "")
	msgEventually(t, "the closed subscriber to leave the router", func() bool {
		s.ok("pubsub.stats", map[string]any{}, &stats)
		return stats.TotalSubscribers == 3
	})
	s.ok("pubsub.publish", map[string]any{"topic": "other", "message": 3}, &r)
	if r.SubscribersNotified != 0 {
		t.Fatalf("other after D left: notified %d", r.SubscribersNotified)
	}
}

// TestMessagingPubSubRESTPublish: POST /pubsub/{topic}/publish takes the
// message as payload or as data, with metadata, and answers
// {"subscribers_notified": n}.
func TestMessagingPubSubRESTPublish(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.dialWS("", nil)
	c.ok("pubsub.subscribe", map[string]any{"topics": []string{"notifications.email.*"}}, nil)
	type published struct {
		SubscribersNotified *int `json:"subscribers_notified"`
	}
	post := func(topic string, body string) int {
		t.Helper()
		status, raw := s.rest("POST", "/pubsub/"+topic+"/publish", body)
		var p published
		if status != http.StatusOK || json.Unmarshal(raw, &p) != nil || p.SubscribersNotified == nil {
			t.Fatalf("POST /pubsub/%s/publish %s: %d %s", topic, body, status, raw)
		}
		return *p.SubscribersNotified
	}
	if n := post("notifications.email.user", `{"payload":{"to":"alice@example.com","subject":"Welcome!"},"metadata":{"source":"web-app","priority":"high"}}`); n != 1 {
		t.Fatalf("payload: notified %d", n)
	}
	f := c.next()
	if f.Type != "message" || f.Topic != "notifications.email.user" ||
		!jsonEqual(f.Message, []byte(`{"to":"alice@example.com","subject":"Welcome!"}`)) ||
		!jsonEqual(f.Metadata, []byte(`{"source":"web-app","priority":"high"}`)) {
		t.Fatalf("frame for the payload form: %+v (message %s, metadata %s)", f, f.Message, f.Metadata)
	}
	if n := post("notifications.email.bob", `{"data":{"to":"bob@example.com"}}`); n != 1 {
		t.Fatalf("data: notified %d", n)
	}
	f = c.next()
	if f.Topic != "notifications.email.bob" || !jsonEqual(f.Message, []byte(`{"to":"bob@example.com"}`)) || string(f.Metadata) != "null" {
		t.Fatalf("frame for the data form: %+v (message %s, metadata %s)", f, f.Message, f.Metadata)
	}
	if n := post("notifications.sms.bob", `{"payload":"not for the subscriber"}`); n != 0 {
		t.Fatalf("a topic no one subscribed to: notified %d", n)
	}
	// Neither payload nor data: an error that says so.
	s.restFails("POST", "/pubsub/notifications.email.x/publish", `{"metadata":{}}`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	// The command form, with message.
	var r struct {
		SubscribersNotified int `json:"subscribers_notified"`
	}
	s.ok("pubsub.publish", map[string]any{"topic": "notifications.email.carol", "message": []int{1, 2}}, &r)
	if f := c.next(); r.SubscribersNotified != 1 || string(f.Message) != "[1,2]" || f.Topic != "notifications.email.carol" {
		t.Fatalf("pubsub.publish: %+v, frame %+v", r, f)
	}
	if got := c.pushCount(); got != 3 {
		t.Fatalf("%d frames, want 3", got)
	}
}

// TestMessagingPubSubInvalidTopics: an invalid topic (empty level, a
// wildcard) or pattern (empty level, `#` not last) is refused with 400 and
// the reason.
func TestMessagingPubSubInvalidTopics(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, tc := range []struct{ topic, path, why string }{
		{"a..b", "a..b", "level 2 is empty"},
		{"a.", "a.", "level 2 is empty"},
		{"a.*", "a.*", "wildcard"},
		{"a.#", "a.%23", "wildcard"},
	} {
		status, raw := s.rest("POST", "/pubsub/"+tc.path+"/publish", `{"payload":1}`)
		var r reply
		if json.Unmarshal(raw, &r) != nil || status != http.StatusBadRequest || r.Error == nil ||
			r.Error.Code != "INVALID_ARGUMENT" || !strings.Contains(r.Error.Message, tc.why) {
			t.Errorf("POST /pubsub/%s/publish: %d %s, want 400 saying %q", tc.path, status, raw, tc.why)
		}
		status, r = s.command("pubsub.publish", map[string]any{"topic": tc.topic, "message": 1})
		if status != http.StatusBadRequest || r.Error == nil || !strings.Contains(r.Error.Message, tc.why) {
			t.Errorf("pubsub.publish to %q: %d %+v, want 400 saying %q", tc.topic, status, r.Error, tc.why)
		}
	}
	c := s.dialWS("", nil)
	for _, tc := range []struct{ pattern, why string }{
		{"a.#.b", "'#' must be the last level"},
		{"a..b", "level 2 is empty"},
		{"a.b*", "wildcard"},
		{"", "empty"},
	} {
		f := c.call("pubsub.subscribe", map[string]any{"topics": []string{"ok.*", tc.pattern}})
		if f.Status != "error" || f.Error == nil || f.Error.Code != "INVALID_ARGUMENT" || !strings.Contains(f.Error.Message, tc.why) {
			t.Errorf("pubsub.subscribe %q: %+v %+v, want INVALID_ARGUMENT saying %q", tc.pattern, f, f.Error, tc.why)
		}
		if tc.pattern == "" {
			continue
		}
		status, r := s.command("pubsub.topics", map[string]any{"pattern": tc.pattern})
		if status != http.StatusBadRequest || r.Error == nil || !strings.Contains(r.Error.Message, tc.why) {
			t.Errorf("pubsub.topics {pattern: %q}: %d %+v %s, want 400 saying %q", tc.pattern, status, r.Error, r.Payload, tc.why)
		}
	}
	// Nothing was subscribed by the refused requests.
	var r struct {
		SubscribersNotified int `json:"subscribers_notified"`
	}
	s.ok("pubsub.publish", map[string]any{"topic": "ok.x", "message": 1}, &r)
	if r.SubscribersNotified != 0 {
		t.Errorf("a refused subscribe subscribed: notified %d", r.SubscribersNotified)
	}
}

// TestMessagingSlowSubscriberDisconnected: with --ws-buffer=16, a
// subscriber that stops reading is closed with status 1008 and counted in
// /metrics, while a fast one on the same topic gets every message and
// stays connected; the publisher is never held up.
func TestMessagingSlowSubscriberDisconnected(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--ws-buffer=16")
	fast := s.dialWSIdle("", nil)
	fast.dropBody = true
	fast.startReading()
	fast.ok("pubsub.subscribe", map[string]any{"topics": []string{"feed.#"}}, nil)

	// The slow one reads its subscribe reply, then nothing.
	slow := s.dialWSIdle("", nil)
	ctx, cancel := context.WithTimeout(context.Background(), msgPatience)
	defer cancel()
	if err := slow.conn.Write(ctx, websocket.MessageText, []byte(`{"request_id":"s","command":"pubsub.subscribe","payload":{"topics":["feed.*"]}}`)); err != nil {
		t.Fatal(err)
	}
	if _, data, err := slow.conn.Read(ctx); err != nil || !strings.Contains(string(data), `"status":"success"`) {
		t.Fatalf("slow subscriber's subscribe: %s %v", data, err)
	}

	const dropped = `troupe_subscribers_dropped_total{door="data"}`
	body := strings.Repeat("x", 16<<10)
	published := 0
	publish := func() int {
		t.Helper()
		// Pace the publisher by the fast subscriber, well within its buffer.
		fast.waitPushes(published - 8)
		status, raw := s.rest("POST", "/pubsub/feed.items/publish", fmt.Sprintf(`{"payload":%q,"metadata":{"seq":%d}}`, body, published))
		var r struct {
			SubscribersNotified int `json:"subscribers_notified"`
		}
		if status != http.StatusOK || json.Unmarshal(raw, &r) != nil {
			t.Fatalf("publish %d: %d %.300s", published, status, raw)
		}
		published++
		return r.SubscribersNotified
	}
	if n := publish(); n != 2 {
		t.Fatalf("first publish notified %d, want 2", n)
	}
	for s.metric(dropped) != "1" {
		for range 20 {
			publish()
		}
		if published > 20000 {
			t.Fatalf("%d messages of 16 KiB published and the slow subscriber was not dropped", published)
		}
	}
	// The slow one reads again: what was queued for it, then the close.
	slow.startReading()
	ce := slow.closed()
	if ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "slow") {
		t.Fatalf("slow subscriber closed with %d %q, want 1008 and a reason", ce.Code, ce.Reason)
	}
	if got := slow.pushCount(); got >= published {
		t.Fatalf("the slow subscriber got all %d messages", got)
	}
	// The router forgets the closed session: publishes reach only the fast one.
	msgEventually(t, "publishes to notify the fast subscriber only", func() bool { return publish() == 1 })
	for range 50 {
		publish()
	}
	fast.waitPushes(published)
	for i, f := range fast.allPushes() {
		if f.Type != "message" || f.Topic != "feed.items" || string(f.Metadata) != fmt.Sprintf(`{"seq":%d}`, i) {
			t.Fatalf("fast subscriber's message %d: %+v (metadata %s)", i, f, f.Metadata)
		}
	}
	if !fast.isOpen() {
		t.Fatal("the fast subscriber was disconnected")
	}
	var st struct {
		TotalSubscribers int `json:"total_subscribers"`
	}
	fast.ok("pubsub.stats", map[string]any{}, &st)
	if st.TotalSubscribers != 1 {
		t.Fatalf("pubsub.stats: %+v", st)
	}
	if got := s.metric(dropped); got != "1" {
		t.Fatalf("%s = %q, want 1", dropped, got)
	}
	t.Logf("%d messages of 16 KiB; the slow subscriber got %d before its close", published, slow.pushCount())
}
