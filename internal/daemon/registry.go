package daemon

import (
	"context"

	regtypes "github.com/moby/moby/api/types/registry"

	"github.com/berth-engine/berth/internal/registry"
	"github.com/berth-engine/berth/internal/version"
)

// newRegistry builds the distribution client from the registry settings:
// mirrors, insecure registries, the certificates directory.
func (d *Daemon) newRegistry() (*registry.Service, error) {
	return registry.New(registry.Config{
		Mirrors:   d.cfg.RegistryMirrors,
		Insecure:  d.cfg.InsecureRegistries,
		CertsDir:  d.cfg.RegistryCertsDir,
		UserAgent: "berth/" + version.Version,
	})
}

// AuthenticateToRegistry serves POST /auth: it checks the credentials
// against the registry and stores nothing (the client keeps them).
func (d *Daemon) AuthenticateToRegistry(ctx context.Context, a *regtypes.AuthConfig) (regtypes.AuthResponse, error) {
	status, token, err := d.registry.Login(ctx, a)
	if err != nil {
		return regtypes.AuthResponse{}, err
	}
	return regtypes.AuthResponse{Status: status, IdentityToken: token}, nil
}
