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
	"strings"

	"golang.org/x/term"
)

// maxStdinPassword is the longest password read from stdin; a longer
// line is refused, never cut.
const maxStdinPassword = 4096

const passwdUsage = `Usage: edgemq passwd [-bcrypt] FILE USER          add or update USER
       edgemq passwd -b [-bcrypt] FILE USER PASSWORD  the same, PASSWORD given
       edgemq passwd -D FILE USER                     delete USER
       edgemq passwd -l FILE                          list the users
       edgemq passwd --hash [-b PASSWORD]             print a hash for auth.users

Adds or updates USER in the password file FILE (argon2id; bcrypt with
-bcrypt), which the password_file backend reads. The password is asked
twice on a terminal, else read as one line from stdin; -b takes it from
the command line instead (batch use: other users of the machine may see
it in the process list). -D removes every entry of USER, SCRAM entries
included. -l prints each user with the kinds of its entries, not the
hashes. --hash prints a bcrypt hash to paste as an auth.users
password_hash in the configuration.
Exit status: 0 done, 1 failed (a user -D does not find included), 2 bad usage.

`

// passwdMode is what one run of edgemq passwd does.
type passwdMode int

const (
	passwdSet passwdMode = iota
	passwdDelete
	passwdList
	passwdHash
)

// runPasswd is `edgemq passwd` (passwdUsage). It returns the exit status.
func runPasswd(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("edgemq passwd", flag.ContinueOnError)
	flags.SetOutput(stderr)
	useBcrypt := flags.Bool("bcrypt", false, "a bcrypt hash (cost 10) instead of argon2id: passwords over 72 bytes are refused")
	batch := flags.Bool("b", false, "take the password from the command line")
	del := flags.Bool("D", false, "delete USER from FILE")
	list := flags.Bool("l", false, "list the users of FILE")
	hash := flags.Bool("hash", false, "print a bcrypt hash for auth.users[].password_hash")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), passwdUsage)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	mode, nargs, err := passwdModeOf(*del, *list, *hash, *batch, *useBcrypt)
	if err == nil && flags.NArg() != nargs {
		err = fmt.Errorf("want %d arguments, got %d", nargs, flags.NArg())
	}
	if err != nil {
		fmt.Fprintf(stderr, "edgemq passwd: %v\n", err)
		flags.Usage()
		return 2
	}
	a := flags.Args()
	switch mode {
	case passwdDelete:
		err = deleteUser(a[0], a[1], stdout)
	case passwdList:
		err = listUsers(a[0], stdout)
	case passwdHash:
		err = withPassword(stdin, stderr, *batch, a, func(pw []byte) error {
			h, err := passwd.BcryptPassword(pw)
			if err == nil {
				_, err = fmt.Fprintln(stdout, h)
			}
			return err
		})
	default:
		err = withPassword(stdin, stderr, *batch, a[2:], func(pw []byte) error {
			return storePassword(a[0], a[1], pw, *useBcrypt)
		})
	}
	if err != nil {
		fmt.Fprintf(stderr, "edgemq passwd: %v\n", err)
		return 1
	}
	return 0
}

// passwdModeOf checks the flags and returns the mode with the number of
// arguments it takes.
func passwdModeOf(del, list, hash, batch, useBcrypt bool) (passwdMode, int, error) {
	n := 0
	for _, b := range []bool{del, list, hash} {
		if b {
			n++
		}
	}
	switch {
	case n > 1:
		return 0, 0, errors.New("-D, -l and --hash go alone")
	case (del || list) && (batch || useBcrypt):
		return 0, 0, errors.New("-b and -bcrypt are for setting a password")
	case del:
		return passwdDelete, 2, nil
	case list:
		return passwdList, 1, nil
	case hash && batch:
		return passwdHash, 1, nil
	case hash:
		return passwdHash, 0, nil
	case batch:
		return passwdSet, 3, nil
	}
	return passwdSet, 2, nil
}

// withPassword runs use with the password: given (the -b argument), else
// asked twice on a terminal, else the first line of stdin. It is cleared
// afterwards.
func withPassword(stdin *os.File, stderr io.Writer, batch bool, given []string, use func([]byte) error) error {
	var pw []byte
	var err error
	switch {
	case batch:
		if given[0] == "" {
			return errors.New("empty password")
		}
		pw = []byte(given[0])
	case term.IsTerminal(int(stdin.Fd())):
		pw, err = promptTwice(int(stdin.Fd()), stderr)
	default:
		pw, err = readLine(stdin)
	}
	if err != nil {
		return err
	}
	defer clear(pw)
	return use(pw)
}

// deleteUser removes user from file; a user not there is an error.
func deleteUser(file, user string, stdout io.Writer) error {
	found, err := passwd.DeletePasswordUser(file, user)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s has no user %q", file, user)
	}
	_, err = fmt.Fprintf(stdout, "deleted %s from %s\n", user, file)
	return err
}

// listUsers prints "user<TAB>kinds" lines, in file order.
func listUsers(file string, stdout io.Writer) error {
	users, err := passwd.ListPasswordUsers(file)
	if err != nil {
		return err
	}
	for _, u := range users {
		if _, err := fmt.Fprintf(stdout, "%s\t%s\n", u.Name, strings.Join(u.Kinds, ",")); err != nil {
			return err
		}
	}
	return nil
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
