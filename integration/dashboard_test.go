package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/troupe-run/troupe/system/systemtest"
)

var chromiumOnce sync.Once

// needChromium returns Debian's chromium, installing it when missing and
// running as root (as CI does).
func needChromium(t *testing.T) string {
	t.Helper()
	chromiumOnce.Do(func() {
		if _, err := exec.LookPath("chromium"); err == nil || os.Geteuid() != 0 {
			return
		}
		for _, args := range [][]string{{"install", "-y", "-q", "chromium"}, {"update", "-q"}, {"install", "-y", "-q", "chromium"}} {
			cmd := exec.Command("apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			out, err := cmd.CombinedOutput()
			if err == nil && args[0] == "install" {
				return
			}
			if err != nil {
				t.Logf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is needed (apt-get install chromium): %v", err)
	}
	return path
}

// browser starts a headless Chromium with a fresh profile and returns a
// tab's context. Console errors and uncaught exceptions of the page are
// collected; consoleErrors returns them.
func browser(t *testing.T) (ctx context.Context, consoleErrors func() []string) {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(needChromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1100),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	var (
		mu   sync.Mutex
		errs []string
		done = make(chan struct{})
	)
	watch, stopWatch := context.WithCancel(ctx)
	go func() {
		defer close(done)
		for m, err := range chromedp.Console(watch) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				errs = append(errs, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		stopWatch()
		<-done
		cancel()
		cancelAlloc()
	})
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

// pageText evaluates a JavaScript expression giving a string, "" when the
// page cannot say yet.
func pageText(ctx context.Context, js string) string {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Evaluate[string](js))
	if err != nil {
		return ""
	}
	return s
}

// cellText is the JavaScript for the text of the element sel, or "".
func cellText(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.textContent : ""; })()`, sel)
}

// TestDashboard drives the dashboard in a real browser: the page draws the
// tree and the figures of a queue, a room and a view the test made, shows a
// queue made afterwards within 5 s without a reload, counts the restart of
// an actor crashed from its button, and writes no console error.
func TestDashboard(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret}, "--chaos")
	dashboard := "http://" + s.doorAddr("admin")

	s.ok("queue.create", map[string]any{"queue": "dash-q"}, nil)
	for _, p := range []int{1, 5, 9} {
		s.ok("queue.publish", map[string]any{"queue": "dash-q", "message": "m", "priority": p}, nil)
	}
	s.ok("stream.create", map[string]any{"room": "dash-room"}, nil)
	for i := range 2 {
		s.ok("stream.publish", map[string]any{"room": "dash-room", "event": "e", "data": i}, nil)
	}
	api := newViewsAPI(t, s, viewsSecret)
	api.waitReady()
	api.ingest("users", "CREATE", "user:ann", map[string]any{"name": "Ann"})
	api.ingest("users", "CREATE", "user:bob", map[string]any{"name": "Bob"})
	api.register("dash-view", "SELECT * FROM users", nil)

	// The JSON the page is drawn from has them too, from the next sample on.
	systemtest.Eventually(t, "dash-q in GET /admin/api/tree", func() bool {
		resp, err := http.Get(dashboard + "/admin/api/tree")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct {
			Queues []struct {
				Name  string
				Depth int
			}
			Rooms []struct{ Name string }
			Views []struct{ ID string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return len(st.Queues) == 1 && st.Queues[0].Name == "dash-q" && st.Queues[0].Depth == 3 &&
			len(st.Rooms) == 1 && st.Rooms[0].Name == "dash-room" && len(st.Views) == 1 && st.Views[0].ID == "dash-view"
	})

	ctx, consoleErrors := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(dashboard+"/dashboard")); err != nil {
		t.Fatal(err)
	}
	systemtest.Eventually(t, "the queue dash-q with depth 3 on the page", func() bool {
		return pageText(ctx, cellText(`#queues tr[data-name="dash-q"] .depth`)) == "3" &&
			pageText(ctx, cellText(`#queues tr[data-name="dash-q"] .prio`)) == "1 0 0 0 1 0 0 0 1 0"
	})
	systemtest.Eventually(t, "the room, the view and their actors on the page", func() bool {
		return pageText(ctx, cellText(`#rooms tr[data-name="dash-room"] .subscribers`)) == "0" &&
			pageText(ctx, cellText(`#views tr[data-name="dash-view"] .rows`)) == "2" &&
			pageText(ctx, cellText(`#tree tr[data-actor="queues/dash-q"] .mailbox`)) == "0" &&
			pageText(ctx, cellText(`#tree tr[data-actor="rooms/dash-room"] .restarts`)) == "0" &&
			pageText(ctx, cellText(`#tree details[data-domain="views"] .name`)) == "views"
	})
	if got := pageText(ctx, `document.querySelectorAll(".chart canvas").length.toString()`); got != "8" {
		t.Fatalf("%s charts drawn, want 8", got)
	}

	// A queue made now appears without a reload, within 5 s.
	s.ok("queue.create", map[string]any{"queue": "dash-later"}, nil)
	s.ok("queue.publish", map[string]any{"queue": "dash-later", "message": "m"}, nil)
	deadline := time.Now().Add(5 * time.Second)
	for pageText(ctx, cellText(`#queues tr[data-name="dash-later"] .depth`)) != "1" {
		if time.Now().After(deadline) {
			t.Fatal("the queue made after the page loaded did not appear within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The crash button: the supervisor restarts the queue, the page counts it.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#tree button.kill[data-actor="queues/dash-q"]`))); err != nil {
		t.Fatal(err)
	}
	systemtest.Eventually(t, "the restart of queues/dash-q on the page", func() bool {
		return pageText(ctx, cellText(`#tree tr[data-actor="queues/dash-q"] .restarts`)) == "1" &&
			strings.Contains(pageText(ctx, cellText(`#tree tr[data-actor="queues/dash-q"] .crash`)), "injected panic")
	})
	// The queue rebuilt itself from the store: its messages are all there.
	systemtest.Eventually(t, "dash-q's depth after the restart", func() bool {
		return pageText(ctx, cellText(`#queues tr[data-name="dash-q"] .depth`)) == "3"
	})

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(os.TempDir(), "troupe-dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the dashboard: %s", shot)

	if errs := consoleErrors(); len(errs) > 0 {
		t.Fatalf("the page wrote console errors:\n%s", strings.Join(errs, "\n"))
	}
}
