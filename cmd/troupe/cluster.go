package main

import (
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/cluster"
)

// member is this process's membership of a cluster; nil on one node.
type member struct{ node *cluster.Node }

// newMember prepares cluster mode when --cluster-name is set: it must run
// before the domains start (they route through the cluster from then on),
// and join after, once they can host the actors the cluster places here.
func newMember(sys *system.System) (*member, error) {
	if sys.Config.ClusterName == "" {
		return &member{}, nil
	}
	node, err := cluster.New(sys)
	if err != nil {
		return nil, err
	}
	return &member{node: node}, nil
}

func (m *member) join() error {
	if m.node == nil {
		return nil
	}
	return m.node.Join()
}
