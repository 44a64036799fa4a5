// Command troupe runs the Troupe server: every front door on its default
// address, with the durable store in ./troupe-data, unless told otherwise.
// Run `troupe --help` for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/lmittmann/tint"
	"github.com/oklog/run"

	"github.com/troupe-run/troupe/gateway/hub"
	"github.com/troupe-run/troupe/system"
)

func main() {
	os.Exit(serve(os.Args[1:]))
}

func serve(args []string) int {
	cfg, err := system.LoadConfig(args, os.LookupEnv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "troupe:", err)
		return 2
	}
	// The hub door streams the server's log (GET /api/v1/log): every record
	// also goes to its bounded ring.
	logs := hub.NewLogTap(cfg.HubLogBuffer)
	log := slog.New(logs.Wrap(newHandler(cfg)))
	tuneGC(cfg, log)
	if err := runServer(cfg, log, logs); err != nil {
		log.Error("troupe stopped", "err", err)
		return 1
	}
	log.Info("troupe stopped")
	return 0
}

func runServer(cfg system.Config, log *slog.Logger, logs *hub.LogTap) error {
	socks, err := bind(cfg)
	if err != nil {
		return err
	}
	sys, err := system.Boot(cfg, log)
	if err != nil {
		return errors.Join(err, socks.close())
	}
	start := time.Now()
	member, err := newMember(sys)
	if err != nil {
		return errors.Join(err, sys.Close(), socks.close())
	}
	d, err := startDomains(sys, socks, logs)
	if err != nil {
		return errors.Join(err, sys.Close(), socks.close())
	}
	if err := member.join(); err != nil {
		err = errors.Join(err, sys.Close(), socks.close())
		d.close()
		return err
	}
	log.Info("troupe started", "version", system.Version, "data_dir", cfg.DataDir, "fsync", cfg.Fsync,
		"shards", cfg.Shards, "took", time.Since(start))

	var (
		g        run.Group
		servers  sync.WaitGroup
		stop     = make(chan struct{})
		stopOnce sync.Once
	)
	shutdown := func() { stopOnce.Do(func() { close(stop) }) }
	// fatal is what ended the process when it did not end on a signal:
	// the group's first actor to return, which it reports, is then the
	// one that waits for stop, with no error.
	var fatal error
	if err := d.listen(&g, &servers, shutdown); err != nil {
		err = errors.Join(err, sys.Close(), socks.close())
		d.close()
		return err
	}

	// The system runs until a signal, admin.shutdown or a fatal failure;
	// then it waits for the listeners to finish their in-flight requests,
	// stops the actors and flushes the store.
	g.Add(func() error {
		var err error
		select {
		case err = <-sys.Fatal():
			fatal = err
			shutdown() // the doors drain and close, as on a signal
		case <-stop:
		}
		servers.Wait()
		err = errors.Join(err, sys.Close())
		d.close()
		return err
	}, func(error) { shutdown() })
	g.Add(func() error {
		<-stop
		return nil
	}, func(error) { shutdown() })
	g.Add(run.SignalHandler(context.Background(), os.Interrupt, syscall.SIGTERM))

	err = g.Run()
	if fatal != nil {
		return errors.Join(fatal, err)
	}
	if errors.Is(err, run.ErrSignal) {
		log.Info("shut down on signal", "signal", err.Error())
		return nil
	}
	return err
}

// serverLimits are a door's http.Server timeouts (the --http-* flags) and
// how long its shutdown waits for in-flight requests.
type serverLimits struct {
	readHeader, read, idle, drain time.Duration
}

func limits(c system.Config) serverLimits {
	return serverLimits{readHeader: c.HTTPReadHeaderTimeout, read: c.HTTPReadTimeout, idle: c.HTTPIdleTimeout, drain: c.DrainTimeout}
}

// streamingBodies lifts the read timeout, for a door whose requests may
// send their bodies for longer (the hub's package uploads, instance inputs
// and topic producers): the header timeout still bounds a slow client.
// (A request without a body, or whose body is read, may last: net/http
// lifts the read deadline while it only watches for the client's hang-up,
// so long polls and event streams need no such exemption.)
func (l serverLimits) streamingBodies() serverLimits {
	l.read = 0
	return l
}

// listenAddr binds addr now (so a taken port fails the start) and serves
// h on it.
func listenAddr(g *run.Group, servers *sync.WaitGroup, door, addr string, h http.Handler, drain func(),
	lim serverLimits, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s door: %w", door, err)
	}
	serveHTTP(g, servers, door, ln, h, drain, lim, log)
	return nil
}

// serveHTTP adds the server of a door to the group. On interrupt the door
// drains (new requests get 503) and the server waits up to lim.drain for
// in-flight requests.
func serveHTTP(g *run.Group, servers *sync.WaitGroup, door string, ln net.Listener, h http.Handler, drain func(),
	lim serverLimits, log *slog.Logger) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.readHeader,
		ReadTimeout:       lim.read,
		IdleTimeout:       lim.idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("front door listening", "door", door, "addr", ln.Addr().String())
	servers.Add(1)
	done := make(chan struct{})
	g.Add(func() error {
		defer servers.Done()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		<-done // Serve returns at once on Shutdown; in-flight requests end later
		return nil
	}, func(error) {
		drain()
		ctx, cancel := context.WithTimeout(context.Background(), lim.drain)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("in-flight requests cut off", "door", door, "err", err)
			srv.Close()
		}
		close(done)
	})
}

func newHandler(cfg system.Config) slog.Handler {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // checked by LoadConfig
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "text"
		}
	}
	if format == "text" {
		return tint.NewTextHandler(os.Stderr, &tint.Options{Level: level, TimeFormat: time.TimeOnly})
	}
	return slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
}
