package registry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/registry"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// Commands are login and logout.
func Commands(c *cli.CLI) []cli.Lazy {
	return []cli.Lazy{
		{Name: "login", New: func() *cobra.Command { return NewLoginCommand(c) }},
		{Name: "logout", New: func() *cobra.Command { return NewLogoutCommand(c) }},
	}
}

// LoginOptions are the flags of `berth login`.
type LoginOptions struct {
	Server        string
	Username      string
	Password      string
	PasswordStdin bool
}

// NewLoginCommand returns `berth login`.
func NewLoginCommand(c *cli.CLI) *cobra.Command {
	var opts LoginOptions
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry",
		Long:  "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
		Args:  cli.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.Server = args[0]
			}
			return RunLogin(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Username, "username", "u", "", "Username")
	f.StringVarP(&opts.Password, "password", "p", "", "Password or Personal Access Token (PAT)")
	f.BoolVar(&opts.PasswordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

// RunLogin checks the credentials through the daemon (POST /auth) and
// stores them as docker does.
func RunLogin(ctx context.Context, c *cli.CLI, opts LoginOptions) error {
	if opts.Password != "" {
		fmt.Fprintln(c.Err, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
		if opts.PasswordStdin {
			return errors.New("--password and --password-stdin are mutually exclusive")
		}
	}
	if opts.PasswordStdin {
		if opts.Username == "" {
			return errors.New("Must provide --username with --password-stdin")
		}
		data, err := io.ReadAll(c.In)
		if err != nil {
			return err
		}
		opts.Password = strings.TrimRight(string(data), "\r\n")
	}
	server := opts.Server
	if server == "" || hostOf(server) == "docker.io" {
		server = IndexServer
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	// With no credentials given, try the stored ones first, as docker does.
	if opts.Username == "" && opts.Password == "" {
		if ac, ok, _ := Get(server); ok {
			res, err := cl.RegistryLogin(ctx, client.RegistryLoginOptions{Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken, ServerAddress: server})
			if err == nil {
				fmt.Fprintln(c.Out, "Authenticating with existing credentials...")
				return finishLogin(c, server, ac, res)
			}
		}
	}
	if opts.Username == "" {
		u, err := prompt(c, "Username: ", false)
		if err != nil {
			return err
		}
		opts.Username = strings.TrimSpace(u)
		if opts.Username == "" {
			return errors.New("Error: Non-null Username Required")
		}
	}
	if opts.Password == "" {
		p, err := prompt(c, "Password: ", true)
		if err != nil {
			return err
		}
		opts.Password = p
		if opts.Password == "" {
			return errors.New("Error: Password Required")
		}
	}
	ac := registry.AuthConfig{Username: opts.Username, Password: opts.Password, ServerAddress: server}
	res, err := cl.RegistryLogin(ctx, client.RegistryLoginOptions{Username: ac.Username, Password: ac.Password, ServerAddress: server})
	if err != nil {
		return err
	}
	return finishLogin(c, server, ac, res)
}

func finishLogin(c *cli.CLI, server string, ac registry.AuthConfig, res client.RegistryLoginResult) error {
	if res.Auth.IdentityToken != "" {
		ac.Password, ac.IdentityToken = "", res.Auth.IdentityToken
	}
	if err := Store(server, ac); err != nil {
		return fmt.Errorf("error saving credentials: %w", err)
	}
	status := res.Auth.Status
	if status == "" {
		status = "Login Succeeded"
	}
	fmt.Fprintln(c.Out, status)
	return nil
}

// prompt reads one line from the CLI's input; a secret is read with the
// terminal's echo off.
func prompt(c *cli.CLI, label string, secret bool) (string, error) {
	fd, isTerm := term.GetFdInfo(c.In)
	if !isTerm && secret {
		return "", errors.New("Error: Cannot perform an interactive login from a non TTY device")
	}
	fmt.Fprint(c.Out, label)
	if secret && isTerm {
		state, err := term.SaveState(fd)
		if err == nil {
			_ = term.DisableEcho(fd, state)
			defer func() {
				_ = term.RestoreTerminal(fd, state)
				fmt.Fprintln(c.Out)
			}()
		}
	}
	line, err := bufio.NewReader(c.In).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("Error: Cannot perform an interactive login from a non TTY device")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// NewLogoutCommand returns `berth logout`.
func NewLogoutCommand(c *cli.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Long:  "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
		Args:  cli.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := IndexServer
			if len(args) > 0 && hostOf(args[0]) != "docker.io" {
				server = args[0]
			}
			return RunLogout(c, server)
		},
	}
}

// RunLogout removes the stored credentials for server.
func RunLogout(c *cli.CLI, server string) error {
	found, err := Erase(server)
	if err != nil {
		return err
	}
	if !found {
		fmt.Fprintf(c.Out, "Not logged in to %s\n", server)
		return nil
	}
	fmt.Fprintf(c.Out, "Removing login credentials for %s\n", server)
	return nil
}
