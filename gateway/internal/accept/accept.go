// Package accept holds the TCP accept loop the doors that speak their own
// protocol over a raw listener share (the Redis-protocol and SynapRPC
// doors).
package accept

import (
	"errors"
	"net"
)

// Loop accepts connections on ln and hands each to serve, with Nagle's
// algorithm off (replies are written whole, and a pipelined client waits
// on each) and TCP keep-alives on (a peer that vanished is noticed). It
// returns nil once closing is closed (the door closes ln then), and any
// other error Accept gives but a timeout, which is retried.
func Loop(ln net.Listener, closing <-chan struct{}, serve func(net.Conn)) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-closing:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
			_ = tc.SetKeepAlive(true)
		}
		serve(nc)
	}
}
