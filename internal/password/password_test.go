package password

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, pw string
		inputs   []string
		want     string // substring of the reason; "" means accepted
	}{
		{"short", "Tr0ub4dor&3", nil, "at least 12"},
		{"repeated", "aaaaaaaaaaaa", nil, "repeated"},
		{"sequence", "123456789012", nil, ""}, // on the list or a sequence: refused either way
		{"common-long", "qwertyuiopasdfgh", nil, ""},
		{"list", "1qaz2wsx3edc", nil, ""},
		{"list-case", "BASEBALLBASEBALL", nil, ""},
		{"username", "kim.operator2026", []string{"kim.operator"}, ""},
		{"product", "firebreak123!", nil, ""},
		{"too-long", strings.Repeat("x", MaxLen+1), nil, "longer than"},
		{"invalid-utf8", "abcdefghijkl\xff", nil, "UTF-8"},
		{"xkcd-phrase", "correcthorsebatterystaple", nil, "breached"},
		{"xkcd-phrase-spaced", "Correct Horse Battery Staple!", nil, "breached"},
		{"season-year", "Summer2024!!", nil, "Summer2024"},
		{"season-year-sep", "winter-2025#!", nil, "Summer2024"},
		{"month-year", "September2026", nil, "Summer2024"},
		{"welcome", "Welcome2024!!", nil, ""},
		{"welcome-short", "Welcome1!", nil, "at least 12"},
		{"password-year", "Password2024", nil, ""},
		{"company-year", "CompanyName2024!", nil, "Summer2024"},
		{"own-company-year", "Contoso2024!!", []string{"kim@contoso.example"}, "Summer2024"},
		{"word-then-words", "summer2024 velvet harbour lamps", nil, "ok"},
		{"passphrase", "velvet harbour quietly ninety lamps", nil, "ok"},
		{"random", "q7Vr-2mXw-Lp9e", nil, "ok"},
		{"long-random-tail", "velvet harbour quietly ninety lamps " + strings.Repeat("z", 200), nil, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.pw, tc.inputs...)
			if tc.want == "ok" {
				if err != nil {
					t.Fatalf("Check = %v, want accepted", err)
				}
				return
			}
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("Check = %v, want a refusal", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %q, want it to say %q", err, tc.want)
			}
			if len(tc.pw) < 200 && strings.Contains(err.Error(), tc.pw) {
				t.Errorf("refusal %q repeats the password", err)
			}
		})
	}
}

func TestCommonList(t *testing.T) {
	if len(common()) < 20000 {
		t.Fatalf("bundled list has %d entries, want the full frequency list", len(common()))
	}
	for _, pw := range []string{"password", "PASSWORD", "trustno1", "1qaz2wsx"} {
		if !Common(pw) {
			t.Errorf("Common(%q) = false", pw)
		}
	}
	if Common("velvet harbour quietly ninety lamps") {
		t.Error("a passphrase is on the list")
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"aaaaaaaaaaaa", "velvet harbour quietly ninety lamps", "1qaz2wsx3edc", "\xff\xfe", strings.Repeat("ab", 600)} {
		f.Add(s, "kim")
	}
	f.Fuzz(func(t *testing.T, pw, user string) {
		err := Check(pw, user)
		if err != nil && !errors.Is(err, ErrRejected) {
			t.Fatalf("Check = %v, not a refusal", err)
		}
		if err == nil && (len(pw) > MaxLen || Common(pw)) {
			t.Fatalf("Check accepted a password it must refuse")
		}
	})
}
