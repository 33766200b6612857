// Package passwd checks user names and passwords: the users of the
// configuration (auth.users, StaticUsers) and of password files
// (FileAuth, a backend of type password_file, reloaded when the file
// changes), both through a Verifier whose hashes run in the hash pool
// (auth.HashPool). It owns the password hash formats (argon2id in PHC
// format, bcrypt) and the password file format, with the functions
// `edgemq passwd` uses to write them (HashPassword, BcryptPassword,
// SetPassword, SetPasswordEntries).
//
// It may import mqtt, configs, gateway/auth, gateway/filewatch,
// gateway/logsafe and gateway/internal/lockorder.
//
// Lock class: passwordFileAuth.mu (FileAuth's reloads; the file's watcher
// is polled before it is taken).
package passwd
