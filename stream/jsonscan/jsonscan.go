// Package jsonscan holds the primitives of segstream's reflection-free JSON fast paths: the
// event decoder in stream and the features-record decoder in the scorer. They read the common,
// plain shape of a document (no escapes, no nulls) and report false on anything else, so the
// caller falls back to encoding/json, which stays the authority on what is valid.
package jsonscan

import (
	"strconv"
	"unsafe"
)

// Scanner reads B from I.
type Scanner struct {
	B []byte
	I int
}

// WS skips white space. Machine-written JSON has none, so the first test usually ends it.
func (p *Scanner) WS() {
	if p.I < len(p.B) && p.B[p.I] > ' ' {
		return
	}
	i := p.I
	for i < len(p.B) {
		switch p.B[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	p.I = i
}

// Peek reports whether the next non-space byte is c, without consuming it.
func (p *Scanner) Peek(c byte) bool {
	p.WS()
	return p.I < len(p.B) && p.B[p.I] == c
}

// Expect consumes c if it is the next non-space byte.
func (p *Scanner) Expect(c byte) bool {
	if p.Peek(c) {
		p.I++
		return true
	}
	return false
}

// Done reports whether only white space is left.
func (p *Scanner) Done() bool {
	p.WS()
	return p.I == len(p.B)
}

// Str reads a string without escapes or control characters.
func (p *Scanner) Str() (string, bool) {
	b, ok := p.StrBytes()
	if !ok {
		return "", false
	}
	return string(b), true
}

// StrBytes reads a string like Str and returns its bytes, which alias B.
func (p *Scanner) StrBytes() ([]byte, bool) {
	if !p.Expect('"') {
		return nil, false
	}
	// The index lives in a local: through p it would be stored back on every byte.
	b, start := p.B, p.I
	for i := start; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			p.I = i + 1
			return b[start:i:i], true
		}
		if c == '\\' || c < 0x20 {
			return nil, false
		}
	}
	return nil, false
}

// View is b as a string without copying: it must not outlive b's contents, nor be kept.
func View(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// NumText reads a number in strict JSON grammar, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?,
// and returns its text; strconv alone would also take "+1", "0x10" or "Inf".
func (p *Scanner) NumText() ([]byte, bool) {
	p.WS()
	b, start := p.B, p.I
	i := start
	digits := func() int {
		n := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	p.I = i
	return b[start:i], true
}

func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Float reads a number; out of range is false (encoding/json then says why).
func (p *Scanner) Float() (float64, bool) {
	t, ok := p.NumText()
	if !ok {
		return 0, false
	}
	if v, ok := exactDecimal(t); ok {
		return v, true
	}
	v, err := strconv.ParseFloat(str(t), 64)
	return v, err == nil
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// exactDecimal converts the text of a number NumText accepted when it has no exponent and at
// most 15 digits, the shape of prices and quantities: the digits as an integer and the power of
// ten are then both exact float64s, so their quotient is the correctly rounded value, the one
// strconv.ParseFloat returns (its own first fast path, without its general parsing around it).
func exactDecimal(t []byte) (float64, bool) {
	neg := len(t) > 0 && t[0] == '-'
	if neg {
		t = t[1:]
	}
	var m uint64
	digits, frac := 0, -1
	for _, c := range t {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.':
			frac = 0
		default:
			return 0, false // an exponent
		}
	}
	if digits > 15 {
		return 0, false
	}
	v := float64(m)
	if frac > 0 {
		v /= pow10[frac]
	}
	if neg {
		v = -v
	}
	return v, true
}

// Int reads an integer.
func (p *Scanner) Int() (int64, bool) {
	t, ok := p.NumText() // when not ok, t is empty and ParseInt fails too
	v, err := strconv.ParseInt(str(t), 10, 64)
	return v, ok && err == nil
}

// Uint reads a non-negative integer.
func (p *Scanner) Uint() (uint64, bool) {
	t, ok := p.NumText() // when not ok, t is empty and ParseUint fails too
	v, err := strconv.ParseUint(str(t), 10, 64)
	return v, ok && err == nil
}

// Bool reads true or false.
func (p *Scanner) Bool() (bool, bool) {
	p.WS()
	switch {
	case len(p.B)-p.I >= 4 && string(p.B[p.I:p.I+4]) == "true":
		p.I += 4
		return true, true
	case len(p.B)-p.I >= 5 && string(p.B[p.I:p.I+5]) == "false":
		p.I += 5
		return false, true
	}
	return false, false
}

// ObjectView calls field for every key of an object, each key a View of B (field must copy a
// key it keeps); field reads the value.
func (p *Scanner) ObjectView(field func(key string) bool) bool {
	if !p.Expect('{') {
		return false
	}
	if p.Expect('}') {
		return true
	}
	for {
		k, ok := p.StrBytes()
		if !ok || !p.Expect(':') || !field(View(k)) {
			return false
		}
		if p.Expect(',') {
			continue
		}
		return p.Expect('}')
	}
}

const hexDigits = "0123456789abcdef"

// AppendString quotes s for JSON as encoding/json does for valid UTF-8 without U+2028/U+2029
// (strconv.AppendQuote's \x escapes are not JSON): quotes, backslashes, control characters and
// <, >, & are escaped.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
