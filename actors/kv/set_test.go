package kv

import (
	"slices"
	"testing"

	pb "github.com/troupe-run/troupe/messages"
)

func sreq(op pb.DataOp, key string, members ...string) *pb.DataRequest {
	r := &pb.DataRequest{Op: op, Key: key, Members: members}
	if len(members) == 1 {
		r.Member = members[0]
	}
	return r
}

func TestSet(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "add and read", steps: []step{
			{req: sreq(pb.DataOp_SET_ADD, "s", "b", "a", "b"), want: &pb.DataReply{Ok: true, Integer: 2}},
			{req: sreq(pb.DataOp_SET_ADD, "s", "a", "c", "", "\x00"), want: &pb.DataReply{Ok: true, Integer: 3}},
			{req: sreq(pb.DataOp_SET_MEMBERS, "s"), want: &pb.DataReply{Found: true, Keys: []string{"", "\x00", "a", "b", "c"}}},
			{req: sreq(pb.DataOp_SET_CARD, "s"), want: &pb.DataReply{Found: true, Integer: 5}},
			{req: sreq(pb.DataOp_SET_ISMEMBER, "s", "a"), want: &pb.DataReply{Found: true}},
			{req: sreq(pb.DataOp_SET_ISMEMBER, "s", "z"), want: &pb.DataReply{}},
			{req: sreq(pb.DataOp_SET_ISMEMBER, "s", ""), want: &pb.DataReply{Found: true}},
		}},
		{name: "rem to empty", steps: []step{
			{req: sreq(pb.DataOp_SET_ADD, "s", "a", "b")},
			{req: sreq(pb.DataOp_SET_REM, "s", "a", "z", "a"), want: &pb.DataReply{Ok: true, Integer: 1}},
			{req: sreq(pb.DataOp_SET_REM, "s", "b"), want: &pb.DataReply{Ok: true, Integer: 1}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Key: "s"}, want: &pb.DataReply{}},
		}},
		{name: "missing", steps: []step{
			{req: sreq(pb.DataOp_SET_MEMBERS, "s"), want: &pb.DataReply{}},
			{req: sreq(pb.DataOp_SET_CARD, "s"), want: &pb.DataReply{}},
			{req: sreq(pb.DataOp_SET_ISMEMBER, "s", "a"), want: &pb.DataReply{}},
			{req: sreq(pb.DataOp_SET_REM, "s", "a"), want: &pb.DataReply{}},
			{req: sreq(pb.DataOp_SET_POP, "s"), want: &pb.DataReply{}},
			{req: sreq(pb.DataOp_SET_RANDMEMBER, "s"), want: &pb.DataReply{}},
		}},
		{name: "invalid", steps: []step{
			{req: sreq(pb.DataOp_SET_ADD, "s"), want: errReply(pb.CodeInvalid)},
			{req: sreq(pb.DataOp_SET_ADD, "s", "a")},
			{req: &pb.DataRequest{Op: pb.DataOp_SET_POP, Key: "s", Count: -1}, want: errReply(pb.CodeInvalid)},
			{req: &pb.DataRequest{Op: pb.DataOp_SET_RANDMEMBER, Key: "s", Count: -maxRandomMembers - 1}, want: errReply(pb.CodeInvalid)},
			{req: sreq(pb.DataOp_SET_CARD, "s"), want: &pb.DataReply{Found: true, Integer: 1}},
		}},
		{name: "pop or draw everything", steps: []step{
			{req: sreq(pb.DataOp_SET_ADD, "s", "a", "b", "c")},
			{req: &pb.DataRequest{Op: pb.DataOp_SET_RANDMEMBER, Key: "s", Count: 3}, want: &pb.DataReply{Found: true, Keys: []string{"a", "b", "c"}}},
			{req: &pb.DataRequest{Op: pb.DataOp_SET_RANDMEMBER, Key: "s", Count: 10}, want: &pb.DataReply{Found: true, Keys: []string{"a", "b", "c"}}},
			{req: &pb.DataRequest{Op: pb.DataOp_SET_POP, Key: "s", Count: 10}, want: &pb.DataReply{Ok: true, Found: true, Keys: []string{"a", "b", "c"}}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Key: "s"}, want: &pb.DataReply{}},
		}},
	})
}

// Random picks cannot be tabled; check what they must satisfy instead.
func TestSetRandom(t *testing.T) {
	all := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, count := range []int64{0, 1, 3, 7} {
		s := NewShard(testPrefix, nil)
		j := mapJournal{}
		s.Apply(t0, sreq(pb.DataOp_SET_ADD, "s", all...), j)

		want := max(count, 1)
		got := s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_SET_RANDMEMBER, Key: "s", Count: count}, j).GetKeys()
		if int64(len(got)) != want || !distinctMembers(got, all) {
			t.Fatalf("randmember %d gave %q", count, got)
		}
		popped := s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_SET_POP, Key: "s", Count: count}, j).GetKeys()
		if int64(len(popped)) != want || !distinctMembers(popped, all) {
			t.Fatalf("pop %d gave %q", count, popped)
		}
		left := s.Apply(t0, sreq(pb.DataOp_SET_MEMBERS, "s"), j).GetKeys()
		if len(left)+len(popped) != len(all) {
			t.Fatalf("pop %d: %q popped, %q left", count, popped, left)
		}
		for _, m := range popped {
			if slices.Contains(left, m) {
				t.Fatalf("pop %d: %q popped but still a member", count, m)
			}
		}
		checkInvariants(t, s)
		checkRestore(t, s, j)
	}

	// A negative count draws that many times, repeats allowed.
	s := NewShard(testPrefix, nil)
	s.Apply(t0, sreq(pb.DataOp_SET_ADD, "s", "x", "y"), mapJournal{})
	got := s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_SET_RANDMEMBER, Key: "s", Count: -50}, mapJournal{}).GetKeys()
	if len(got) != 50 {
		t.Fatalf("randmember -50 gave %d members", len(got))
	}
	for _, m := range got {
		if m != "x" && m != "y" {
			t.Fatalf("randmember -50 gave %q", m)
		}
	}
}

func distinctMembers(got, all []string) bool {
	seen := map[string]bool{}
	for _, m := range got {
		if seen[m] || !slices.Contains(all, m) {
			return false
		}
		seen[m] = true
	}
	return true
}
