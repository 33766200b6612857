package configs

import "net"

// Admin configures the admin API: JSON over HTTP on a listener of its
// own, every request authenticated with a bearer token.
type Admin struct {
	// Address is the host:port of the admin listener; empty disables it.
	// A non-loopback address is allowed (and logged at warn).
	Address string `yaml:"address"`
	// Token is the bearer token every request must carry. Exactly one of
	// Token and TokenFile is required when Address is set.
	Token string `yaml:"token"`
	// TokenFile is a file holding the token (read at start, surrounding
	// white space trimmed, must not be empty).
	TokenFile string `yaml:"token_file"`
}

// validateAdmin checks that admin.address, when set, is host:port and
// comes with exactly one of admin.token and admin.token_file.
func (c *Config) validateAdmin(ps *problems) {
	a := c.Admin
	if a.Address == "" {
		return
	}
	if _, port, err := net.SplitHostPort(a.Address); err != nil || port == "" {
		ps.add("admin.address", "%q is not host:port", a.Address)
	}
	switch {
	case a.Token == "" && a.TokenFile == "":
		ps.add("admin.token", "one of token and token_file is required with admin.address")
	case a.Token != "" && a.TokenFile != "":
		ps.add("admin.token", "set token or token_file, not both")
	}
}
