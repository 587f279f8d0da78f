// compose-check loads a Compose file the way `docker compose config --quiet` does, with the
// Compose specification's own Go loader (compose-go): interpolation from the environment and
// an env file (a `${VAR:?message}` left unset is an error), the chosen profiles, and
// validation against the specification's JSON schema. It prints nothing and exits 0 when the
// file is valid; otherwise it prints the loader's error and exits 1.
//
// Usage: compose-check -f docker-compose.yml [-env-file .env.example] [-profile name]...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type profiles []string

func (p *profiles) String() string     { return strings.Join(*p, ",") }
func (p *profiles) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	file := flag.String("f", "docker-compose.yml", "the Compose file")
	envFile := flag.String("env-file", "", "an env file to interpolate from (after the environment)")
	var chosen profiles
	flag.Var(&chosen, "profile", "a profile to enable (repeatable)")
	flag.Parse()

	dir, err := filepath.Abs(filepath.Dir(*file))
	if err != nil {
		fail(err)
	}
	options := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(dir),
		cli.WithOsEnv,
		cli.WithProfiles(chosen),
	}
	if *envFile != "" {
		options = append(options, cli.WithEnvFiles(*envFile), cli.WithDotEnv)
	}
	opts, err := cli.NewProjectOptions([]string{*file}, options...)
	if err != nil {
		fail(err)
	}
	if _, err := cli.ProjectFromOptions(context.Background(), opts); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compose-check:", err)
	os.Exit(1)
}
