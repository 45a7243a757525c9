// Package mathutils is part of the copy of github.com/trustelem/zxcvbn v1.0.1
// (MIT, LICENSE.txt) that internal/password uses; see the zxcvbn package.
package mathutils
