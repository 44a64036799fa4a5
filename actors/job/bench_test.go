package job

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// BenchmarkJobs measures what a job costs end to end through the runner
// (durable queue publish, consume, three row writes, the call, the ack)
// against the bare calls it makes, with the same concurrency (8) against
// the same local backend. It reports both per job and their ratio.
func BenchmarkJobs(b *testing.B) {
	be := newBackend(b)
	const conc = 8

	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	client := &http.Client{}
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				resp, err := client.Post(be.URL+"/ok", "application/json", bytes.NewReader([]byte(fmt.Sprintf(`{"n":%d}`, i))))
				if err != nil {
					b.Error(err)
					continue
				}
				resp.Body.Close()
			}
		}()
	}
	for i := range b.N {
		work <- i
	}
	close(work)
	wg.Wait()
	direct := time.Since(start)

	svc, _, tables, _ := startJobs(b, be, conc)
	b.ResetTimer()
	start = time.Now()
	for i := range b.N {
		submit(b, svc, fmt.Sprint("job:", i), fmt.Sprintf(`{"status":"pending","path":"/ok","payload":{"n":%d}}`, i))
	}
	for i := range b.N {
		id := fmt.Sprint("job:", i)
		for tables.last(id)["status"] != "success" {
			time.Sleep(time.Millisecond)
		}
	}
	runner := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(direct.Nanoseconds())/float64(b.N), "direct-ns/job")
	b.ReportMetric(float64(runner.Nanoseconds())/float64(b.N), "runner-ns/job")
	b.ReportMetric(float64(runner)/float64(direct), "runner/direct")
}
