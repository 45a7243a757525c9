package auth

import (
	"testing"
	"time"
)

func TestTOTPRFC6238(t *testing.T) {
	// RFC 6238 appendix B, SHA-1 key "12345678901234567890", truncated to 6 digits.
	secret := b32.EncodeToString([]byte("12345678901234567890"))
	for _, tc := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		got, err := TOTPCode(secret, time.Unix(tc.unix, 0))
		if err != nil || got != tc.want {
			t.Errorf("TOTP at %d = %s, %v; want %s", tc.unix, got, err, tc.want)
		}
	}
	now := time.Unix(1111111109, 0)
	step, ok := VerifyTOTP(secret, "081804", now, 0)
	if !ok {
		t.Fatal("valid code refused")
	}
	if _, ok := VerifyTOTP(secret, "081804", now, step); ok {
		t.Error("replayed code accepted")
	}
	if _, ok := VerifyTOTP(secret, "000000", now, 0); ok {
		t.Error("wrong code accepted")
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPasswordParams("correct horse", ArgonParams{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := CheckPassword(h, "correct horse"); !ok || err != nil {
		t.Errorf("right password: %v %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "wrong"); ok {
		t.Error("wrong password accepted")
	}
	if _, err := CheckPassword("$2a$bcrypt", "x"); err == nil {
		t.Error("malformed hash accepted")
	}
	if ok, err := CheckPassword(DummyHash(), "x"); ok || err != nil {
		t.Errorf("dummy hash: %v %v", ok, err)
	}
}
