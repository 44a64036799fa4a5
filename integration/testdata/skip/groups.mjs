// Groups and active friends: "users" maps a user id to
// {name, active, friends: [ids]}, "groups" a group id to
// {name, members: [ids]}. The resource "activeFriends", with params {uid},
// maps each group to the members of it who are active friends of uid: a
// join through getArray on the users collection, passed to the mapper.
import { runService } from "@skipruntime/server";
import { Count } from "@skipruntime/helpers";

class ActiveMembers {
  constructor(users, uid) {
    this.users = users;
    this.uid = uid;
  }
  mapEntry(gid, groups) {
    const me = this.users.getArray(this.uid)[0];
    const friends = new Set(me?.friends ?? []);
    const out = [];
    for (const group of groups) {
      for (const member of group.members) {
        if (!friends.has(member)) continue;
        for (const u of this.users.getArray(member)) {
          if (u.active) out.push([gid, member]);
        }
      }
    }
    return out;
  }
}

class Names {
  mapEntry(uid, users) {
    return users.toArray().map((u) => [u.name, uid]);
  }
}

class Memberships {
  mapEntry(gid, groups) {
    const out = [];
    for (const g of groups) for (const m of g.members) out.push([m, gid]);
    return out;
  }
}

class ActiveFriendsResource {
  constructor(params) {
    this.uid = params.uid;
  }
  instantiate(cs) {
    return cs.groups.map(ActiveMembers, cs.users, this.uid);
  }
}

class NamesResource {
  instantiate(cs) {
    return cs.users.map(Names);
  }
}

class GroupCountResource {
  instantiate(cs) {
    return cs.groups.map(Memberships).reduce(Count);
  }
}

const service = {
  initialData: {
    users: [
      [1, [{ name: "ada", active: true, friends: [2, 3] }]],
      [2, [{ name: "bob", active: true, friends: [1] }]],
      [3, [{ name: "cy", active: false, friends: [1, 2] }]],
    ],
    groups: [[100, [{ name: "all", members: [1, 2, 3] }]]],
  },
  resources: {
    activeFriends: ActiveFriendsResource,
    names: NamesResource,
    groupCount: GroupCountResource,
  },
  createGraph(inputs) {
    return inputs;
  },
};

const env = globalThis.process?.env ?? {};
await runService(service, {
  control_port: Number(env.SKIP_CONTROL_PORT ?? 8081),
  streaming_port: Number(env.SKIP_STREAMING_PORT ?? 8080),
});
