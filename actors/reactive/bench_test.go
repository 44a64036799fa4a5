package reactive

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/troupe-run/troupe/gateway/skip"
	"github.com/troupe-run/troupe/system/systemtest"
)

type nullSink struct{}

func (nullSink) Push(skip.Update) bool { return true }
func (nullSink) Closed(error)          {}

// BenchmarkPatch measures PATCH through the service (graph, instance,
// stream push) without HTTP: keys per second in batches of 1 and 1,000,
// with one subscribed stream on a Sum resource and one on a plain one.
func BenchmarkPatch(b *testing.B) {
	for _, batch := range []int{1, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			sys := systemtest.Boot(b)
			svcs, err := Start(sys, Options{Files: []string{"testdata/sum.ts"}})
			if err != nil {
				b.Fatal(err)
			}
			s := svcs[0]
			ctx := context.Background()
			for _, r := range []string{"sum", "plain"} {
				id, err := s.CreateStream(ctx, r, json.RawMessage(`{}`))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Subscribe(ctx, id, nullSink{}); err != nil {
					b.Fatal(err)
				}
			}
			entries := make([]skip.Entry, batch)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range entries {
					k := strconv.Itoa((i*batch + j) % 10000)
					entries[j] = skip.Entry{Key: json.RawMessage(`"` + k + `"`), Values: []json.RawMessage{json.RawMessage(strconv.Itoa(i))}}
				}
				if err := s.Patch(ctx, "input", entries); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}

// BenchmarkConcurrentPatch: 64 writers at once, one key per PATCH, no
// stream (as troupe-bench's throughput runs).
func BenchmarkConcurrentPatch(b *testing.B) {
	sys := systemtest.Boot(b)
	svcs, err := Start(sys, Options{Files: []string{"testdata/sum.ts"}})
	if err != nil {
		b.Fatal(err)
	}
	s := svcs[0]
	ctx := context.Background()
	var seq atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			e := skip.Entry{Key: json.RawMessage(`"k` + strconv.Itoa(int(i%100000)) + `"`), Values: []json.RawMessage{json.RawMessage(strconv.Itoa(int(i % 1000)))}}
			if err := s.Patch(ctx, "input", []skip.Entry{e}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkJoinToggle: the groups service's latency path (troupe-bench
// --reactive): one friend of a 200-member group goes active and inactive,
// and the group's mapper joins all 200 members through getArray again.
func BenchmarkJoinToggle(b *testing.B) {
	sys := systemtest.Boot(b)
	svcs, err := Start(sys, Options{Files: []string{"../../integration/testdata/skip/groups.mjs"}})
	if err != nil {
		b.Fatal(err)
	}
	s := svcs[0]
	ctx := context.Background()
	ids := ""
	for i := 1; i <= 200; i++ {
		if i > 1 {
			ids += ","
		}
		ids += fmt.Sprint(i)
	}
	es := []skip.Entry{{Key: json.RawMessage(`100`), Values: []json.RawMessage{json.RawMessage(`{"name":"bench","members":[` + ids + `]}`)}}}
	if err := s.Patch(ctx, "groups", es); err != nil {
		b.Fatal(err)
	}
	var us []skip.Entry
	for i := 1; i <= 200; i++ {
		us = append(us, skip.Entry{Key: json.RawMessage(fmt.Sprint(i)), Values: []json.RawMessage{json.RawMessage(fmt.Sprintf(`{"name":"u%d","active":true,"friends":[1]}`, i))}})
	}
	us[0].Values[0] = json.RawMessage(`{"name":"me","active":true,"friends":[` + ids + `]}`)
	if err := s.Patch(ctx, "users", us); err != nil {
		b.Fatal(err)
	}
	id, err := s.CreateStream(ctx, "activeFriends", json.RawMessage(`{"uid":1}`))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Subscribe(ctx, id, nullSink{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := skip.Entry{Key: json.RawMessage(`2`), Values: []json.RawMessage{json.RawMessage(fmt.Sprintf(`{"name":"u2","active":%v,"friends":[1]}`, i%2 == 0))}}
		if err := s.Patch(ctx, "users", []skip.Entry{e}); err != nil {
			b.Fatal(err)
		}
	}
}
