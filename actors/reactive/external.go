package reactive

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/dop251/goja"

	"github.com/troupe-run/troupe/actors/reactive/engine"
)

// useExternal makes the collection of an external resource: an input
// node fed by Go (polling or another Skip service's stream) once the
// owning actor starts it.
func (r *runtime) useExternal(service, identifier, params string) int {
	hook, _ := goja.AssertFunction(r.hooks.Get("externalService"))
	svc, err := r.call(hook, r.service, r.rt.ToValue(service))
	if err != nil {
		r.throwUser(err)
	}
	if goja.IsNull(svc) || goja.IsUndefined(svc) {
		r.throw(fmt.Errorf("useExternalResource: the service declares no external service %q", service))
	}
	obj := svc.ToObject(r.rt)
	kind := obj.Get("__troupeKind")
	if kind == nil || goja.IsUndefined(kind) {
		return r.useCustom(service, obj, identifier, params)
	}
	sub, _ := goja.AssertFunction(r.hooks.Get("subscribe"))
	spec, err := r.call(sub, obj, r.rt.ToValue(identifier), r.rt.ToValue(params))
	if err != nil {
		r.throwUser(err)
	}
	n := r.eng.NewInput("external:" + service + "/" + identifier)
	r.externals = append(r.externals, externalUse{node: n, service: service, identifier: identifier, params: params, spec: spec.ToObject(r.rt), kind: kind.String()})
	return r.handle(n)
}

// customSub is a subscription to an external service written in
// JavaScript (its own subscribe, driven by its timers or fetches).
type customSub struct {
	svc      *goja.Object
	instance string
}

// useCustom subscribes to a user-written ExternalService: its update
// callback posts the entries to the owning actor, which applies them as a
// write of their own.
func (r *runtime) useCustom(service string, obj *goja.Object, identifier, params string) int {
	if _, ok := goja.AssertFunction(obj.Get("subscribe")); !ok {
		r.throw(fmt.Errorf("useExternalResource: external service %q has no subscribe method", service))
	}
	n := r.eng.NewInput("external:" + service + "/" + identifier)
	h := r.handle(n)
	r.customSeq++
	instance := fmt.Sprintf("troupe-%s-%d", service, r.customSeq)
	hook, _ := goja.AssertFunction(r.hooks.Get("subscribeCustom"))
	if _, err := r.call(hook, obj, r.rt.ToValue(instance), r.rt.ToValue(identifier), r.rt.ToValue(params), r.rt.ToValue(h)); err != nil {
		r.throwUser(err)
	}
	r.customs = append(r.customs, customSub{svc: obj, instance: instance})
	return h
}

// unsubscribeAll ends the custom subscriptions of a runtime being closed.
func (r *runtime) unsubscribeAll() {
	for _, c := range r.customs {
		if f, ok := goja.AssertFunction(c.svc.Get("unsubscribe")); ok {
			if _, err := r.call(func(this goja.Value, args ...goja.Value) (goja.Value, error) {
				return f(c.svc, args...)
			}, r.rt.ToValue(c.instance)); err != nil {
				r.log.Warn("external service unsubscribe threw", "err", err)
			}
		}
	}
	r.customs = nil
}

// externals runs the Go side of an actor's external resources: one
// goroutine per resource, owned by the actor (stop ends them all).
type externals struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// externalFetched carries a polled reply to the owning actor, which hands
// it to the resource's conv function in its own runtime.
type externalFetched struct {
	use  int
	body string
	init bool
}

func (x *externals) stop() {
	if x == nil {
		return
	}
	x.cancel()
	x.wg.Wait()
}

// startExternals starts the resources rt's code asked for.
func startExternals(s *Service, self *actor.PID, rt *runtime) *externals {
	if len(rt.externals) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &externals{cancel: cancel}
	for i, use := range rt.externals {
		x.wg.Add(1)
		switch use.kind {
		case "polled":
			url := use.spec.Get("url").String()
			interval := time.Duration(use.spec.Get("interval").ToInteger()) * time.Millisecond
			if interval < 10*time.Millisecond {
				interval = 10 * time.Millisecond
			}
			timeout := time.Duration(use.spec.Get("timeout").ToInteger()) * time.Millisecond
			headers, _ := json.Marshal(use.spec.Get("headers").Export())
			go func() {
				defer x.wg.Done()
				first := true
				for {
					status, body, _, err := httpFetchCtx(ctx, url, "GET", string(headers), nil, timeout)
					switch {
					case ctx.Err() != nil:
						return
					case err != nil:
						s.log.Warn("external resource poll failed", "url", url, "err", err)
					case status < 200 || status >= 300:
						s.log.Warn("external resource poll failed", "url", url, "status", status)
					default:
						s.sys.Root.Send(self, &externalFetched{use: i, body: body, init: first})
						first = false
					}
					select {
					case <-ctx.Done():
						return
					case <-time.After(interval):
					}
				}
			}()
		case "skip":
			go func() {
				defer x.wg.Done()
				followSkip(ctx, s, self, use)
			}()
		default:
			x.wg.Done()
		}
	}
	return x
}

// convert runs a polled resource's conv over a fetched body.
func (r *runtime) convert(f *externalFetched) (*externalUpdate, error) {
	if f.use < 0 || f.use >= len(r.externals) {
		return nil, fmt.Errorf("unknown external resource %d", f.use)
	}
	use := r.externals[f.use]
	conv := use.spec.Get("conv")
	if _, ok := goja.AssertFunction(conv); !ok {
		return nil, fmt.Errorf("external resource %s/%s has no conv function", use.service, use.identifier)
	}
	body := f.body
	if strings.TrimSpace(body) == "" {
		body = "[]"
	}
	res, err := r.call(r.fCall, conv, r.rt.ToValue(body))
	if err != nil {
		return nil, err
	}
	entries, err := parseEntries(res.String())
	if err != nil {
		return nil, fmt.Errorf("conv of %s/%s: %w", use.service, use.identifier, err)
	}
	return &externalUpdate{node: use.node, entries: entries, init: true}, nil
}

// parseEntries reads [[key, [values...]], ...].
func parseEntries(text string) ([]engine.Entry, error) {
	var raw [][2]json.RawMessage
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("entries must be [key, [values...]] pairs: %v", err)
	}
	out := make([]engine.Entry, len(raw))
	for i, e := range raw {
		k, err := engine.Canonical(e[0])
		if err != nil {
			return nil, err
		}
		var vals []json.RawMessage
		if err := json.Unmarshal(e[1], &vals); err != nil {
			return nil, fmt.Errorf("values of %s: %v", k, err)
		}
		out[i] = engine.Entry{Key: k, Values: rawStrings(vals)}
	}
	return out, nil
}

// followSkip reads another Skip service's stream of (resource, params) and
// feeds its events to the owning actor, reconnecting after a failure.
func followSkip(ctx context.Context, s *Service, self *actor.PID, use externalUse) {
	url := use.spec.Get("url").String()
	control := use.spec.Get("control_url").String()
	resource := use.spec.Get("resource").String()
	for ctx.Err() == nil {
		if err := followOnce(ctx, s, self, use, control, url, resource); err != nil && ctx.Err() == nil {
			s.log.Warn("external Skip stream failed; reconnecting", "url", url, "resource", resource, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func followOnce(ctx context.Context, s *Service, self *actor.PID, use externalUse, control, url, resource string) error {
	body := use.params
	status, id, _, err := httpFetchCtx(ctx, control+"/v1/streams/"+resource, "POST", `{"Content-Type":"application/json"}`, &body, 10*time.Second)
	if err != nil {
		return err
	}
	if status != 201 && status != 200 {
		return fmt.Errorf("create stream: %d %s", status, id)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/v1/streams/"+strings.TrimSpace(id), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("subscribe: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" {
				entries, err := parseEntries(data)
				if err != nil {
					return err
				}
				s.sys.Root.Send(self, &externalUpdate{node: use.node, entries: entries, init: event == "init"})
			}
			event, data = "", ""
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(line[len("event:"):])
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(line[len("data:"):], " ")
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("the stream ended")
}
