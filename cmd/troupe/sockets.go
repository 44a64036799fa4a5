package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/troupe-run/troupe/system"
)

// sockets are the listeners of the front doors whose addresses are
// configured, bound before anything else starts: a taken port fails the
// start before the store is opened, and what the server tells others of
// its own addresses (this.hub to sequences, the url it registers with a
// scheduler) is the bound address, port 0 included. A nil listener is a
// door that is off. The reactive doors bind later: their ports may come
// from the service module.
type sockets struct {
	data, ssp, hub, resp, synapRPC, admin net.Listener
}

func bind(c system.Config) (*sockets, error) {
	s := &sockets{}
	rpcAddr := c.SynapRPCAddr
	if !system.Enabled(c.DataAddr) {
		rpcAddr = "off" // the SynapRPC door runs the data door's commands
	}
	for _, door := range []struct {
		name, addr string
		ln         *net.Listener
	}{
		{"data", c.DataAddr, &s.data},
		{"ssp", c.SSPAddr, &s.ssp},
		{"hub", c.HubAddr, &s.hub},
		{"resp", c.RESPAddr, &s.resp},
		{"synap-rpc", rpcAddr, &s.synapRPC},
		{"admin", c.AdminAddr, &s.admin},
	} {
		if !system.Enabled(door.addr) {
			continue
		}
		ln, err := net.Listen("tcp", door.addr)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s door: %w", door.name, err), s.close())
		}
		*door.ln = ln
	}
	return s, nil
}

// close closes every listener; a server that took one closes it too,
// and the second close's error means nothing then.
func (s *sockets) close() error {
	var errs []error
	for _, ln := range []net.Listener{s.data, s.ssp, s.hub, s.resp, s.synapRPC, s.admin} {
		if ln != nil {
			if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// addr is a bound listener's address; "" for a door that is off.
func addr(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}
