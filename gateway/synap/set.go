package synap

import (
	"github.com/troupe-run/troupe/messages"
)

var setCommands = []commandSpec{
	{"set.add", setAddRem(messages.DataOp_SET_ADD, "added")},
	{"set.rem", setAddRem(messages.DataOp_SET_REM, "removed")},
	{"set.members", setMembers},
	{"set.ismember", setIsMember},
	{"set.card", setCard},
	{"set.size", setCard},
	{"set.pop", setSample(messages.DataOp_SET_POP)},
	{"set.randmember", setSample(messages.DataOp_SET_RANDMEMBER)},
}

// set.add / set.rem {key, members} or {key, member} -> {key, added|removed}
func setAddRem(op messages.DataOp, counted string) command {
	return func(c *call) error {
		a, key, err := keyArgs(c)
		if err != nil {
			return err
		}
		members, err := a.members()
		if err != nil {
			return err
		}
		rep, err := c.do(&messages.DataRequest{Op: op, Key: key, Members: members})
		if err != nil {
			return err
		}
		c.out.Obj()
		c.out.Key("key")
		c.out.Str(key)
		c.out.Key(counted)
		c.out.Int(rep.Integer)
		c.out.EndObj()
		return nil
	}
}

// set.members {key} -> {key, members}
func setMembers(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_SET_MEMBERS)
	if err != nil {
		return err
	}
	return membersReply(c, rep.Keys)
}

func membersReply(c *call, members []string) error {
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(c.a.Key)
	c.out.Key("members")
	c.out.Strs(members)
	c.out.EndObj()
	return nil
}

// set.ismember {key, member} -> {key, is_member}
func setIsMember(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	member, err := a.member()
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_ISMEMBER, Key: key, Member: member})
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(key)
	c.out.Key("is_member")
	c.out.Bool(rep.Found)
	c.out.EndObj()
	return nil
}

// set.card {key} -> {key, cardinality, size}: Synap answers "size", its
// SDKs read "cardinality".
func setCard(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_SET_CARD)
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(c.a.Key)
	c.out.Key("cardinality")
	c.out.Int(rep.Integer)
	c.out.Key("size")
	c.out.Int(rep.Integer)
	c.out.EndObj()
	return nil
}

// set.pop / set.randmember {key, count = 1} -> {key, members}
func setSample(op messages.DataOp) command {
	return func(c *call) error {
		a, key, err := keyArgs(c)
		if err != nil {
			return err
		}
		count, err := countArg("count", a.Count, 1)
		if err != nil {
			return err
		}
		rep, err := c.do(&messages.DataRequest{Op: op, Key: key, Count: count})
		if err != nil {
			return err
		}
		return membersReply(c, rep.Keys)
	}
}
