package resp

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkDoor drives the door as redis-benchmark does: connections
// (b.RunParallel's goroutines, 8 per core) each sending one command and
// waiting for its reply (P1), or 16 at a time (P16), on the real shards,
// memory only and durable (--fsync batch). For profiles of the door's hot path:
// go test -run X -bench Door -cpuprofile cpu.out ./gateway/resp.
func BenchmarkDoor(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		_, addr := door(b, Config{})
		benchDoor(b, addr)
	})
	b.Run("durable", func(b *testing.B) {
		_, addr := door(b, Config{}, "--data-dir="+b.TempDir(), "--fsync=batch")
		benchDoor(b, addr)
	})
}

func benchDoor(b *testing.B, addr string) {
	var keys atomic.Int64
	for _, cmd := range []string{"SET", "GET", "LPUSH", "INCR"} {
		for _, depth := range []int{1, 16} {
			b.Run(cmd+"/P"+strconv.Itoa(depth), func(b *testing.B) {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					nc, err := net.Dial("tcp", addr)
					if err != nil {
						b.Error(err)
						return
					}
					defer nc.Close()
					rd := bufio.NewReader(nc)
					var batch []byte
					var out strings.Builder
					n := 0
					for more := true; more; {
						more = pb.Next()
						if more {
							key := "key:" + strconv.FormatInt(keys.Add(1)%100000, 10)
							switch cmd {
							case "SET":
								batch = append(batch, encodeCommand("SET", key, "xxx")...)
							case "LPUSH":
								batch = append(batch, encodeCommand("LPUSH", "mylist", "xxx")...)
							default:
								batch = append(batch, encodeCommand(cmd, key)...)
							}
							n++
						}
						if n == 0 || (more && n < depth) {
							continue
						}
						if _, err := nc.Write(batch); err != nil {
							b.Error(err)
							return
						}
						for range n {
							out.Reset()
							if err := readReply(rd, &out); err != nil {
								b.Error(err)
								return
							}
						}
						batch, n = batch[:0], 0
					}
				})
			})
		}
	}
}
