// Package zxcvbn is a copy of github.com/trustelem/zxcvbn v1.0.1 (MIT
// licence, LICENSE.txt), the Go port of Dropbox's zxcvbn password strength
// estimator, for internal/password only.
//
// It is copied rather than imported for one change: upstream builds its
// ranked dictionaries (about 10 MB, 50-90 ms of CPU) in package
// initialisation, so every firebreak command paid for them at start, also
// those that never check a password (detect, assess, validate). Here the
// frequency lists (frequency.Lists) and the ranked dictionaries are built on
// first use. Unused code (crack-time display) was dropped and the files
// gofmt'ed; the matching and scoring logic is unchanged.
package zxcvbn
