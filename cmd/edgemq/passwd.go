package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"edgemq/gateway"
)

// runPasswd is `edgemq passwd FILE USER`: it adds or updates USER's entry
// in the password file FILE with an argon2id hash. On a terminal the
// password is asked twice without echo; otherwise one line is read from
// stdin (its line ending removed).
func runPasswd(args []string, stdin *os.File, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintf(stderr, "Usage: edgemq passwd FILE USER\n\nAdds or updates USER in the password file FILE (argon2id).\n"+
			"Asks for the password twice on a terminal, else reads one line from stdin.\n")
		return 2
	}
	var pw []byte
	var err error
	if fd := int(stdin.Fd()); term.IsTerminal(fd) {
		pw, err = promptTwice(fd, stderr)
	} else {
		pw, err = readLine(stdin)
	}
	if err == nil {
		err = gateway.SetPassword(args[0], args[1], pw)
	}
	clear(pw)
	if err != nil {
		fmt.Fprintf(stderr, "edgemq passwd: %v\n", err)
		return 1
	}
	return 0
}

func promptTwice(fd int, stderr io.Writer) ([]byte, error) {
	fmt.Fprint(stderr, "Password: ")
	a, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return nil, err
	}
	fmt.Fprint(stderr, "Again: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	if !bytes.Equal(a, b) {
		clear(a)
		return nil, errors.New("the passwords differ")
	}
	return a, nil
}

// readLine reads the password from the first line of r.
func readLine(r io.Reader) ([]byte, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 {
		return nil, errors.New("no password on stdin")
	}
	return line, nil
}
