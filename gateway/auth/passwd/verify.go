package passwd

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"edgemq/gateway/auth"

	"go.uber.org/zap"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// bcryptMaxPassword is the longest password bcrypt reads: it ignores
// every byte after the 72nd, so two passwords sharing their first 72
// bytes have the same hash.
const bcryptMaxPassword = 72

// bcryptMemory is what a bcrypt verification is charged in the hash
// pool: its Blowfish state (4 KiB of S-boxes and the key schedule) with
// room to spare.
const bcryptMemory = 16 << 10

// Verifier checks CONNECT passwords against the stored hashes of
// auth.users and the password files: the hashes are computed in its pool
// (auth.HashPool). It is safe for concurrent use.
type Verifier struct {
	pool *auth.HashPool
	log  *zap.Logger
}

// NewVerifier returns a verifier whose hashes run in pool (nil: on the
// calling goroutine, at once); log gets the warnings of bcrypt entries.
func NewVerifier(pool *auth.HashPool, log *zap.Logger) *Verifier {
	return &Verifier{pool: pool, log: log}
}

// check reports whether password matches hash (see CheckPassword). It
// waits for the pool until ctx ends, and then returns an error carrying
// 0x89 Server busy.
func (v *Verifier) check(ctx context.Context, hash string, password []byte) (bool, error) {
	return checkPassword(ctx, v.pool, hash, password)
}

// warnBcrypt warns, once per load of source (auth.users or a password
// file), that its bcrypt entries ignore what follows the 72nd byte of a
// password, and that longer passwords are therefore refused.
func (v *Verifier) warnBcrypt(source string, users []string) {
	if len(users) == 0 {
		return
	}
	const shown = 10
	v.log.Warn("bcrypt password entries: passwords over 72 bytes are refused; re-hash with edgemq passwd (argon2id)",
		zap.String("source", source), zap.Int("entries", len(users)), zap.Strings("usernames", users[:min(len(users), shown)]))
}

// isBcrypt reports whether hash is a bcrypt hash ($2a$, $2b$, $2y$).
func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

// checkPassword is CheckPassword with the hash computed in pool (nil:
// on the calling goroutine, at once).
func checkPassword(ctx context.Context, pool *auth.HashPool, hash string, password []byte) (bool, error) {
	run := func(mem int64, f func()) error {
		if pool == nil {
			f()
			return nil
		}
		return pool.Run(ctx, mem, f)
	}
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		p, err := parseArgon2id(hash)
		if err != nil {
			return false, err
		}
		var key []byte
		if err := run(int64(p.memory)<<10, func() {
			key = argon2.IDKey(password, p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
		}); err != nil {
			return false, err
		}
		return subtle.ConstantTimeCompare(key, p.key) == 1, nil
	case isBcrypt(hash):
		if len(password) > bcryptMaxPassword {
			// bcrypt would compare the first 72 bytes only: a long
			// password sharing them with the right one would match.
			return false, nil
		}
		var err error
		if perr := run(bcryptMemory, func() {
			err = bcrypt.CompareHashAndPassword([]byte(hash), password)
		}); perr != nil {
			return false, perr
		}
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	}
	return false, errors.New("unknown hash format: want $argon2id$ or bcrypt")
}

// ErrBcryptTooLong refuses a password bcrypt would not read whole: it
// ignores every byte after the 72nd.
var ErrBcryptTooLong = fmt.Errorf("password longer than %d bytes: bcrypt ignores the rest (use argon2id)", bcryptMaxPassword)

// BcryptPassword returns a bcrypt hash (cost 10) of password, for
// auth.users and the password files of tools that read only bcrypt. A
// password over 72 bytes is refused with ErrBcryptTooLong.
func BcryptPassword(password []byte) (string, error) {
	if len(password) == 0 {
		return "", errors.New("empty password")
	}
	if len(password) > bcryptMaxPassword {
		return "", ErrBcryptTooLong
	}
	h, err := bcrypt.GenerateFromPassword(password, bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hashing with bcrypt: %w", err)
	}
	return string(h), nil
}
