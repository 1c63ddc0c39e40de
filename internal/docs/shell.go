package docs

import (
	"fmt"
	"io"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// Command is one simple command of a shell block or transcript line, its words expanded as a
// POSIX shell would (quotes removed), variables and command substitutions standing in as
// placeholders.
type Command struct {
	// Line is the command's line within the text it was read from, from 1.
	Line int
	// Env holds the assignments written before the command (FOO=1 cmd).
	Env  map[string]string
	Args []string
}

// Placeholder is what a variable or a command substitution expands to when Commands is given no
// value for it: a word that any argument parser takes as a value.
const Placeholder = "PLACEHOLDER"

// Commands parses a shell script (a block of a page) and returns every simple command in it, in
// order, those inside pipelines, lists, subshells and command substitutions ($(…)) included.
// vars gives the variables their values; others, and command substitutions, expand to
// Placeholder.
func Commands(script string, vars map[string]string) ([]Command, error) {
	f, err := syntax.NewParser(syntax.KeepComments(false)).Parse(strings.NewReader(script), "")
	if err != nil {
		return nil, err
	}
	cfg := &expand.Config{
		Env: placeholderEnv(vars),
		CmdSubst: func(w io.Writer, _ *syntax.CmdSubst) error {
			_, err := io.WriteString(w, Placeholder)
			return err
		},
	}
	var (
		cmds    []Command
		walkErr error
	)
	syntax.Walk(f, func(n syntax.Node) bool {
		call, ok := n.(*syntax.CallExpr)
		if !ok || len(call.Args) == 0 || walkErr != nil {
			return walkErr == nil
		}
		args, err := expand.Fields(cfg, call.Args...)
		if err != nil {
			walkErr = fmt.Errorf("line %d: %w", call.Pos().Line(), err)
			return false
		}
		c := Command{Line: int(call.Pos().Line()), Args: args, Env: map[string]string{}}
		for _, a := range call.Assigns {
			v := ""
			if a.Value != nil {
				if v, err = expand.Literal(cfg, a.Value); err != nil {
					walkErr = fmt.Errorf("line %d: %w", call.Pos().Line(), err)
					return false
				}
			}
			c.Env[a.Name.Value] = v
		}
		cmds = append(cmds, c)
		return true // command substitutions in the arguments hold commands too
	})
	return cmds, walkErr
}

// placeholderEnv is an environment where every variable is set: to its value in vars, else to
// Placeholder.
type placeholderEnv map[string]string

func (e placeholderEnv) Get(name string) expand.Variable {
	v, ok := e[name]
	if !ok {
		v = Placeholder
	}
	return expand.Variable{Set: true, Kind: expand.String, Str: v}
}

func (e placeholderEnv) Each(f func(name string, vr expand.Variable) bool) {
	for name, v := range e {
		if !f(name, expand.Variable{Set: true, Kind: expand.String, Str: v}) {
			return
		}
	}
}
