package resp

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"testing"
)

// scanReply splits a SCAN-family reply into its cursor and elements.
func scanReply(t *testing.T, reply string) (string, []string) {
	t.Helper()
	rd := bufio.NewReader(strings.NewReader(reply))
	bulk := func() string {
		head, _ := rd.ReadString('\n')
		if head == "" || head[0] != '$' {
			t.Fatalf("not a bulk string in %q", reply)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	if head, _ := rd.ReadString('\n'); head != "*2\r\n" {
		t.Fatalf("SCAN reply %q", reply)
	}
	cursor := bulk()
	head, _ := rd.ReadString('\n')
	n, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
	items := make([]string, n)
	for i := range items {
		items[i] = bulk()
	}
	return cursor, items
}

// TestScanSurvivesWrites pages through the keyspace and through a hash, a
// set and a sorted set while other elements come and go between pages,
// continuing each scan on another connection (as a pooled client may):
// every element present for the whole scan is returned, and the scans
// really page.
func TestScanSurvivesWrites(t *testing.T) {
	_, addr := door(t, Config{})
	conns := []*client{dial(t, addr), dial(t, addr)}
	w := dial(t, addr)
	const stable = 600
	for i := range stable {
		n := strconv.Itoa(i)
		w.do("SET", "k:"+n, "v")
		w.do("HSET", "h", "f"+n, n)
		w.do("SADD", "s", "m"+n)
		w.do("ZADD", "z", n, "m"+n)
	}
	for _, cmd := range [][]string{{"SCAN"}, {"HSCAN", "h"}, {"SSCAN", "s"}, {"ZSCAN", "z"}} {
		t.Run(cmd[0], func(t *testing.T) {
			seen := map[string]int{}
			cursor, pages := "0", 0
			for {
				args := append(append([]string{}, cmd...), cursor, "COUNT", "25")
				next, items := scanReply(t, conns[pages%2].do(args...))
				pages++
				step := 1
				if cmd[0] == "HSCAN" || cmd[0] == "ZSCAN" {
					step = 2 // field (member) then value (score)
				}
				for i := 0; i < len(items); i += step {
					seen[items[i]]++
				}
				// Elements that were not there when the scan began come
				// and go between pages.
				churn := "churn" + strconv.Itoa(pages)
				switch cmd[0] {
				case "SCAN":
					w.do("SET", churn, "x")
					w.do("DEL", "churn"+strconv.Itoa(pages-1))
				case "HSCAN":
					w.do("HSET", "h", churn, "x")
					w.do("HDEL", "h", "churn"+strconv.Itoa(pages-1))
				case "SSCAN":
					w.do("SADD", "s", churn)
					w.do("SREM", "s", "churn"+strconv.Itoa(pages-1))
				case "ZSCAN":
					w.do("ZADD", "z", "-1", churn)
					w.do("ZREM", "z", "churn"+strconv.Itoa(pages-1))
				}
				if next == "0" {
					break
				}
				if pages > 10*stable {
					t.Fatal("the scan does not end")
				}
				cursor = next
			}
			prefix := "m"
			switch cmd[0] {
			case "SCAN":
				prefix = "k:"
			case "HSCAN":
				prefix = "f"
			}
			for i := range stable {
				if seen[prefix+strconv.Itoa(i)] == 0 {
					t.Fatalf("%s%d was never returned (%d pages)", prefix, i, pages)
				}
			}
			if pages < stable/25 {
				t.Fatalf("%d pages of at most 25 for %d elements", pages, stable)
			}
		})
	}
}

// TestSmallCollectionsOnePage: up to 128 elements, HSCAN/SSCAN/ZSCAN
// answer everything at once with cursor 0, as Redis's compact encodings
// do, whatever COUNT says.
func TestSmallCollectionsOnePage(t *testing.T) {
	_, addr := door(t, Config{})
	c := dial(t, addr)
	for i := range 100 {
		c.do("SADD", "s", strconv.Itoa(i))
	}
	cursor, items := scanReply(t, c.do("SSCAN", "s", "0", "COUNT", "5"))
	if cursor != "0" || len(items) != 100 {
		t.Fatalf("cursor %s, %d items", cursor, len(items))
	}
}

// TestExpiredCursorRefused: past --resp-scan-cursors, the oldest cursor is
// forgotten and refused rather than starting the scan over.
func TestExpiredCursorRefused(t *testing.T) {
	_, addr := door(t, Config{ScanCursors: 2})
	c := dial(t, addr)
	for i := range 10 {
		c.do("SET", "k"+strconv.Itoa(i), "v")
	}
	first, _ := scanReply(t, c.do("SCAN", "0", "COUNT", "2"))
	c.do("SCAN", "0", "COUNT", "2")
	if got := c.do("SCAN", first, "COUNT", "2"); !strings.HasPrefix(got, "*2\r\n") {
		t.Fatalf("a remembered cursor: %q", got)
	}
	c.do("SCAN", "0", "COUNT", "2")
	c.do("SCAN", "0", "COUNT", "2")
	if got := c.do("SCAN", first, "COUNT", "2"); !strings.HasPrefix(got, "-ERR unknown or expired SCAN cursor") {
		t.Fatalf("an expired cursor: %q", got)
	}
}
