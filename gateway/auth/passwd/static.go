package passwd

import (
	"context"

	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/mqtt"
)

// StaticUsers authenticates the users listed in the configuration
// (auth.users). It is immutable once built and safe for concurrent use.
type StaticUsers struct {
	hashes map[string]string
	verify *Verifier
}

// NewStaticUsers builds the users of auth.users, warning (through
// verify) that their bcrypt hashes refuse passwords over 72 bytes.
func NewStaticUsers(users []configs.User, verify *Verifier) *StaticUsers {
	s := &StaticUsers{hashes: make(map[string]string, len(users)), verify: verify}
	names := make([]string, 0, len(users))
	for _, u := range users {
		s.hashes[u.Username] = u.PasswordHash
		names = append(names, u.Username)
	}
	verify.warnBcrypt("auth.users", names) // all of them are bcrypt (configs)
	return s
}

// Authenticate checks the password of a listed user; other clients are
// not its business. A listed user whose name came from a verified client
// certificate (client_auth.identity_as: username) and who sends no
// password is let in: the certificate stands for the password. The hash
// waits for the hash pool until ctx ends (then 0x89 Server busy).
func (s *StaticUsers) Authenticate(ctx context.Context, c auth.ConnInfo) error {
	if !c.HasUsername() {
		return auth.ErrNotMine
	}
	hash, ok := s.hashes[c.Username()]
	if !ok {
		return auth.ErrNotMine
	}
	if auth.CertAsUser(c) && !c.HasPassword() {
		return nil
	}
	match, err := s.verify.check(ctx, hash, c.Password())
	if mqtt.CodeOf(err) == mqtt.ServerBusy {
		return err
	}
	if !match {
		return mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "wrong password for user %q", c.Username())
	}
	return nil
}
