package system

import "context"

// Placement routes requests to the actors a cluster places over its
// members: the KV shards ("data/shard-3"), queues ("queues/tasks") and
// rooms ("rooms/chat"). It is nil on one node, where the domains ask their
// own actors through the registry, as fast as before; the cluster package
// sets it before the domains start.
type Placement interface {
	// Ask sends msg to the named actor on whichever member holds it and
	// waits for the reply until ctx ends (at most --request-timeout when
	// ctx has no deadline). A request that reached no actor (its member
	// died, or handed it over) is sent again to the actor's new place; one
	// that may have been handled is not.
	Ask(ctx context.Context, name string, msg any) (any, error)
	// Tell sends msg to the named actor without waiting.
	Tell(name string, msg any)
	// Others sends msg to the actor of that name on every other member (a
	// per-member actor such as "pubsub/router") and returns the replies
	// of those that answered before ctx ended.
	Others(ctx context.Context, name string, msg any) []any
	// Status is the membership as /health shows it: "operational: ..."
	// with the members and the actors this one holds, or what is wrong.
	Status() string
	// Leave hands this member's actors over to the others (graceful
	// leave). System.Close calls it before it stops the domains.
	Leave()
}
