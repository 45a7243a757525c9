// Package password decides whether a password a person chose may be used
// (NIST SP 800-63B 3.1.1.2): long enough, not on the bundled list of common
// and breached passwords, and not guessable from a repeated, sequential,
// keyboard or dictionary pattern or from the account's own name. It is
// imported by the server's account handlers; it holds no state.
package password

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/firebreak-msp/firebreak/internal/password/zxcvbn"
	"github.com/firebreak-msp/firebreak/internal/password/zxcvbn/frequency"
)

const (
	// MinLen is the fewest characters (runes) a chosen password may have.
	MinLen = 12
	// MaxLen is the most bytes a password may have (argon2 input stays cheap).
	MaxLen = 1024
	// minScore is the zxcvbn score (0-4) a password must reach: 3 is
	// "safely unguessable", about 10^8 guesses or more under an online
	// attack with rate limits (zxcvbn's guesses_log10 >= 8).
	minScore = 3
	// scoreRunes is how much of a password the guessability estimate
	// reads: its pattern search grows faster than linearly with length,
	// and a password that reaches the score within this prefix is not made
	// weaker by what follows it.
	scoreRunes = 64
)

// ErrRejected is wrapped by every refusal; errors.Is(err, ErrRejected)
// tells a refused password from other failures.
var ErrRejected = errors.New("password refused")

// RejectedError says why a password was refused, in words fit for the
// person who typed it (the password itself is never repeated).
type RejectedError struct{ Reason string }

func (e *RejectedError) Error() string { return "password refused: " + e.Reason }

// Unwrap makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Unwrap() error { return ErrRejected }

// common is the bundled list: the "passwords" frequency list of zxcvbn
// (the most frequent passwords of Xato's corpus of 10 million breached
// credentials), lower-cased, as a set.
// It is built on first use, not at program start: every command links
// this package, few check a password.
var common = sync.OnceValue(func() map[string]struct{} {
	list := frequency.Lists()["passwords"]
	m := make(map[string]struct{}, len(list))
	for _, p := range list {
		m[strings.ToLower(p)] = struct{}{}
	}
	return m
})

// Common reports whether pw, ignoring case, is on the bundled list.
func Common(pw string) bool {
	_, ok := common()[strings.ToLower(pw)]
	return ok
}

// phrases are breached passphrases too long for zxcvbn's list (which
// holds passwords up to about 10 characters), written in letters only.
var phrases = map[string]bool{
	"correcthorsebatterystaple": true, "iloveyoutomoonandback": true, "iloveyoutothemoonandback": true,
	"thequickbrownfoxjumpsoverthelazydog": true, "thequickbrownfox": true, "letmeinplease": true,
	"passwordpassword": true, "changemeplease": true, "iloveyouforever": true, "iloveyouiloveyou": true,
	"trustnoonetrustno": true, "welcometothejungle": true, "maytheforcebewithyou": true,
	"opensesame": true, "mypasswordis": true, "thisismypassword": true, "whatisthepassword": true,
	"qwertyuiopasdfghjkl": true, "administrator": true, "nopassword": true, "mysecretpassword": true,
	"supersecretpassword": true, "donttellanyone": true, "helloworld": true,
}

// breachedPhrase reports whether pw, in letters only and ignoring case,
// digits, spaces and symbols, is a well-known breached passphrase.
func breachedPhrase(pw string) bool {
	return phrases[letters(pw)]
}

func letters(pw string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(pw) {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// companyWords are the bases of the company-password pattern (a season,
// a month, a welcome word or the company's name, then a year and symbols),
// on top of the bundled list.
var companyWords = map[string]bool{
	"spring": true, "summer": true, "autumn": true, "fall": true, "winter": true,
	"january": true, "february": true, "march": true, "april": true, "may": true, "june": true, "july": true,
	"august": true, "september": true, "october": true, "november": true, "december": true,
	"jan": true, "feb": true, "mar": true, "apr": true, "jun": true, "jul": true, "aug": true, "sep": true,
	"sept": true, "oct": true, "nov": true, "dec": true,
	"welcome": true, "password": true, "passw": true, "changeme": true, "letmein": true, "admin": true,
	"company": true, "companyname": true, "firebreak": true, "secret": true, "monday": true, "friday": true,
}

// wordAndNumber reports the company-password pattern: one common word
// (the bundled list, a season or month, welcome, the company's or the
// user's name) followed by nothing but digits and symbols, such as
// Summer2024!!, Password2024 or CompanyName2024!.
func wordAndNumber(pw string, userInputs []string) bool {
	lw := strings.ToLower(pw)
	i := strings.IndexFunc(lw, func(r rune) bool { return r < 'a' || r > 'z' })
	if i <= 0 {
		return false
	}
	word, rest := lw[:i], lw[i:]
	if strings.IndexFunc(rest, func(r rune) bool { return r >= 'a' && r <= 'z' }) >= 0 {
		return false // more words follow
	}
	if companyWords[word] || Common(word) {
		return true
	}
	for _, in := range userInputs {
		for _, part := range strings.FieldsFunc(strings.ToLower(in), func(r rune) bool { return strings.ContainsRune("@._-+ ", r) }) {
			if part == word {
				return true
			}
		}
	}
	return false
}

// Check returns nil when pw may be chosen, or a *RejectedError saying why
// not. userInputs are words the password must not be built from: the
// username, the e-mail address, the product's name.
func Check(pw string, userInputs ...string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return &RejectedError{Reason: "it is not valid UTF-8 text"}
	case len(pw) > MaxLen:
		return &RejectedError{Reason: fmt.Sprintf("it is longer than %d bytes", MaxLen)}
	case n < MinLen:
		return &RejectedError{Reason: fmt.Sprintf("it must be at least %d characters", MinLen)}
	case Common(pw) || breachedPhrase(pw):
		return &RejectedError{Reason: "it is on a list of common and breached passwords"}
	case wordAndNumber(pw, userInputs):
		return &RejectedError{Reason: "it is a common word, season, month or name followed by digits or symbols (like Summer2024!)"}
	}
	head := pw
	if n > scoreRunes {
		head = string([]rune(pw)[:scoreRunes])
	}
	inputs := []string{"firebreak"}
	for _, in := range userInputs {
		inputs = append(inputs, strings.ToLower(in))
		// The parts of an e-mail address or dotted name count on their own.
		inputs = append(inputs, strings.FieldsFunc(strings.ToLower(in), func(r rune) bool { return strings.ContainsRune("@._-+ ", r) })...)
	}
	res := zxcvbn.PasswordStrength(head, inputs)
	if res.Score >= minScore {
		return nil
	}
	return &RejectedError{Reason: "it is easy to guess: " + weakness(res)}
}

// weakness names the patterns that made the estimate low.
func weakness(res zxcvbn.Result) string {
	var why []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			why = append(why, s)
		}
	}
	for _, m := range res.Sequence {
		switch m.Pattern {
		case "repeat":
			add("repeated characters or words")
		case "sequence":
			add("a sequence such as abc or 123")
		case "spatial":
			add("a keyboard pattern such as qwerty")
		case "date":
			add("a date")
		case "dictionary":
			switch m.DictionaryName {
			case "user_inputs":
				add("your user name or the product's name")
			case "passwords":
				add("a common password")
			default:
				add("common words or names")
			}
		}
	}
	if len(why) == 0 {
		return "use a longer passphrase of unrelated words"
	}
	return strings.Join(why, ", ") + "; use a longer passphrase of unrelated words"
}
