package main

import (
	"bufio"
	"bytes"
	"edgemq/gateway/auth/passwd"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// maxStdinPassword is the longest password read from stdin; a longer
// line is refused, never cut.
const maxStdinPassword = 4096

// runPasswd is `edgemq passwd [-bcrypt] FILE USER`: it adds or updates
// USER's entry in the password file FILE with an argon2id hash, or with
// -bcrypt a bcrypt hash (a password over 72 bytes is refused: bcrypt
// ignores the rest). On a terminal the password is asked twice without echo;
// otherwise one line is read from stdin (its line ending removed; a line
// over 4096 bytes is refused).
func runPasswd(args []string, stdin *os.File, stderr io.Writer) int {
	flags := flag.NewFlagSet("edgemq passwd", flag.ContinueOnError)
	flags.SetOutput(stderr)
	useBcrypt := flags.Bool("bcrypt", false, "a bcrypt hash (cost 10) instead of argon2id: passwords over 72 bytes are refused")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: edgemq passwd [-bcrypt] FILE USER\n\nAdds or updates USER in the password file FILE (argon2id).\n"+
			"Asks for the password twice on a terminal, else reads one line from stdin.\n\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if flags.NArg() != 2 {
		flags.Usage()
		return 2
	}
	file, user := flags.Arg(0), flags.Arg(1)
	var pw []byte
	var err error
	if fd := int(stdin.Fd()); term.IsTerminal(fd) {
		pw, err = promptTwice(fd, stderr)
	} else {
		pw, err = readLine(stdin)
	}
	if err == nil {
		err = storePassword(file, user, pw, *useBcrypt)
	}
	clear(pw)
	if err != nil {
		fmt.Fprintf(stderr, "edgemq passwd: %v\n", err)
		return 1
	}
	return 0
}

// storePassword writes user's entry to file.
func storePassword(file, user string, pw []byte, useBcrypt bool) error {
	if !useBcrypt {
		return passwd.SetPassword(file, user, pw)
	}
	hash, err := passwd.BcryptPassword(pw)
	if err != nil {
		return err
	}
	return passwd.SetPasswordEntries(file, user, hash)
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

// readLine reads the password from the first line of r. A line longer
// than maxStdinPassword bytes is an error: cutting it would store a
// password other than the one given.
func readLine(r io.Reader) ([]byte, error) {
	// Up to the password, a line ending (\r\n) and one byte more, which
	// only a line too long reaches.
	line, err := bufio.NewReader(io.LimitReader(r, maxStdinPassword+3)).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) > maxStdinPassword {
		clear(line)
		return nil, fmt.Errorf("the password on stdin is longer than %d bytes: refused, not cut", maxStdinPassword)
	}
	if len(line) == 0 {
		return nil, errors.New("no password on stdin")
	}
	return line, nil
}
