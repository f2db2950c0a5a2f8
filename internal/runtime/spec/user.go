package spec

import (
	"fmt"
	"slices"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/errdefs"
)

// ResolveUser resolves docker's -u ("", name, uid, uid:gid, name:group) and
// --group-add against the image's own /etc/passwd and /etc/group under rootfs
// (never the host's), returning the OCI user with supplementary groups and
// the user's home directory. The daemon uses it for exec processes too.
func ResolveUser(rootfs, userSpec string, groupAdd []string) (specs.User, string, error) {
	// SecureJoin keeps a symlinked /etc/passwd inside the rootfs.
	passwd, err := securejoin.SecureJoin(rootfs, "/etc/passwd")
	if err != nil {
		return specs.User{}, "", err
	}
	group, err := securejoin.SecureJoin(rootfs, "/etc/group")
	if err != nil {
		return specs.User{}, "", err
	}
	defaults := &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	eu, err := user.GetExecUserPath(userSpec, defaults, passwd, group)
	if err != nil {
		return specs.User{}, "", errdefs.InvalidParameter(fmt.Errorf("unable to find user %s: %w", userSpec, err))
	}
	u := specs.User{UID: uint32(eu.Uid), GID: uint32(eu.Gid)}
	gids := eu.Sgids
	if len(groupAdd) > 0 {
		extra, err := user.GetAdditionalGroupsPath(groupAdd, group)
		if err != nil {
			return specs.User{}, "", errdefs.InvalidParameter(err)
		}
		gids = append(gids, extra...)
	}
	seen := map[int]bool{}
	for _, g := range gids {
		if !seen[g] {
			seen[g] = true
			u.AdditionalGids = append(u.AdditionalGids, uint32(g))
		}
	}
	// GetAdditionalGroups answers in map order; sorted, equal requests give
	// equal specs.
	slices.Sort(u.AdditionalGids)
	return u, eu.Home, nil
}
